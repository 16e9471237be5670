"""The synthetic organisation: teams, their apps and keys, the traffic profile and the
incidents that can be injected into it (``synthetic.py`` generates the calls).

Teams own apps and apps own API keys (the last key of an app is its staging key); each
app has a kind (chat, agent, rerank, ...) that sets its model mix, token distributions
and features. ``build_org`` draws the apps and keys of a profile from its seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Model = tuple[str, str]
"""(provider, model), as in genai-prices."""
IncidentKind = Literal[
    "runaway_loop", "leaked_key", "model_switch", "prompt_bloat", "gradual_creep",
    "team_spike", "budget_exhaustion", "nightly_batch",
]  # fmt: skip
EXTRA_CALLS = frozenset(
    {"runaway_loop", "leaked_key", "gradual_creep", "team_spike", "budget_exhaustion",
     "nightly_batch"}
)  # fmt: skip
"""Kinds that add calls (the others edit baseline calls in place)."""
TEAM_KINDS = frozenset({"team_spike", "budget_exhaustion"})
OPUS: Model = ("anthropic", "claude-opus-4-1")
_4O, _4O_MINI = ("openai", "gpt-4o"), ("openai", "gpt-4o-mini")
_41_MINI, _SONNET = ("openai", "gpt-4.1-mini"), ("anthropic", "claude-sonnet-4-5")
_HAIKU, _FLASH = ("anthropic", "claude-haiku-4-5"), ("gcp.gemini", "gemini-2.5-flash")
_PRO = ("gcp.gemini", "gemini-2.5-pro")
UPGRADES: dict[Model, Model] = {
    _4O_MINI: _4O,
    _41_MINI: ("openai", "gpt-4.1"),
    _HAIKU: _SONNET,
    _FLASH: _PRO,
}
"""Where ``model_switch`` takes each model by default; any other model goes to OPUS."""


@dataclass(frozen=True, slots=True)
class AppKind:
    models: tuple[Model, ...]
    input_tokens: tuple[float, float]
    """Median and sigma of a lognormal."""
    output_tokens: tuple[float, float]
    cache: tuple[float, float]
    """Probability a call reads the prompt cache, and the share of its input read."""
    features: tuple[str | None, ...]
    unit: tuple[str, float] | None = None
    """Unit name and the mean of (units per call - 1)."""


KINDS: dict[str, AppKind] = {
    "rerank": AppKind((_4O_MINI, _41_MINI, _FLASH, _HAIKU), (1800, 0.5), (40, 0.4), (0, 0),
                    ("query-rerank", "snippet-rerank")),
    "chat": AppKind((_4O, _SONNET, _41_MINI, _FLASH), (1500, 0.8), (350, 0.7), (0.6, 0.7),
                  ("answer", "follow-up", "feedback")),
    "agent": AppKind((_SONNET, _4O, _PRO), (9000, 0.9), (900, 0.8), (0.85, 0.8),
                   ("plan", "tool-call", "final-answer")),
    "summarize": AppKind((_4O_MINI, _HAIKU, _FLASH), (6000, 0.7), (400, 0.5), (0, 0),
                       ("summary", "digest"), ("documents", 0.0)),
    "extract": AppKind((_41_MINI, _FLASH, _4O), (3000, 0.6), (250, 0.5), (0.3, 0.5),
                     ("fields", "tables"), ("pages", 4.0)),
    "classify": AppKind((_4O_MINI, _FLASH, _HAIKU), (500, 0.5), (8, 0.3), (0, 0),
                      ("label", "route")),
    "generate": AppKind((_4O, _SONNET, _PRO), (1200, 0.6), (700, 0.6), (0.2, 0.5),
                      ("draft", "rewrite")),
}  # fmt: skip
LEAKED_KEY_KIND = AppKind((OPUS,), (4000, 0.6), (1500, 0.5), (0, 0), (None,))
TEAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "search": (("search-rerank", "rerank"), ("search-answers", "chat"),
               ("query-rewrite", "classify"), ("result-summaries", "summarize")),
    "support": (("support-bot", "chat"), ("ticket-summarizer", "summarize"),
                ("ticket-router", "classify"), ("support-agent", "agent")),
    "research": (("eval-harness", "generate"), ("paper-digest", "summarize"),
                 ("research-agent", "agent"), ("dataset-labeler", "classify")),
    "growth": (("email-writer", "generate"), ("crm-enrichment", "extract"),
               ("lead-scoring", "classify"), ("seo-pages", "generate")),
    "platform": (("code-review-bot", "agent"), ("incident-summarizer", "summarize"),
                 ("log-triage", "classify"), ("docs-assistant", "chat")),
    "legal": (("contract-review", "extract"), ("policy-qa", "chat"),
              ("nda-summarizer", "summarize"), ("clause-search", "rerank")),
    "finance": (("invoice-parser", "extract"), ("expense-classifier", "classify"),
                ("report-writer", "generate"), ("forecast-notes", "summarize")),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """The organisation and its traffic. ``calls_per_second`` is the mean weekday rate."""

    seed: int = 0
    teams: int = 5
    apps_per_team: int = 3
    keys_per_app: int = 2
    calls_per_second: float = 20.0
    peak_hour: float = 14.0
    peak_to_trough: float = 6.0
    utc_offset_hours: float = 0.0
    """Local time of the diurnal and weekly patterns (UTC by default)."""
    weekend_factor: float = 0.3
    staging_share: float = 0.1
    """Share of an app's calls on its staging key (apps with two keys or more)."""
    error_rate: float = 0.02
    reported_cost_share: float = 0.03
    """Share of calls that carry ``cost_usd`` (a decimal string) instead of tokens only."""
    timestamp_format: Literal["rfc3339", "epoch_ms"] = "rfc3339"

    def __post_init__(self) -> None:
        if min(self.teams, self.apps_per_team, self.keys_per_app) < 1:
            raise ValueError("teams, apps_per_team and keys_per_app must be at least 1")
        if self.calls_per_second < 0 or self.peak_to_trough < 1 or self.weekend_factor < 0:
            raise ValueError("need calls_per_second >= 0, peak_to_trough >= 1, weekend >= 0")
        if not all(
            0 <= p <= 1 for p in (self.staging_share, self.error_rate, self.reported_cost_share)
        ):
            raise ValueError("staging_share, error_rate and reported_cost_share are in [0, 1]")


