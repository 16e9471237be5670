"""References to secrets: ``${ENV_NAME}`` or ``file:/path``, never the secret itself.

Tokens, routing keys and webhook URLs live in the environment or in secret files; the
config names where to find them. ``SecretRef`` refuses an inline value with an error
that names the field but not the value, resolves to a pydantic ``SecretStr`` (masked when
printed), and ``find_inline_secrets`` lists every inline secret of a raw config mapping
so a config check can report all of them at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_FILE = "file:"
SECRET_FIELDS = frozenset({"token", "webhook_url", "routing_key", "secret"})
"""Field names that hold secrets in receiver configs."""


class SecretError(ValueError):
    """A secret reference that cannot be resolved (the message never holds the secret)."""


def is_reference(text: str) -> bool:
    """True for ``${ENV}`` and ``file:PATH`` forms.

    >>> is_reference("${SLACK_BOT_TOKEN}"), is_reference("xoxb-123")
    (True, False)
    """
    return bool(_ENV.match(text)) or (text.startswith(_FILE) and len(text) > len(_FILE))


class SecretRef(BaseModel):
    """Where a secret lives: an environment variable or a file (first line, stripped)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    env: str | None = None
    file: Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        found = _ENV.match(data)
        if found:
            return {"env": found.group(1)}
        if data.startswith(_FILE) and len(data) > len(_FILE):
            return {"file": data[len(_FILE) :]}
        raise ValueError("inline secrets are not allowed; write ${ENV_VAR} or file:/path/to/secret")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("a secret reference names exactly one of env or file")
        return self

    def describe(self) -> str:
        """Where the secret comes from, safe to print."""
        return f"${{{self.env}}}" if self.env else f"file:{self.file}"

    def resolve(self, environ: Mapping[str, str] | None = None) -> SecretStr:
        """Read the secret now; errors name the reference, never a value."""
        if self.env is not None:
            value = (os.environ if environ is None else environ).get(self.env, "")
            if not value:
                raise SecretError(f"environment variable {self.env} is not set or empty")
            return SecretStr(value)
        assert self.file is not None
        try:
            text = self.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SecretError(f"cannot read secret file {self.file}: {exc.strerror}") from None
        value = text.strip()
        if not value:
            raise SecretError(f"secret file {self.file} is empty")
        return SecretStr(value)

    def __str__(self) -> str:
        return self.describe()


def find_inline_secrets(raw: Any, path: str = "") -> list[str]:
    """Paths of secret fields holding inline values in a raw (unvalidated) config.

    >>> find_inline_secrets({"receivers": [{"name": "pd", "pagerduty": {
    ...     "routing_key": "R0123"}}, {"slack": {"token": "${SLACK_TOKEN}"}}]})
    ['receivers[0].pagerduty.routing_key']
    """
    return list(_inline(raw, path))


def _inline(raw: Any, path: str) -> Iterator[str]:
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            here = f"{path}.{key}" if path else str(key)
            if key in SECRET_FIELDS and isinstance(value, str) and not is_reference(value):
                yield here
            else:
                yield from _inline(value, here)
    elif isinstance(raw, list | tuple):
        for index, value in enumerate(raw):
            yield from _inline(value, f"{path}[{index}]")
