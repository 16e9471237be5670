"""Every corpus case gets its expected verdict from every decoder tier."""

from __future__ import annotations

import json

import pytest

from schemas.decode import EventDecoder
from streams.fast_decode import RowDecoder, row_from_priced
from tests.support.corpus import CORPUS, CORPUS_KEY, NOW, Case, case_id, load_cases

CASES = load_cases()


def test_the_manifest_lists_every_corpus_file_once() -> None:
    files = sorted(p.name for p in CORPUS.iterdir() if p.name != "manifest.toml")
    assert sorted(c.file for c in CASES) == files


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_event_decoder_verdict(case: Case) -> None:
    out = EventDecoder().decode(case.body, NOW)
    assert len(out.events) == case.valid
    assert all(p.event.api_key_id == CORPUS_KEY for p in out.events)
    assert (
        case.check((r.index, [(e.path, e.problem) for e in r.errors]) for r in out.rejected) == []
    )
    for rejected in out.rejected:
        if rejected.index is None:  # a refused message keeps its exact bytes
            assert rejected.original == case.body
        else:  # an item is kept as JSON of its own (bad number literals as they came)
            json.loads(rejected.original, parse_int=str)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_worker_decoder_gives_the_same_verdict_and_rows(case: Case) -> None:
    rows = RowDecoder().decode(case.body, NOW)
    reference = EventDecoder().decode(case.body, NOW)
    assert rows.rows == [row_from_priced(p) for p in reference.events]
    got = [(r.index, r.reason, r.original) for r in rows.rejected]
    assert got == [(r.index, r.reason, r.original) for r in reference.rejected]
