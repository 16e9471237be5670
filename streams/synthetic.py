"""Synthetic LLM usage traffic: a seeded, vectorised model of an organisation's API calls.

For demos, tests and benchmarks; pure Python and numpy. The organisation (teams, apps,
keys, their model mixes and token distributions) and the incidents are in
``synthetic_org.py``. Calls arrive as a Poisson process whose rate
follows a diurnal and a weekly pattern, held constant within each 60-second chunk.

Every chunk draws from its own random stream (seed, chunk), so any slicing of time gives
the same events: ``events_between(a, b) + events_between(b, c) == events_between(a, c)``.
Incidents draw extra calls from streams of their own and only edit the baseline calls in
place, so a run with incidents equals the same seed's baseline plus the incident's effect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from schemas.money import usd_text
from schemas.pricing import CostSource, PriceBook
from streams.synthetic_org import (
    EXTRA_CALLS,
    KINDS,
    LEAKED_KEY_KIND,
    OPUS,
    TEAM_KINDS,
    UPGRADES,
    Incident,
    TrafficProfile,
    build_org,
)

Ints = npt.NDArray[np.int64]
DAY_MS = 86_400_000

CHUNK_MS = 60_000
DEFAULT_START = datetime(2025, 6, 2, tzinfo=UTC)
"""A Monday, midnight UTC."""
STATUSES = ("error", "timeout", "rate_limited", "ok")
_ERROR_CUM = np.array([0.5, 0.7, 1.0])
"""Cumulative shares of error, timeout and rate_limited among failed calls."""
_COLUMNS = ("stream", "seq", "model", "src", "feat", "inp", "out", "cr", "cw", "code", "lat")


class Batch(NamedTuple):
    start: datetime
    end: datetime
    events: list[dict[str, Any]]


class TrafficGenerator:
    """Deterministic synthetic usage events for a profile, with incidents injected."""

    def __init__(
        self,
        profile: TrafficProfile,
        incidents: Sequence[Incident] = (),
        start: datetime = DEFAULT_START,
        price_book: PriceBook | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start needs a zone")
        self.profile, self.incidents, self.start = profile, tuple(incidents), start
        self.apps, self.keys = build_org(profile)
        self._prices = price_book or PriceBook()
        self._start_ms = round(start.timestamp() * 1000)
        self._cache: dict[int, dict[str, Any]] = {}
        key_index = {k.api_key_id: i for i, k in enumerate(self.keys)}
        app_index = {a.name: i for i, a in enumerate(self.apps)}
        for inc in self.incidents:
            if inc.duration_s <= 0 or inc.factor < 0:
                raise ValueError(f"{inc.kind}: duration must be > 0 and factor >= 0")
            if inc.kind == "leaked_key":
                bad = inc.target in key_index
            elif inc.kind in TEAM_KINDS:
                bad = not any(k.team == inc.target for k in self.keys)
            elif inc.kind in ("model_switch", "prompt_bloat"):
                bad = inc.target not in app_index
            else:
                bad = inc.target not in key_index
            if bad:
                raise ValueError(f"{inc.kind}: bad target {inc.target!r}")
        leaked = [i for i in self.incidents if i.kind == "leaked_key"]
        rows = [(KINDS[a.kind], a.models) for a in self.apps]
        rows += [(LEAKED_KEY_KIND, ((i.model or OPUS, 1.0),)) for i in leaked]
        models = [m for _, mix in rows for m, _ in mix] + [OPUS, *UPGRADES.values()]
        models = list(dict.fromkeys(models + [i.model for i in self.incidents if i.model]))
        midx = {m: i for i, m in enumerate(models)}
        self._models = [{"provider": p, "model": m} for p, m in models]
        self._mix_cum = np.full((len(rows), max(len(mix) for _, mix in rows)), 2.0)
        self._mix_idx = np.zeros(self._mix_cum.shape, dtype=np.int64)
        for r, (_, mix) in enumerate(rows):
            cum = np.cumsum([w for _, w in mix])
            self._mix_cum[r, : len(mix)] = np.append(cum[:-1] / cum[-1], 1.0)
            self._mix_idx[r, : len(mix)] = [midx[m] for m, _ in mix]
        self._upgrade = np.array([midx[UPGRADES.get(m, OPUS)] for m in models])
        params = np.array(
            [
                (*np.log([k.input_tokens[0], k.output_tokens[0]]), k.input_tokens[1],
                 k.output_tokens[1], *k.cache, len(k.features), k.unit[1] if k.unit else -1)
                for k, _ in rows
            ]
        )  # fmt: skip
        self._in_mu, self._out_mu, self._in_sig, self._out_sig = params[:, :4].T
        self._hit, self._cshare, self._nfeat, self._unit_extra = params[:, 4:].T
        self._unit_name = [k.unit[0] if k.unit else "" for k, _ in rows]
        self._src_row = np.array(
            [app_index[k.app] for k in self.keys] + list(range(len(self.apps), len(rows)))
        )
        self._shares = np.array([k.share for k in self.keys])
        self._tpl = [
            [
                {"api_key_id": k.api_key_id, "team": k.team, "app": k.app,
                 "environment": k.environment, "feature": f}
                for f in KINDS[self.apps[app_index[k.app]].kind].features
            ]
            for k in self.keys
        ] + [[{"api_key_id": i.target}] for i in leaked]  # fmt: skip
        leaked_src = iter(range(len(self.keys), len(self._tpl)))
        self._inc_src = [
            next(leaked_src) if i.kind == "leaked_key" else key_index.get(i.target, -1)
            for i in self.incidents
        ]
        self._inc_row = [app_index.get(i.target, -1) for i in self.incidents]
        self._inc_team = [
            np.array([j for j, k in enumerate(self.keys) if k.team == i.target], dtype=np.int64)
            for i in self.incidents
        ]
        self._switch_to = [midx[i.model] if i.model else -1 for i in self.incidents]

    def rate_at(self, when: datetime | float) -> float:
        """The organisation's baseline calls per second at an instant (no incidents)."""
        return self._rate(self._ms(when))

    def _rate(self, rel_ms: float) -> float:
        p = self.profile
        hours = (self._start_ms + rel_ms) / 3_600_000 + p.utc_offset_hours
        kappa = np.log(p.peak_to_trough) / 2
        diurnal = np.exp(kappa * np.cos(2 * np.pi * (hours - p.peak_hour) / 24)) / np.i0(kappa)
        weekend = (int(hours // 24) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
        return float(p.calls_per_second * diurnal * (p.weekend_factor if weekend else 1.0))

    def _ms(self, when: datetime | float) -> int:
        if isinstance(when, datetime):
            return (when - self.start) // timedelta(milliseconds=1)
        return round(when * 1000)

    def _draw(
        self, rng: np.random.Generator, src: Ints, lo: int, hi: int, stream: int, pinned: bool
    ) -> dict[str, Any]:
        n, row = len(src), self._src_row[src]
        slot = (rng.random(n)[:, None] > self._mix_cum[row]).sum(axis=1)
        model = self._mix_idx[row, 0] if pinned else self._mix_idx[row, slot]
        z = rng.standard_normal((3, n))
        inp = np.clip(np.rint(np.exp(self._in_mu[row] + self._in_sig[row] * z[0])), 1, 2e6)
        out = np.clip(np.rint(np.exp(self._out_mu[row] + self._out_sig[row] * z[1])), 1, 2e5)
        cached = np.floor(inp * self._cshare[row] * rng.uniform(0.6, 1.0, n))
        hit, u = rng.random(n) < self._hit[row], rng.random(n)
        code = np.searchsorted(_ERROR_CUM * self.profile.error_rate, rng.random(n), "right")
        return {
            "ms": rng.integers(lo, hi, n),
            "src": src,
            "row": row,
            "model": model,
            "inp": inp,
            "out": np.where(code < 3, 0, out),
            "code": code,
            "cr": np.where(hit, cached, 0),
            "cw": np.where(~hit & (u < self._hit[row] * 0.3), cached, 0),
            "feat": (rng.random(n) ** 2 * self._nfeat[row]).astype(np.int64),
            "units": 1 + rng.poisson(np.maximum(self._unit_extra[row], 0)),
            "reported": rng.random(n) < self.profile.reported_cost_share,
            "switch_u": rng.random(n),
            "lat_noise": np.exp(0.3 * z[2]),
            "stream": np.full(n, stream),
            "seq": np.arange(n),
        }

    def _chunk(self, k: int) -> dict[str, Any]:
        if k in self._cache:
            return self._cache[k]
        lo, hi = k * CHUNK_MS, (k + 1) * CHUNK_MS
        zk = 2 * k if k >= 0 else -2 * k - 1
        rate = self._rate((lo + hi) / 2)
        rng = np.random.default_rng([self.profile.seed, 2, zk, 0])
        counts = rng.poisson(self._shares * rate * CHUNK_MS / 1000)
        parts = [self._draw(rng, np.repeat(np.arange(len(counts)), counts), lo, hi, 0, False)]
        for i, inc in enumerate(self.incidents):
            extra = self._extra_calls(i, inc, lo, hi, rate)
            if extra is None:
                continue
            a, b, src, lam = extra
            irng = np.random.default_rng([self.profile.seed, 2, zk, i + 1])
            counts = irng.poisson(np.maximum(lam, 0.0) * (b - a) / 1000)
            pinned = inc.kind in ("runaway_loop", "leaked_key")
            parts.append(self._draw(irng, np.repeat(src, counts), a, b, i + 1, pinned))
        c = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        for i, inc in enumerate(self.incidents):
            a, b = inc.window_ms()
            hit = (c["row"] == self._inc_row[i]) & (c["ms"] >= a) & (c["ms"] < b)
            if inc.kind == "model_switch":
                hit &= c["switch_u"] < inc.factor
                to = self._switch_to[i]
                c["model"][hit] = to if to >= 0 else self._upgrade[c["model"][hit]]
            elif inc.kind == "prompt_bloat":
                c["inp"][hit] = np.rint(c["inp"][hit] * inc.factor)
        limited = c["code"] == 2  # rate limited: no tokens
        for name in ("inp", "cr", "cw"):
            c[name] = np.where(limited, 0, c[name]).astype(np.int64)
        c["out"] = c["out"].astype(np.int64)
        c["lat"] = np.round(
            np.where(limited, 40.0, 150 + 0.02 * c["inp"] + 14 * c["out"]) * c["lat_noise"], 1
        )
        order = np.argsort(c["ms"], kind="stable")
        c = {name: v[order] for name, v in c.items()}
        self._cache[k] = c
        if len(self._cache) > 4:
            del self._cache[next(iter(self._cache))]
        return c

    def _extra_calls(
        self, i: int, inc: Incident, lo: int, hi: int, rate: float
    ) -> tuple[int, int, Ints, npt.NDArray[np.float64]] | None:
        """Extra calls of incident ``i`` in chunk [lo, hi): window, sources, calls/s each."""
        if inc.kind not in EXTRA_CALLS:
            return None
        start, end = inc.window_ms()
        if inc.kind == "nightly_batch":
            day = (lo - start) // DAY_MS
            start, end = start + day * DAY_MS, end + day * DAY_MS
        a, b = max(lo, start), min(hi, end)
        if a >= b:
            return None
        if inc.kind in TEAM_KINDS:
            src = self._inc_team[i]
            return a, b, src, rate * self._shares[src] * (inc.factor - 1)
        src = np.array([self._inc_src[i]])
        if inc.kind in ("leaked_key", "nightly_batch"):
            return a, b, src, np.array([inc.factor])
        boost = inc.factor - 1
        if inc.kind == "gradual_creep":
            boost = (1 + inc.factor) ** ((a + b) / 2 / 3_600_000 - inc.start_s / 3600) - 1
        return a, b, src, rate * self._shares[src] * boost

    def events_between(self, t0: datetime | float, t1: datetime | float) -> list[dict[str, Any]]:
        """Events with t0 <= timestamp < t1 (datetimes, or seconds after ``start``)."""
        lo, hi = self._ms(t0), self._ms(t1)
        events: list[dict[str, Any]] = []
        for k in range(lo // CHUNK_MS, -(-hi // CHUNK_MS)):
            c = self._chunk(k)
            i, j = np.searchsorted(c["ms"], [lo, hi])
            if i < j:
                events.extend(self._dicts(k, c, int(i), int(j)))
        return events

    def _dicts(self, k: int, c: dict[str, Any], i: int, j: int) -> list[dict[str, Any]]:
        col = {name: v[i:j] for name, v in c.items()}
        ms = col["ms"] + self._start_ms
        stamps = (
            np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC")
            if self.profile.timestamp_format == "rfc3339"
            else ms
        ).tolist()
        prefix, tpl, mtpl = f"sw{self.profile.seed:x}-{k:x}-", self._tpl, self._models
        columns = [col[name].tolist() for name in _COLUMNS]
        events = [
            {
                "event_id": f"{prefix}{st}-{sq}",
                "timestamp": ts,
                **mtpl[m],
                **tpl[s][f],
                "input_tokens": a,
                "output_tokens": b,
                "cache_read_tokens": cr,
                "cache_write_tokens": cw,
                "status": STATUSES[code],
                "latency_ms": lat,
            }
            for ts, st, sq, m, s, f, a, b, cr, cw, code, lat in zip(stamps, *columns, strict=True)
        ]
        for x in np.flatnonzero(self._unit_extra[col["row"]] >= 0).tolist():
            events[x]["units"] = {self._unit_name[col["row"][x]]: int(col["units"][x])}
        for x in np.flatnonzero(col["reported"]).tolist():
            ev = events[x]
            when = datetime.fromtimestamp(ms[x] / 1000, UTC)
            tokens = (
                ev[f"{name}_tokens"] for name in ("input", "output", "cache_read", "cache_write")
            )
            nanos, source = self._prices.price(ev["provider"], ev["model"], when, *tokens)
            if source is CostSource.COMPUTED:
                ev["cost_usd"] = usd_text(nanos)
        return events

    def iter_batches(
        self, duration_s: float, step_s: float, offset_s: float = 0.0
    ) -> Iterator[Batch]:
        """Consecutive windows of simulated time from ``start + offset_s``, as fast as possible."""
        if step_s <= 0:
            raise ValueError("step_s must be positive")
        steps = int(np.ceil(duration_s / step_s - 1e-9))
        for n in range(steps):
            a, b = offset_s + n * step_s, min(offset_s + (n + 1) * step_s, offset_s + duration_s)
            yield Batch(
                self.start + timedelta(seconds=a),
                self.start + timedelta(seconds=b),
                self.events_between(a, b),
            )
