"""Secrets masked in log records and dead-letter records."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC, datetime

import orjson
import pytest

from schemas.decode import FieldError, Rejected
from streams.dead_letter import dead_letter_record
from streams.redact import MASK, SECRETS, SecretRegistry, install_log_redaction

OPENAI = "sk-proj-" + "A1b2C3d4" * 6
ANTHROPIC = "sk-ant-api03-" + "x9Y8z7" * 8
SLACK = "xoxb-123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
ROUTING = "R0UT1NGKEY0123456789abcdefabcdef"


@pytest.mark.parametrize(
    "secret",
    [
        OPENAI,
        ANTHROPIC,
        SLACK,
        "xapp-1-A0123456789-0123456789012-" + "f" * 64,
        "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX",
        "AIza" + "S" * 35,
        "AKIA" + "ABCDEFGHIJKLMNOP",
        "Bearer some-ingest-token-1",
    ],
)
def test_known_shapes_are_masked(secret: str) -> None:
    text = f'{{"tags": {{"k": "{secret}"}}, "n": 1}}'
    masked = SecretRegistry().redact(text)
    assert secret not in masked
    assert MASK in masked
    assert masked.endswith('"n": 1}')


def test_ordinary_values_are_left_alone() -> None:
    text = "event_id=8f14e45fceea167a5a36dedd4bea2543 model=gpt-4o skew=task-runner"
    assert SecretRegistry().redact(text) == text


def test_configured_values_come_from_secret_looking_variable_names() -> None:
    registry = SecretRegistry()
    registry.add_from_environment(
        {
            "PAGERDUTY_ROUTING_KEY": ROUTING,
            "SPENDWATCH_INGEST_TOKENS": "gw=gateway-token-77,job=job-token-88",
            "SPENDWATCH_INGEST_TOKENS_FILE": "/etc/spendwatch/tokens.txt",
            "HOME": "/home/someone-long",
            "SHORT_TOKEN": "abc",
        }
    )
    kept = "/etc/spendwatch/tokens.txt /home/someone-long abc"
    text = f"{ROUTING} gateway-token-77 job-token-88 {kept}"
    assert registry.redact(text) == f"{MASK} {MASK} {MASK} {kept}"


def test_log_records_are_masked_before_any_handler(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction({"SOME_ROUTING_KEY": ROUTING})
    log = logging.getLogger("spendwatch.test.redact")
    with caplog.at_level(logging.INFO):
        log.info("posting %s to %s", {"key": OPENAI}, ROUTING)
        try:
            raise ValueError(f"bad token {SLACK}")
        except ValueError:
            log.exception("failed")
    text = "\n".join(caplog.text.splitlines())
    assert OPENAI not in text and ROUTING not in text and SLACK not in text
    assert text.count(MASK) >= 3
    assert "ValueError: bad token [REDACTED]" in text


def test_dead_letter_keeps_clean_bytes_exactly_and_masks_secrets() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    clean = b'{"event_id": "e1", "bad": "\xff"}'
    record = orjson.loads(
        dead_letter_record(
            Rejected(clean, (FieldError("", "malformed"),)),
            source_topic="usage",
            partition=0,
            offset=1,
            received_at=now,
        )
    )
    assert base64.b64decode(record["original_b64"]) == clean
    assert record["redacted"] is False
    SECRETS.add(ROUTING)
    dirty = f'{{"user_id": "{OPENAI}", "tags": {{"pd": "{ROUTING}"}}}}'.encode()
    raw = dead_letter_record(
        Rejected(dirty, (FieldError(f"tags.{SLACK}", "unknown"),), index=3),
        source_topic="usage",
        partition=0,
        offset=2,
        received_at=now,
    )
    record = orjson.loads(raw)
    for secret in (OPENAI, ROUTING, SLACK):
        assert secret.encode() not in raw
        assert secret.encode() not in base64.b64decode(record["original_b64"])
    assert record["redacted"] is True
    assert record["original"] == f'{{"user_id": "{MASK}", "tags": {{"pd": "{MASK}"}}}}'
    assert record["errors"] == [{"path": f"tags.{MASK}", "problem": "unknown"}]


def test_a_big_original_is_cut_to_fit_a_kafka_message() -> None:
    original = b'{"event_id": "' + b"x" * 3_000_000
    errors = tuple(FieldError(f"f{i}", "Extra inputs are not permitted") for i in range(80))
    raw = dead_letter_record(
        Rejected(original, errors),
        source_topic="usage",
        partition=0,
        offset=9,
        received_at=datetime(2026, 11, 29, tzinfo=UTC),
    )
    assert len(raw) < 1_000_000  # the broker's default message.max.bytes is 1 MiB
    record = orjson.loads(raw)
    assert record["original_truncated"] is True
    assert record["original_size"] == len(original)
    assert record["original_sha256"] == hashlib.sha256(original).hexdigest()
    assert base64.b64decode(record["original_b64"]) == original[: 128 * 1024]
    assert len(record["errors"]) == 50 and record["errors_omitted"] == 30
    assert record["reason"].count("Extra inputs") == 50
