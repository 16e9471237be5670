"""Logging for worker processes: text for people, or one JSON object per line for shippers."""

from __future__ import annotations

from typing import Any

JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"


def logging_config(log_format: str, level: str) -> dict[str, Any] | None:
    """A ``logging.config.dictConfig`` for JSON lines on stdout; None keeps Faust's text logs.

    >>> logging_config("json", "info")["root"]
    {'level': 'INFO', 'handlers': ['default']}
    >>> logging_config("text", "info") is None
    True
    """
    if log_format != "json":
        return None
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
                "level": upper,
            }
        },
        "root": {"level": upper, "handlers": ["default"]},
    }
