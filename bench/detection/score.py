"""Matching alerts to labelled incidents, and the quality figures.

An alert matches an incident when it is about the incident and fires between the
incident's start and a grace period after its end: 30 minutes; 2 hours for creep (judged
on whole hours); a day for budget exhaustion; 3 days for a budget alert on a team an
incident hit, since burn rates and forecasts judge 3-day windows that hold the
incident's excess that long. An alert is about an incident when its series is one of the
incident's (the key, its app and team; the team's keys and apps for team-wide kinds; the
unattributed series for a leaked key), or one of its top contributors is one of the
incident's keys or apps (an org, model or provider alert driven by that key). Alerts
during warm-up are not scored. Per kind, precision is the share of alerts fired while
that kind's incidents were active that match one of them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.detection.scenario import SPIKE_KINDS, WARMUP_S, Scenario
from schemas.findings import Alert
from streams.synthetic_org import Incident

GRACE = {"gradual_creep": timedelta(hours=2), "budget_exhaustion": timedelta(hours=24)}
DEFAULT_GRACE = timedelta(minutes=30)
BUDGET_DETECTORS = ("budget_burn", "budget_forecast")
BUDGET_GRACE = timedelta(days=3)
"""Budget alerts judge 3-day windows: an incident's excess on the team counts that long."""


@dataclass
class Label:
    kind: str
    start: datetime
    end: datetime
    series: frozenset[str]
    drivers: frozenset[str]
    first_alert: datetime | None = None
    alerts: int = 0


@dataclass
class Scored:
    labels: list[Label] = field(default_factory=list)
    alerts: int = 0
    matched: int = 0
    batch_alerts: int = 0
    days: float = 0.0
    per_kind_window_alerts: dict[str, list[int]] = field(default_factory=dict)
    """Kind to [alerts fired while one was active, of those matching]."""
    false_alerts: list[Alert] = field(default_factory=list)


def labels(scenario: Scenario) -> list[Label]:
    out = []
    for inc in scenario.incidents:
        start = scenario.start + timedelta(seconds=inc.start_s)
        end = start + timedelta(seconds=inc.duration_s)
        keys = _keys(scenario, inc)
        apps = {f"app={scenario.apps_of_keys[k]}" for k in keys if k in scenario.apps_of_keys}
        key_names = {f"api_key_id={k}" for k in keys}
        series = set(key_names) | apps
        if inc.kind == "leaked_key":
            series |= {f"{d}=unattributed" for d in ("team", "app", "feature", "environment")}
        else:
            series |= {f"team={scenario.teams_of_keys[k]}" for k in keys}
        out.append(Label(inc.kind, start, end, frozenset(series), frozenset(key_names | apps)))
    return out


def _keys(scenario: Scenario, inc: Incident) -> list[str]:
    if inc.kind in ("team_spike", "budget_exhaustion"):
        return [k for k, t in scenario.teams_of_keys.items() if t == inc.target]
    if inc.kind in ("model_switch", "prompt_bloat"):
        return [k for k, a in scenario.apps_of_keys.items() if a == inc.target]
    return [inc.target]


def _about(alert: Alert, label: Label) -> bool:
    if alert.scope.name in label.series:
        return True
    return any(c.series in label.drivers for c in alert.contributors)


def _in_batch(scenario: Scenario, when: datetime) -> bool:
    offset = (when - scenario.start).total_seconds() - scenario.batch.start_s
    return offset % 86_400 < scenario.batch.duration_s + 30 * 60


def score(scenario: Scenario, alerts: list[Alert], seconds: float) -> Scored:
    result = Scored(labels=labels(scenario), days=(seconds - WARMUP_S) / 86_400)
    warm = scenario.start + timedelta(seconds=WARMUP_S)
    windows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for alert in alerts:
        if alert.fired_at < warm:
            continue
        result.alerts += 1
        hit = False
        for label in result.labels:
            grace = GRACE.get(label.kind, DEFAULT_GRACE)
            if alert.detector in BUDGET_DETECTORS and alert.scope.name in label.series:
                grace = BUDGET_GRACE
            active = label.start <= alert.fired_at <= label.end + grace
            if active and _about(alert, label):
                hit = True
                label.alerts += 1
                if label.first_alert is None or alert.fired_at < label.first_alert:
                    label.first_alert = alert.fired_at
        for kind in {lb.kind for lb in result.labels if lb.start <= alert.fired_at <= lb.end}:
            windows[kind][0] += 1
            windows[kind][1] += hit
        if hit:
            result.matched += 1
        else:
            result.false_alerts.append(alert)
            if _in_batch(scenario, alert.fired_at):
                result.batch_alerts += 1
    result.per_kind_window_alerts = dict(windows)
    return result


def table(results: list[Scored]) -> list[dict[str, Any]]:
    """One row per incident kind and one ``overall`` row, over all scored scenarios."""
    by_kind: dict[str, list[Label]] = defaultdict(list)
    windows: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in results:
        for label in r.labels:
            by_kind[label.kind].append(label)
        for kind, (n, hit) in r.per_kind_window_alerts.items():
            windows[kind][0] += n
            windows[kind][1] += hit
    days = sum(r.days for r in results)
    rows = []
    for kind in sorted(by_kind):
        found = by_kind[kind]
        n, hit = windows[kind]
        rows.append(_row(kind, found, hit / n if n else None, (n - hit) / days if days else 0))
    every = [label for found in by_kind.values() for label in found]
    alerts = sum(r.alerts for r in results)
    matched = sum(r.matched for r in results)
    overall = _row("overall", every, matched / alerts if alerts else None,
                   (alerts - matched) / days if days else 0)  # fmt: skip
    spikes = [lb for lb in every if lb.kind in SPIKE_KINDS]
    overall["spike_ttd_median_min"] = _ttd(spikes)
    overall["batch_alerts_after_warmup"] = sum(r.batch_alerts for r in results)
    overall["alerts"] = alerts
    overall["days_scored"] = round(days, 2)
    rows.append(overall)
    return rows


def _ttd(found: list[Label]) -> float | None:
    times = [(lb.first_alert - lb.start).total_seconds() / 60 for lb in found if lb.first_alert]
    return round(statistics.median(times), 1) if times else None


def _row(kind: str, found: list[Label], precision: float | None, fpd: float) -> dict[str, Any]:
    detected = [lb for lb in found if lb.first_alert is not None]
    return {
        "kind": kind,
        "incidents": len(found),
        "detected": len(detected),
        "recall": round(len(detected) / len(found), 3) if found else None,
        "precision": None if precision is None else round(precision, 3),
        "false_alerts_per_day": round(fpd, 2),
        "ttd_median_min": _ttd(found),
    }
