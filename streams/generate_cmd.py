"""``spendwatch generate``: synthetic usage traffic to Kafka (live) or to a file (simulated)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO

import orjson

from streams.producer import UsageProducer
from streams.settings import WorkerSettings
from streams.synthetic import TrafficGenerator
from streams.synthetic_org import Incident, TrafficProfile
from streams.topics import ensure_topics

INCIDENT_HELP = (
    "KIND:TARGET:START_S:DURATION_S[:FACTOR], KIND one of runaway_loop (TARGET a key), "
    "leaked_key (TARGET the new key), model_switch or prompt_bloat (TARGET an app), "
    "gradual_creep (TARGET a key, FACTOR growth per hour), team_spike or budget_exhaustion "
    "(TARGET a team), nightly_batch (TARGET a key, daily, FACTOR calls per second)"
)


def parse_incident(spec: str) -> Incident:
    """``runaway_loop:key-search-1:120:300:30`` and the like."""
    parts = spec.split(":")
    if len(parts) not in (4, 5):
        raise ValueError(f"incident {spec!r}: expected {INCIDENT_HELP}")
    kind, target, start, duration = parts[:4]
    factor = float(parts[4]) if len(parts) == 5 else None
    start_s, duration_s = float(start), float(duration)
    if kind == "runaway_loop":
        return Incident.runaway_loop(target, start_s, duration_s, factor or 30.0)
    if kind == "leaked_key":
        return Incident.leaked_key(start_s, duration_s, key=target, calls_per_second=factor or 5.0)
    if kind == "model_switch":
        return Incident.model_switch(target, start_s, duration_s)
    if kind == "prompt_bloat":
        return Incident.prompt_bloat(target, start_s, duration_s, factor or 8.0)
    if kind == "gradual_creep":
        return Incident.gradual_creep(target, start_s, duration_s, factor or 0.05)
    if kind == "team_spike":
        return Incident.team_spike(target, start_s, duration_s, factor or 6.0)
    if kind == "budget_exhaustion":
        return Incident.budget_exhaustion(target, start_s, duration_s, factor or 3.0)
    if kind == "nightly_batch":
        return Incident.nightly_batch(target, start_s, duration_s, factor or 2.0)
    raise ValueError(f"incident {spec!r}: unknown kind {kind!r}; expected {INCIDENT_HELP}")


def write_simulated(
    out: IO[bytes],
    profile: TrafficProfile,
    incidents: Sequence[Incident],
    start: datetime,
    duration_s: float,
) -> int:
    """Simulated time, as fast as possible; returns the number of events written."""
    generator = TrafficGenerator(profile, incidents, start=start)
    written = 0
    for batch in generator.iter_batches(duration_s, step_s=60.0):
        out.write(b"".join(orjson.dumps(e) + b"\n" for e in batch.events))
        written += len(batch.events)
    return written


async def send_live(
    settings: WorkerSettings,
    profile: TrafficProfile,
    incidents: Sequence[Incident],
    duration_s: float | None,
    step_s: float = 0.5,
) -> int:
    """Real time from now, paced; returns the number of events sent."""
    await ensure_topics(settings)
    generator = TrafficGenerator(profile, incidents, start=datetime.now(UTC))
    origin = time.monotonic()
    done = 0.0
    async with UsageProducer(settings.bootstrap, settings.usage_topic) as producer:
        while duration_s is None or done < duration_s:
            await asyncio.sleep(step_s)
            upto = time.monotonic() - origin
            if duration_s is not None:
                upto = min(upto, duration_s)
            await producer.send_many(generator.events_between(done, upto))
            done = upto
        await producer.flush()
        return producer.sent_events