@dataclass(frozen=True, slots=True)
class AppSpec:
    team: str
    name: str
    kind: str
    models: tuple[tuple[Model, float], ...]
    """Model mix, primary model first; weights sum to 1."""
    keys: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeySpec:
    api_key_id: str
    team: str
    app: str
    environment: str
    share: float
    """Share of the organisation's baseline calls."""


@dataclass(frozen=True, slots=True)
class Incident:
    """An anomaly injected ``start_s`` seconds after the generator's start."""

    kind: IncidentKind
    start_s: float
    duration_s: float
    target: str
    """The key (runaway_loop, gradual_creep, nightly_batch), the app (model_switch,
    prompt_bloat), the team (team_spike, budget_exhaustion) or the new key id."""
    factor: float
    """Rate multiplier, new key's calls per second, share switched, input multiplier,
    growth per hour (gradual_creep) or the batch's calls per second (nightly_batch)."""
    model: Model | None = None

    @classmethod
    def runaway_loop(
        cls, key: str, start_s: float, duration_s: float, factor: float = 30.0
    ) -> Incident:
        return cls("runaway_loop", start_s, duration_s, key, factor)

    @classmethod
    def leaked_key(
        cls,
        start_s: float,
        duration_s: float,
        key: str = "key-leaked-1",
        calls_per_second: float = 5.0,
        model: Model = OPUS,
    ) -> Incident:
        return cls("leaked_key", start_s, duration_s, key, calls_per_second, model)

    @classmethod
    def model_switch(
        cls,
        app: str,
        start_s: float,
        duration_s: float,
        model: Model | None = None,
        share: float = 1.0,
    ) -> Incident:
        return cls("model_switch", start_s, duration_s, app, share, model)

    @classmethod
    def prompt_bloat(
        cls, app: str, start_s: float, duration_s: float, factor: float = 8.0
    ) -> Incident:
        return cls("prompt_bloat", start_s, duration_s, app, factor)

    @classmethod
    def gradual_creep(
        cls, key: str, start_s: float, duration_s: float, growth_per_hour: float = 0.05
    ) -> Incident:
        """The key's rate grows by ``growth_per_hour``, compounded, for the duration."""
        return cls("gradual_creep", start_s, duration_s, key, growth_per_hour)

    @classmethod
    def team_spike(
        cls, team: str, start_s: float, duration_s: float, factor: float = 6.0
    ) -> Incident:
        """Every key of the team at ``factor`` times its rate."""
        return cls("team_spike", start_s, duration_s, team, factor)

    @classmethod
    def budget_exhaustion(
        cls, team: str, start_s: float, duration_s: float, factor: float = 3.0
    ) -> Incident:
        """A team spending ``factor`` times its usual rate for hours: its budget runs out."""
        return cls("budget_exhaustion", start_s, duration_s, team, factor)

    @classmethod
    def nightly_batch(
        cls, key: str, start_s: float, duration_s: float, calls_per_second: float = 2.0
    ) -> Incident:
        """Not an incident: a batch job on ``key`` every day from ``start_s`` for
        ``duration_s``, the normal recurring burst detectors must learn."""
        return cls("nightly_batch", start_s, duration_s, key, calls_per_second)

    def window_ms(self) -> tuple[int, int]:
        return round(self.start_s * 1000), round((self.start_s + self.duration_s) * 1000)


