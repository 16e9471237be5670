"""A blocking JSON GET with an optional bearer token, answering (status, body) for any
status (a refusal's JSON body included)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson


def get_json(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
