"""Coverage-guided fuzzing of the decoder tiers with atheris (libFuzzer), seeded with the
corpus: any exception is a crash, and the worker's tiers must agree with the model.

Opt-in, not part of the test suite (it runs until stopped or for ``-runs=N``)::

    pip install -e '.[fuzz]'
    mkdir -p /tmp/decode-corpus && cp tests/corpus/*.json tests/corpus/*.bin /tmp/decode-corpus
    python tests/fuzz/atheris_decode.py /tmp/decode-corpus -max_total_time=60

libFuzzer adds the inputs that reach new code to the first directory and writes a
crashing input to ``crash-*`` in the working directory.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from schemas.decode import EventDecoder
    from streams.fast_decode import RowDecoder, row_from_priced
    from tests.support.corpus import NOW

EVENTS = EventDecoder()
ROWS = RowDecoder(EVENTS)


def one_input(raw: bytes) -> None:
    reference = EVENTS.decode(raw, NOW)
    rows = ROWS.decode(raw, NOW)
    if rows.rows != [row_from_priced(p) for p in reference.events]:
        raise AssertionError("the worker's rows differ from the model's events")
    got = [(r.index, r.reason) for r in rows.rejected]
    if got != [(r.index, r.reason) for r in reference.rejected]:
        raise AssertionError(f"the tiers' rejections differ: {got}")
    if any(not r.reason for r in reference.rejected):
        raise AssertionError("a rejection without a reason")


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
