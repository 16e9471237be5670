"""Secrets out of logs and dead letters: known secret shapes and configured secret values.

Two sources of what to mask:

- *shapes* that are secrets wherever they appear (``schemas.text_rules.SECRET_SHAPES``:
  provider keys ``sk-...``, ``sk-ant-...``, ``AIza...``, ``AKIA...``, Slack tokens
  ``xoxb-...``, ``xapp-...`` and webhook URLs), and the value of an
  ``Authorization: Bearer`` header;
- *configured values*: every environment variable whose name says it holds a secret
  (``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``, ``*ROUTING_KEY*``, ``*API_KEY*``,
  ``*WEBHOOK*``; a ``name=value,...`` list counts value by value), and raw tokens read
  from tokens files. PagerDuty routing keys have no distinctive shape, so they are
  masked as configured values.

``install_log_redaction()`` wraps the logging record factory, so every record of every
logger (ours, Faust's, aiokafka's, aiohttp's) is masked once, before any handler or
formatter sees it, exception text included. ``SECRETS.redact_bytes`` masks a dead-letter
record's copy of the original input.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from typing import Any

from schemas.text_rules import SECRET_SHAPES

MASK = "[REDACTED]"
MIN_SECRET_LENGTH = 8
"""Shorter configured values are not masked: they would mask ordinary words."""

_SHAPES = (
    *(pattern for _, pattern in SECRET_SHAPES),
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=\-]{8,}",
)
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|ROUTING_KEY|API_KEY|WEBHOOK", re.I)
_NOT_VALUES = ("_FILE", "_PATH", "_DIR")
"""Variables that name where a secret is, not the secret."""


class SecretRegistry:
    """The shapes plus the configured secret values of this process."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._text: re.Pattern[str] = re.compile("|".join(_SHAPES))
        self._bytes: re.Pattern[bytes] = re.compile("|".join(_SHAPES).encode())

    def add(self, value: str) -> None:
        """Mask ``value`` from now on (ignored when shorter than ``MIN_SECRET_LENGTH``)."""
        value = value.strip()
        if len(value) < MIN_SECRET_LENGTH or value in self._values:
            return
        with self._lock:
            self._values.add(value)
            # Longest first, so a value that contains another is masked whole.
            literal = [re.escape(v) for v in sorted(self._values, key=len, reverse=True)]
            pattern = "|".join([*literal, *_SHAPES])
            self._text = re.compile(pattern)
            self._bytes = re.compile(pattern.encode())

    def add_from_environment(self, environ: dict[str, str] | None = None) -> None:
        """Every value of a variable whose name says it is a secret."""
        env = os.environ if environ is None else environ
        for name, value in env.items():
            if not _SECRET_NAME.search(name) or name.upper().endswith(_NOT_VALUES):
                continue
            for part in value.split(","):
                self.add(part.split("=", 1)[1] if "=" in part else part)
                self.add(part)

    def redact(self, text: str) -> str:
        return self._text.sub(MASK, text)

    def redact_bytes(self, raw: bytes) -> bytes:
        return self._bytes.sub(MASK.encode(), raw)

    def contains_secret(self, text: str) -> bool:
        return self._text.search(text) is not None


SECRETS = SecretRegistry()
"""The process-wide registry: tokens files and the environment add to it."""

_STATE = {"installed": False}


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str):
        return SECRETS.redact(value)
    if isinstance(value, (bytes, bytearray)):
        return SECRETS.redact_bytes(bytes(value))
    return value


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call; keep what logging itself would show
        message = f"{record.msg!r} {record.args!r}"
    record.msg = SECRETS.redact(message)
    record.args = ()  # formatters such as mode's wrap a non-tuple into a 1-tuple
    if record.exc_info and record.exc_info[1] is not None:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text = SECRETS.redact(text)
        record.exc_info = None
    if record.stack_info:
        record.stack_info = SECRETS.redact(record.stack_info)
    for name in ("token", "authorization", "body"):
        if name in record.__dict__:
            record.__dict__[name] = _redacted_value(record.__dict__[name])


def install_log_redaction(environ: dict[str, str] | None = None) -> None:
    """Mask secrets in every log record this process creates from now on (idempotent)."""
    SECRETS.add_from_environment(environ)
    if _STATE["installed"]:
        return
    make_record = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(factory)
    _STATE["installed"] = True
