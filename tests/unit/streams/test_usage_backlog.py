"""A usage partition counts as behind while the worker's last fetch saw records past the
last one handed to the stream (Faust's monitor keeps both)."""

from __future__ import annotations

import faust
from faust.types import TP

from streams.app import usage_backlog


def test_behind_until_the_last_fetched_record_is_read() -> None:
    app = faust.App("backlog-test", autodiscover=False)
    behind = usage_backlog(app, "sw.usage")
    assert not behind(0)  # not consumed here (or nothing fetched yet)
    app.monitor.track_tp_end_offset(TP("sw.usage", 0), 10)  # highwater: offsets 0..9
    assert behind(0)
    app.monitor.tp_read_offsets[TP("sw.usage", 0)] = 8
    assert behind(0)
    app.monitor.tp_read_offsets[TP("sw.usage", 0)] = 9
    assert not behind(0)
    app.monitor.track_tp_end_offset(TP("sw.usage", 1), 0)  # an empty partition
    assert not behind(1)
