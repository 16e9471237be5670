"""What text a usage event may carry in its ids, labels and tags, and why.

Ids and labels name series and show on dashboards, alerts and invoices, so two that look
the same must be the same: control characters, line separators and invisible
formatting characters (zero-width spaces and joiners, bidirectional marks, embeddings
and overrides, the byte order mark) are refused, or ``key-1`` and ``key-1`` with a
hidden U+200B would be two series that look like one, and a right-to-left override
could make one team's name read as another's.

A raw provider key or Slack token in an id, label or tag would be stored and shown
in every view, so values shaped like one are refused too (``SECRET_SHAPES``); the
producer is told to send an id or a hash instead. Event ids are exempt from the
secret rule only: they are opaque producer-made strings, never shown as names.

>>> text_problem("team-search")
>>> text_problem("key\\u200b-1")
'contains U+200B (an invisible formatting character); ids and labels must be plainly visible'
>>> secret_problem("sk-proj-" + "a" * 24)
"looks like a secret (an 'sk-' API key); send an id or a hash of the key, never the key"
"""

from __future__ import annotations

import re
import unicodedata

FORBIDDEN_CHARS = (  # every one is also not str.isprintable(), which the fast paths use
    "\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e"
    "\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb"
)
"""Character ranges refused in ids, labels and tags (regex syntax, as in the schema)."""
TEXT_PATTERN = f"^[^{FORBIDDEN_CHARS}]*$"
"""The rule for the JSON Schema: no forbidden character anywhere."""
_FORBIDDEN = re.compile(f"[{FORBIDDEN_CHARS}]")

SECRET_SHAPES: tuple[tuple[str, str], ...] = (
    ("an 'sk-' API key", r"sk-[A-Za-z0-9_\-]{16,}"),
    ("a Slack token", r"xox[abposre]-[A-Za-z0-9\-]{8,}"),
    ("a Slack app token", r"xapp-[A-Za-z0-9\-]{8,}"),
    ("a Slack webhook URL", r"https://hooks\.slack\.com/[A-Za-z0-9/_\-]+"),
    ("a Google API key", r"AIza[0-9A-Za-z_\-]{35}"),
    ("an AWS access key id", r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
)
"""Secrets recognisable by their shape alone (name, regex)."""
SECRET_HINTS = ("sk-", "xox", "xapp-", "hooks.slack", "AIza", "AKIA", "ASIA")
"""Substrings every secret shape contains: text without any of them is no secret."""
_SECRETS = [(name, re.compile(pattern)) for name, pattern in SECRET_SHAPES]


def has_secret_hint(text: str) -> bool:
    """Whether ``text`` holds any of ``SECRET_HINTS`` (unrolled: this runs per event)."""
    return (
        "sk-" in text or "xox" in text or "xapp-" in text or "hooks.slack" in text
        or "AIza" in text or "AKIA" in text or "ASIA" in text
    )  # fmt: skip


def visible(value: str) -> str:
    """``value`` when ``text_problem`` finds none, else ValueError with the problem."""
    if value.isprintable() or _FORBIDDEN.search(value) is None:
        return value
    raise ValueError(text_problem(value))


def plain_name(value: str) -> str:
    """``value`` when neither rule objects, else ValueError with the first problem."""
    visible(value)
    if has_secret_hint(value):
        problem = secret_problem(value)
        if problem is not None:
            raise ValueError(problem)
    return value


def text_problem(value: str) -> str | None:
    """Why ``value`` may not be an id, label or tag, or None when it may."""
    found = _FORBIDDEN.search(value)
    if found is None:
        return None
    char = found.group()
    control = unicodedata.category(char) == "Cc"
    kind = "a control character" if control else "an invisible formatting character"
    return f"contains U+{ord(char):04X} ({kind}); ids and labels must be plainly visible"


def secret_problem(value: str) -> str | None:
    """Why ``value`` looks like a secret, or None."""
    if not has_secret_hint(value):
        return None
    for name, pattern in _SECRETS:
        if pattern.search(value):
            return f"looks like a secret ({name}); send an id or a hash of the key, never the key"
    return None
