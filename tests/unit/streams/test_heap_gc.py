"""The worker's collector: frozen heap, young garbage first, cycles reclaimed in full."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.heap_gc import HeapCollector


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def clock() -> Iterator[Clock]:
    thresholds = gc.get_threshold()
    yield Clock()
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.collect()


def cycle() -> tuple[weakref.ref[Node], Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a), a


def test_the_first_tick_sets_the_thresholds_and_freezes_the_start_up_heap(clock: Clock) -> None:
    collector = HeapCollector(thresholds=(40_000, 15, 9), clock=clock)
    assert collector.tick() == "start"
    assert gc.get_threshold() == (40_000, 15, 9)
    assert gc.get_freeze_count() > 0


def test_freezes_when_due_and_only_then(clock: Clock) -> None:
    collector = HeapCollector(freeze_every_s=30, full_every_s=900, clock=clock)
    collector.tick()
    frozen = gc.get_freeze_count()
    kept = [Node() for _ in range(1000)]
    clock.now += 29
    assert collector.tick() is None
    clock.now += 1
    assert collector.tick() == "freeze"
    assert gc.get_freeze_count() >= frozen + len(kept)
    assert collector.freezes == 1


def test_young_cyclic_garbage_is_collected_before_a_freeze(clock: Clock) -> None:
    collector = HeapCollector(freeze_every_s=30, full_every_s=900, clock=clock)
    collector.tick()
    ref, node = cycle()
    del node
    clock.now += 30
    assert collector.tick() == "freeze"
    assert ref() is None


def test_a_frozen_object_is_still_freed_by_reference_counting(clock: Clock) -> None:
    collector = HeapCollector(clock=clock)
    node = Node()
    ref = weakref.ref(node)
    collector.tick()
    del node
    assert ref() is None


def test_a_cycle_that_dies_while_frozen_is_reclaimed_by_the_next_full_collection(
    clock: Clock,
) -> None:
    collector = HeapCollector(freeze_every_s=30, full_every_s=900, clock=clock)
    ref, node = cycle()
    collector.tick()  # frozen while alive
    del node
    gc.collect()
    assert ref() is not None  # frozen: the collector does not visit it
    clock.now += 900
    assert collector.tick() == "full"
    assert ref() is None
    assert collector.full_collections == 1
    assert gc.get_freeze_count() > 0  # frozen again after the full collection
