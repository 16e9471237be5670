"""Bearer tokens, held only as SHA-256 digests: producers' (ingest) and readers' (views).

A tokens file has one holder per line, ``NAME TOKEN`` or ``NAME sha256:HEXDIGEST``
(blank lines and ``#`` comments are skipped). Raw tokens are hashed on load and never
kept, logged or echoed (they are handed to the log redactor so a stray copy is masked);
``spendwatch token hash`` prints the digest form for config. A presented token is hashed
and compared with every known digest in constant time, so neither its value nor which
holder it matches shows in the time an answer takes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

from streams.redact import SECRETS


class TokenFileError(ValueError):
    pass


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@dataclass(frozen=True)
class TokenSet:
    """Holder name by token digest. Empty means no token is configured."""

    digests: dict[str, str]
    file_env: ClassVar[str] = ""
    inline_env: ClassVar[str] = ""

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def holder_for(self, authorization: str | None) -> str | None:
        """The holder a ``Bearer`` header belongs to, or None."""
        token = bearer(authorization)
        if token is None:
            return None
        digest = token_digest(token).encode()
        found: str | None = None
        for known, name in self.digests.items():  # no early exit: same time for every holder
            if hmac.compare_digest(known.encode(), digest):
                found = name
        return found

    @classmethod
    def parse(cls, text: str, source: str = "tokens") -> Self:
        digests: dict[str, str] = {}
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise TokenFileError(
                    f"{source}:{number}: expected 'NAME TOKEN' or 'NAME sha256:HEX'"
                )
            name, secret = parts
            if secret.startswith("sha256:"):
                digest = secret.removeprefix("sha256:").lower()
                if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                    raise TokenFileError(f"{source}:{number}: sha256 digest must be 64 hex digits")
            else:
                SECRETS.add(secret)
                digest = token_digest(secret)
            digests[digest] = name
        return cls(digests)

    @classmethod
    def load(cls, path: Path | None = None) -> Self:
        """From ``path``, else the class's file variable, else its inline variable
        (``name=token,name2=token2``); no source at all gives an empty set."""
        env_file = os.environ.get(cls.file_env) if cls.file_env else None
        file = path or (Path(env_file) if env_file else None)
        if file is not None:
            try:
                text = file.read_text()
            except OSError as exc:
                raise TokenFileError(f"{file}: cannot read tokens file: {exc.strerror}") from exc
            return cls.parse(text, source=str(file))
        inline = os.environ.get(cls.inline_env, "") if cls.inline_env else ""
        text = "\n".join(item.replace("=", " ", 1) for item in inline.split(",") if item.strip())
        return cls.parse(text, source=cls.inline_env)


class ProducerTokens(TokenSet):
    """Who may ``POST /v1/usage``: ``SPENDWATCH_INGEST_TOKENS_FILE`` or
    ``SPENDWATCH_INGEST_TOKENS``. The ingest refuses to start without any, unless
    anonymous producers are allowed explicitly."""

    file_env: ClassVar[str] = "SPENDWATCH_INGEST_TOKENS_FILE"
    inline_env: ClassVar[str] = "SPENDWATCH_INGEST_TOKENS"

    def producer_for(self, authorization: str | None) -> str | None:
        return self.holder_for(authorization)


class ReadTokens(TokenSet):
    """Who may read a worker's ``/v1/...`` views: ``SPENDWATCH_READ_TOKENS_FILE`` or
    ``SPENDWATCH_READ_TOKENS``. None configured means the views are open."""

    file_env: ClassVar[str] = "SPENDWATCH_READ_TOKENS_FILE"
    inline_env: ClassVar[str] = "SPENDWATCH_READ_TOKENS"