def build_org(profile: TrafficProfile) -> tuple[tuple[AppSpec, ...], tuple[KeySpec, ...]]:
    """The teams' apps and keys, drawn from the seed."""
    rng = np.random.default_rng([profile.seed, 1])
    names = list(TEAMS)[: profile.teams]
    names += [f"team-{i + 1}" for i in range(len(names), profile.teams)]
    apps: list[AppSpec] = []
    keys: list[KeySpec] = []
    kpa = profile.keys_per_app
    for team in names:
        for a in range(profile.apps_per_team):
            catalogue = TEAMS.get(team, ())
            name, kind = (
                catalogue[a]
                if a < len(catalogue)
                else (f"{team}-app-{a + 1}", list(KINDS)[int(rng.integers(len(KINDS)))])
            )
            pool = KINDS[kind].models
            picks = rng.choice(len(pool), int(rng.integers(1, 4)), replace=False)
            mix = np.sort(rng.dirichlet(np.full(len(picks), 2.0)))[::-1]
            app_weight = float(rng.lognormal(0.0, 0.8))
            split = (
                [1.0]
                if kpa == 1
                else [
                    *(rng.dirichlet(np.full(kpa - 1, 4.0)) * (1 - profile.staging_share)),
                    profile.staging_share,
                ]
            )
            ids = tuple(f"key-{team}-{a * kpa + j + 1}" for j in range(kpa))
            apps.append(
                AppSpec(
                    team,
                    name,
                    kind,
                    tuple((pool[p], round(float(w), 4)) for p, w in zip(picks, mix, strict=True)),
                    ids,
                )
            )
            for j, key in enumerate(ids):
                env = "staging" if kpa > 1 and j == kpa - 1 else "prod"
                keys.append(KeySpec(key, team, name, env, app_weight * float(split[j])))
    total = sum(k.share for k in keys)
    keys = [KeySpec(k.api_key_id, k.team, k.app, k.environment, k.share / total) for k in keys]
    return tuple(apps), tuple(keys)
