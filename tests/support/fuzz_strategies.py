"""Hypothesis strategies for usage messages that are almost right.

Random bytes rarely get past the JSON parser, so these build valid events and then break
them the ways producers do: drop or retype a field, overflow a number or a string, slip
in bad unicode, nest too deep, or corrupt the JSON text itself. A ``Message`` knows which
of its events were left intact: those must always be accepted, whatever their neighbours
are, unless the message text itself was corrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas.text_rules import secret_problem
from tests.support.corpus import NOW

FIELDS = (
    "schema_version", "event_id", "timestamp", "provider", "model", "api_key_id",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd",
    "team", "app", "feature", "environment", "user_id", "tags", "units", "status", "latency_ms",
)  # fmt: skip
REQUIRED = ("event_id", "timestamp", "provider", "model", "api_key_id")
ENVELOPE_FIELDS = ("events", "schema_version")

BAD_CHARS = (
    "\x00", "\x1b", "\x7f", "\x85", "\u00ad", "\u200b", "\u200d", "\u2028", "\u202e",
    "\u2066", "\ufeff", "\ud800", "\udfff",
)  # fmt: skip
"""Characters no id, label or tag may hold (lone surrogates included)."""
SECRETS = ("sk-proj-" + "Zz9" * 10, "xoxb-1111-2222-" + "Qq8" * 8, "AKIA" + "Q" * 16)

names = st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)
labels = st.builds(lambda a, b: f"{a}-{b}", names, names).filter(
    lambda label: secret_problem(label) is None  # "xoxb-abcdefgh" is a Slack token's shape
)


@st.composite
def valid_events(draw: st.DrawFn, event_id: str) -> dict[str, Any]:
    """A valid event judged at ``NOW`` (timestamps within the skew and age limits)."""
    seconds = draw(st.integers(-6 * 86400, 240))
    when = NOW + timedelta(seconds=seconds)
    timestamp: Any = draw(
        st.sampled_from(
            [
                when.isoformat(),
                when.isoformat().replace("+00:00", "Z"),
                int(when.timestamp() * 1000),
                (when + timedelta(hours=2)).isoformat().replace("+00:00", "+02:00"),
            ]
        )
    )
    inp = draw(st.integers(0, 2_000_000))
    cached = draw(st.integers(0, inp))
    event: dict[str, Any] = {
        "event_id": event_id,
        "timestamp": timestamp,
        "provider": draw(st.sampled_from(["openai", "anthropic", "google", "bedrock"])),
        "model": draw(st.sampled_from(["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro", "x-1"])),
        "api_key_id": draw(labels),
        "input_tokens": inp,
        "output_tokens": draw(st.integers(0, 100_000)),
        "cache_read_tokens": cached,
    }
    optional = {
        "team": labels,
        "app": labels,
        "user_id": labels,
        "cost_usd": st.decimals(0, 100, places=6).map(str),
        "tags": st.dictionaries(names, labels, max_size=3),
        "units": st.dictionaries(names, st.integers(0, 1000), max_size=2),
        "status": st.sampled_from(["ok", "error", "timeout"]),
        "latency_ms": st.floats(0, 60_000),
    }
    for name in draw(st.sets(st.sampled_from(sorted(optional)))):
        event[name] = draw(optional[name])
    return event


json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@st.composite
def broken_events(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with one to three fields dropped, retyped, overflowed or badly encoded."""
    event = dict(event)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from([*FIELDS, "extra_field"]))
        how = draw(st.sampled_from(["drop", "retype", "overflow", "unicode", "nest", "secret"]))
        if how == "drop":
            if field in event:
                del event[field]
            else:
                event[draw(st.sampled_from(REQUIRED))] = None
        elif how == "retype":
            event[field] = draw(json_values)
        elif how == "overflow":
            event[field] = draw(
                st.sampled_from(
                    [
                        10**19,
                        -(10**19),
                        10**40,
                        2**63,
                        -1,
                        1.7976931348623157e308,
                        "9" * 31,
                        "x" * 300,
                        "1e-5000",
                        {f"k{i}": "v" for i in range(70)},
                    ]
                )
            )
        elif how == "unicode":
            char = draw(st.sampled_from(BAD_CHARS))
            target = draw(st.sampled_from(["event_id", "api_key_id", "model", "team", "tags"]))
            event[target] = {"k": f"v{char}"} if target == "tags" else f"id{char}x"
        elif how == "nest":
            event["tags"] = {"k": nested(draw(st.integers(2, 950)))}
        else:
            target = draw(st.sampled_from(["api_key_id", "user_id", "team", "tags"]))
            secret = draw(st.sampled_from(SECRETS))
            event[target] = {"auth": secret} if target == "tags" else secret
    return {k: v for k, v in event.items() if v is not None or draw(st.booleans())}


def encode(value: Any) -> bytes:
    """JSON text, with lone surrogates written as escapes (as other languages do)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        import json

        return json.dumps(value).encode()


@dataclass(frozen=True)
class Message:
    raw: bytes
    items: int
    """Events (or non-events) in the message; 1 for a single bare event."""
    intact: tuple[str, ...]
    """Ids of the events left valid: they must be accepted."""
    corrupted: bool
    """The JSON text itself was damaged: the whole message may be refused."""


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """A single event, an array or an envelope of valid and broken events, sometimes with
    its JSON text corrupted as well."""
    size = draw(st.integers(1, 8))
    items: list[Any] = []
    intact: list[str] = []
    for index in range(size):
        event = draw(valid_events(f"ev-{index}-{draw(names)}"))
        if draw(st.integers(0, 2)) == 0:
            items.append(draw(broken_events(event)))
        else:
            items.append(event)
            intact.append(event["event_id"])
    shape = draw(st.sampled_from(["array", "envelope", "single"]))
    if shape == "single":
        first = items[0]
        items = [first]
        intact = [i for i in intact if isinstance(first, dict) and first.get("event_id") == i][:1]
        raw = encode(first)
    elif shape == "envelope":
        raw = encode({"schema_version": 1, "events": items})
    else:
        raw = encode(items)
    corrupted = False
    damage = draw(st.sampled_from(["none", "none", "none", "nan", "truncate", "bytes", "bom"]))
    if damage == "nan" and b'"latency_ms":' in raw:
        raw = raw.replace(b'"latency_ms":', b'"latency_ms":NaN,"_":', 1)
        corrupted = True
    elif damage == "truncate":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
        corrupted = True
    elif damage == "bytes":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xc0\xaf", b"\xff", b"\xe2\x28\xa1"])) + raw[at:]
        corrupted = True
    elif damage == "bom":
        raw = b"\xef\xbb\xbf" + raw
    return Message(raw, len(items), tuple(intact), corrupted)
