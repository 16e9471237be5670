"""Bearer tokens per producer, held only as SHA-256 digests.

A tokens file has one producer per line, ``NAME TOKEN`` or ``NAME sha256:HEXDIGEST``
(blank lines and ``#`` comments are skipped). Raw tokens are hashed on load and never
kept, logged or echoed; ``spendwatch token hash`` prints the digest form for config.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path


class TokenFileError(ValueError):
    pass


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ProducerTokens:
    """Producer name by token digest. Empty means authentication is off."""

    digests: dict[str, str]

    @property
    def enabled(self) -> bool:
        return bool(self.digests)

    def producer_for(self, authorization: str | None) -> str | None:
        """The producer a ``Bearer`` header belongs to, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        digest = token_digest(authorization.removeprefix("Bearer ").strip())
        for known, name in self.digests.items():
            if hmac.compare_digest(known, digest):
                return name
        return None

    @classmethod
    def parse(cls, text: str, source: str = "tokens") -> ProducerTokens:
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
                digest = token_digest(secret)
            digests[digest] = name
        return cls(digests)

    @classmethod
    def load(cls, path: Path | None = None) -> ProducerTokens:
        """From ``path``, else ``SPENDWATCH_INGEST_TOKENS_FILE``, else ``SPENDWATCH_INGEST_TOKENS``
        (``name=token,name2=token2``); no source at all means authentication is off."""
        file = path or (Path(p) if (p := os.environ.get("SPENDWATCH_INGEST_TOKENS_FILE")) else None)
        if file is not None:
            return cls.parse(file.read_text(), source=str(file))
        inline = os.environ.get("SPENDWATCH_INGEST_TOKENS", "")
        text = "\n".join(item.replace("=", " ", 1) for item in inline.split(",") if item.strip())
        return cls.parse(text, source="SPENDWATCH_INGEST_TOKENS")
