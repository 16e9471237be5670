"""Reading fields out of a raw provider response: dicts and SDK objects alike, camelCase
or snake_case, ids and times wherever each provider puts them (``provider_responses``
builds the event).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeGuard

from genai_prices import types


def require_usage(data: Mapping[str, Any], root: types.ExtractPath, label: str) -> None:
    path = [root] if isinstance(root, str) else list(root)
    if not all(isinstance(step, str) for step in path):
        return
    node: Any = data
    for depth, step in enumerate(path, start=1):
        node = node.get(step) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            where = ".".join(str(part) for part in path[:depth])
            raise ValueError(
                f"{label} has no usage: {where!r} is missing or null (a streamed response "
                "reports usage only in its final chunk, if at all)"
            )


def whole_tokens(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float | Decimal) and value == int(value):
        return int(value)
    raise ValueError(f"{key} must be a whole number of tokens, got {value!r}")


def as_mapping(response: object) -> Mapping[str, Any]:
    if isinstance(response, Mapping):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        try:
            data = dump(mode="json", by_alias=True)
        except TypeError:
            data = dump()
        if isinstance(data, Mapping):
            return data
    raise TypeError(
        "expected a provider response as a dict or an SDK object with model_dump(), "
        f"got {type(response).__name__}"
    )


def camelize(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {camel(str(key)): camelize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [camelize(item) for item in value]
    return value


def camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def get_path(data: Mapping[str, Any], *path: str) -> Any:
    node: Any = data
    for step in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(step)
    return node


def is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def response_id(data: Mapping[str, Any]) -> str | None:
    for candidate in (
        data.get("id"),
        data.get("responseId"),
        get_path(data, "ResponseMetadata", "RequestId"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return None


def response_time(data: Mapping[str, Any]) -> datetime | None:
    """``created``/``created_at`` (epoch s), ``createTime`` (RFC 3339) or an HTTP date."""
    try:
        for key in ("created", "created_at"):
            if is_number(seconds := data.get(key)):
                return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(text := data.get("createTime"), str):
            return datetime.fromisoformat(text)
        if isinstance(text := get_path(data, "ResponseMetadata", "HTTPHeaders", "date"), str):
            return parsedate_to_datetime(text)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValueError(f"response time is not a valid time: {exc}") from exc
    return None
