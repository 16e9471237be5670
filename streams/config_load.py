"""Read ``spendwatch.yaml``: parse, refuse inline secrets, validate, fingerprint.

Every problem found is reported at once, each with its path (``ConfigError``). Secrets
never appear in a config file: receivers name them as ``${ENV_VAR}`` or ``file:PATH``,
the ingest reads tokens from ``tokens_file``. A value that looks like a secret (a Slack
``xox*`` token or webhook URL, a 32-character PagerDuty key, an ``sk-...`` provider key)
is an error that names its path and never repeats the value.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from streams.config_errors import ConfigError, ConfigProblem, problems_from
from streams.config_file import SpendwatchConfig
from streams.config_sections import AlertingSections, check_alerting, check_detectors

_SECRET_SHAPES = (
    (re.compile(r"\bxox[abeoprs]-[A-Za-z0-9-]{6,}"), "a Slack token"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"), "a Slack app token"),
    (re.compile(r"hooks\.slack\.com/services/\S+"), "a Slack webhook URL"),
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), "a provider API key (sk-...)"),
    (re.compile(r"^(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32}$"), "a PagerDuty key"),
)
_SECRET_KEYS = frozenset(
    {"token", "routing_key", "webhook_url", "secret", "password", "api_key", "integration_key"}
)
MASK = "**********"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key written twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"key {key!r} appears twice (first on line {seen[key] + 1})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


@dataclass(frozen=True)
class LoadedConfig:
    """A valid config and where it came from: ``version`` is a digest of the file's bytes."""

    config: SpendwatchConfig
    source: str
    version: str

    def masked(self) -> dict[str, Any]:
        """The config as JSON-ready data with every secret-bearing value masked."""
        masked: dict[str, Any] = mask_secrets(self.config.model_dump(mode="json"))
        return masked


def looks_like_secret(text: str) -> str | None:
    """What kind of secret ``text`` looks like, or None.

    >>> looks_like_secret("xoxb-1234-5678-abcdef")
    'a Slack token'
    >>> looks_like_secret("${SLACK_BOT_TOKEN}") is None
    True
    """
    for pattern, kind in _SECRET_SHAPES:
        if pattern.search(text):
            return kind
    return None


def inline_secrets(raw: Any, path: str = "") -> Iterator[ConfigProblem]:
    """Problems for every value of a raw document that looks like an inline secret."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            yield from inline_secrets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            yield from inline_secrets(value, f"{path}[{index}]")
    elif isinstance(raw, str):
        kind = looks_like_secret(raw)
        if kind is not None:
            yield ConfigProblem(
                path,
                f"looks like {kind} written inline; secrets come from ${{ENV_VAR}} or "
                "file:PATH references (or a *_file key), never the file itself",
            )


_ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def unresolved_references(
    raw: Any, environ: Mapping[str, str], path: str = ""
) -> Iterator[ConfigProblem]:
    """Problems for ``${ENV}`` references to unset variables and ``file:`` or ``*_file``
    paths that cannot be read; names the path and the reference, never a value."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = f"{path}.{key}" if path else str(key)
            is_path = str(key).endswith("_file") and isinstance(value, str)
            yield from unresolved_references(f"file:{value}" if is_path else value, environ, here)
    elif isinstance(raw, list):
        for index, value in enumerate(raw):
            yield from unresolved_references(value, environ, f"{path}[{index}]")
    elif isinstance(raw, str):
        found = _ENV_REFERENCE.match(raw)
        if found and not environ.get(found.group(1)):
            yield ConfigProblem(path, f"environment variable {found.group(1)} is not set")
        elif raw.startswith("file:") and not os.access(raw[5:], os.R_OK):
            yield ConfigProblem(path, f"secret file {raw[5:]} cannot be read")


def mask_secrets(data: Any, key: str = "") -> Any:
    """Mask values under secret-bearing keys that are not ``${ENV}``/``file:`` references."""
    if isinstance(data, dict):
        return {k: mask_secrets(v, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [mask_secrets(v, key) for v in data]
    if isinstance(data, str):
        reference = data.startswith(("${", "file:"))
        if (key in _SECRET_KEYS and not reference) or looks_like_secret(data):
            return MASK
    return data


def parse_config(text: bytes, source: str = "<config>") -> LoadedConfig:
    """Validate a config document; raises ``ConfigError`` listing every problem."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        found = ConfigProblem("", f"{where}not valid YAML: {problem}")
        raise ConfigError(source, [found]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        shape = ConfigProblem("", f"expected a mapping of sections, got {type(raw).__name__}")
        raise ConfigError(source, [shape])
    problems = list(inline_secrets(raw))
    try:
        config = SpendwatchConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, problems + problems_from(exc)) from None
    problems += check_detectors(config.detectors, config.budgets)
    problems += check_alerting(
        AlertingSections(
            routes=config.routes,
            receivers=config.receivers,
            inhibit_rules=config.inhibit_rules,
            silences=config.silences,
        )
    )
    if problems:
        raise ConfigError(source, problems)
    return LoadedConfig(config, source, digest(text))


def digest(text: bytes) -> str:
    """The version of a config file: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(text).hexdigest()[:16]


def load_config(path: Path) -> LoadedConfig:
    """Read and validate a config file; a missing file is a ``ConfigError`` too."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigProblem("", f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, str(path))


__all__ = ["ConfigError", "ConfigProblem", "LoadedConfig", "load_config", "parse_config"]
