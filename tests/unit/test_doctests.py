"""The examples in docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["schemas.money", "schemas.providers", "streams.applied_offsets"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
