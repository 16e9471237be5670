"""Bearer tokens: digests only, any holder found, refusals for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.redact import SECRETS
from streams.tokens import ProducerTokens, ReadTokens, TokenFileError, bearer, token_digest


def test_raw_and_digest_lines_both_authenticate_and_only_digests_are_kept() -> None:
    digest = token_digest("batch-token-123")
    tokens = ProducerTokens.parse(f"gateway gw-token-456\n# comment\n\nbatch sha256:{digest}\n")
    assert tokens.producer_for("Bearer gw-token-456") == "gateway"
    assert tokens.producer_for("bearer   batch-token-123 ") == "batch"
    assert "gw-token-456" not in repr(tokens)
    assert set(tokens.digests) == {token_digest("gw-token-456"), digest}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic gw-token-456", "gw-token-456", "Bearer gw-token-45"],
)
def test_anything_but_a_known_bearer_token_is_nobody(header: str | None) -> None:
    tokens = ProducerTokens.parse("gateway gw-token-456")
    assert tokens.producer_for(header) is None


def test_bearer_scheme_is_case_insensitive_and_needs_a_token() -> None:
    assert bearer("BEARER abc") == "abc"
    assert bearer("Bearer") is None
    assert bearer("Token abc") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("just-one-field", ":1: expected 'NAME TOKEN'"),
        ("a b c", ":1: expected"),
        ("\nx sha256:abc", ":2: sha256 digest must be 64 hex digits"),
        ("x sha256:" + "g" * 64, "64 hex digits"),
    ],
)
def test_bad_token_lines_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(TokenFileError, match=fragment):
        ProducerTokens.parse(text, source="tokens.txt")


def test_raw_tokens_from_files_are_masked_in_logs() -> None:
    ProducerTokens.parse("gateway raw-token-for-masking-1")
    assert SECRETS.redact("sent raw-token-for-masking-1 by mistake") == "sent [REDACTED] by mistake"


def test_each_kind_reads_its_own_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPENDWATCH_INGEST_TOKENS", "gw=ingest-token-1,job=ingest-token-2")
    monkeypatch.setenv("SPENDWATCH_READ_TOKENS", "grafana=read-token-1")
    ingest, read = ProducerTokens.load(), ReadTokens.load()
    assert ingest.producer_for("Bearer ingest-token-2") == "job"
    assert ingest.producer_for("Bearer read-token-1") is None
    assert read.holder_for("Bearer read-token-1") == "grafana"
    file = tmp_path / "read.txt"
    file.write_text("finance finance-token-1\n")
    monkeypatch.setenv("SPENDWATCH_READ_TOKENS_FILE", str(file))
    assert ReadTokens.load().holder_for("Bearer finance-token-1") == "finance"
    assert ReadTokens.load().holder_for("Bearer read-token-1") is None  # the file wins


def test_unreadable_tokens_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match=r"missing\.txt: cannot read tokens file"):
        ProducerTokens.load(tmp_path / "missing.txt")


def test_no_source_means_no_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SPENDWATCH_READ_TOKENS", "SPENDWATCH_READ_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert not ReadTokens.load().enabled
