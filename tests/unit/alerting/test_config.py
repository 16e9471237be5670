"""Routing config: defaults, durations, secrets by reference only, errors that name the path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from alerting.config import AlertingConfig, SilenceConfig, parse_duration
from alerting.matchers import Matcher
from alerting.secrets import SecretError, SecretRef, find_inline_secrets

EXAMPLE = """
routes:
  receiver: team-slack
  group_by: [team]
  group_wait: 10s
  routes:
    - matchers: ["severity=~critical|error"]
      receiver: oncall-pd
      continue: true
      group_wait: 0s
receivers:
  - name: team-slack
    slack:
      token: "${SLACK_BOT_TOKEN}"
      channel: "#spend"
      team_channels: {search: "#search-oncall"}
    links: {runbook_url: "https://runbooks.example/{detector}"}
  - name: oncall-pd
    pagerduty: {routing_key: "file:/run/secrets/pd"}
inhibit_rules:
  - source_match: ["detector=budget", "severity=critical"]
    target_match: ["detector=spike", "severity=warning"]
    equal: [team]
silences:
  - id: s1
    matchers: ["team=ads"]
    starts_at: 2026-11-29T00:00:00Z
    ends_at: 2026-11-30T00:00:00Z
    comment: load test
    created_by: ana
"""


def test_empty_config_is_valid_and_routes_nothing() -> None:
    config = AlertingConfig()
    assert config.receivers == () and config.routes.receiver is None


def test_correlation_is_on_by_default_at_half_the_spend() -> None:
    correlation = AlertingConfig().correlation
    assert (correlation.enabled, correlation.min_share) == (True, 0.5)


def test_example_config_loads() -> None:
    config = AlertingConfig.model_validate(yaml.safe_load(EXAMPLE))
    assert config.routes.routes[0].continue_ is True
    assert config.routes.group_wait == timedelta(seconds=10)
    assert config.receiver("oncall-pd").kind == "pagerduty"
    assert config.inhibit_rules[0].equal == ("team",)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("4h", 14400), ("1h30m", 5400), ("250ms", 0.25), (90, 90)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "10x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("raw", "path", "problem"),
    [
        (
            {"receivers": [{"name": "pd", "pagerduty": {"routing_key": "R0123456789"}}]},
            "receivers.0.pagerduty.routing_key",
            "inline secrets are not allowed",
        ),
        (
            {"receivers": [{"name": "s", "slack": {"token": "${T}"}}]},
            "receivers.0.slack",
            "needs a channel",
        ),
        (
            {"receivers": [{"name": "x"}]},
            "receivers.0",
            "exactly one of slack, pagerduty or webhook",
        ),
        (
            {"routes": {"routes": [{"receiver": "nobody"}]}},
            "",
            "routes.routes[0].receiver: no receiver named 'nobody'",
        ),
        ({"routes": {"group_wait": "soon"}}, "routes.group_wait", "not a duration"),
        ({"routes": {"matchers": ["team"]}}, "routes.matchers.0", "not a matcher"),
        ({"routes": {"matchers": ["team=~("]}}, "routes.matchers.0", "bad regular expression"),
        ({"routez": {}}, "routez", "Extra inputs"),
        ({"correlation": {"min_share": 0}}, "correlation.min_share", "greater than 0"),
        ({"correlation": {"min_share": 1.5}}, "correlation.min_share", "less than or equal"),
        ({"correlation": {"enabled": "maybe"}}, "correlation.enabled", "valid boolean"),
        (
            {"correlation": {"families": {"a": ["spend_spike"], "b": ["spend_spike"]}}},
            "correlation",
            "families.b: 'spend_spike' is already in family 'a'",
        ),
        ({"correlation": {"families": {"a": []}}}, "correlation", "families.a: name at least"),
    ],
)
def test_errors_name_the_path_and_problem(raw: dict[str, object], path: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AlertingConfig.model_validate(raw)
    text = str(caught.value)
    assert problem in text
    assert path in text


def test_an_inline_secret_never_appears_in_the_error() -> None:
    secret = "xoxb-very-secret-token"
    with pytest.raises(ValidationError) as caught:
        AlertingConfig.model_validate(
            {"receivers": [{"name": "s", "slack": {"token": secret, "channel": "#a"}}]}
        )
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value.errors(include_input=False))


def test_find_inline_secrets_lists_every_one() -> None:
    raw = yaml.safe_load(EXAMPLE)
    raw["receivers"][1]["pagerduty"]["routing_key"] = "abc"
    raw["receivers"].append({"name": "w", "webhook": {"url": "https://x", "secret": "s3"}})
    assert find_inline_secrets(raw) == [
        "receivers[1].pagerduty.routing_key",
        "receivers[2].webhook.secret",
    ]


def test_secret_refs_resolve_from_env_and_file(tmp_path: Path) -> None:
    env = SecretRef.model_validate("${PD_KEY}")
    assert env.resolve({"PD_KEY": "k1"}).get_secret_value() == "k1"
    path = tmp_path / "key"
    path.write_text("k2\n")
    ref = SecretRef.model_validate(f"file:{path}")
    resolved = ref.resolve({})
    assert resolved.get_secret_value() == "k2"
    assert "k2" not in str(resolved) and "k2" not in repr(ref)


@pytest.mark.parametrize(
    ("ref", "environ", "message"),
    [
        ("${MISSING}", {}, "environment variable MISSING is not set"),
        ("file:/nonexistent/secret", {}, "cannot read secret file /nonexistent/secret"),
    ],
)
def test_unresolvable_secrets_name_the_reference(
    ref: str, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SecretError, match=message):
        SecretRef.model_validate(ref).resolve(environ)


def test_silence_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="ends_at must be after starts_at"):
        SilenceConfig.model_validate(
            {
                "id": "s",
                "matchers": ["team=a"],
                "starts_at": "2026-11-29T01:00:00Z",
                "ends_at": "2026-11-29T00:00:00Z",
                "comment": "c",
                "created_by": "me",
            }
        )


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ("team=search", {"team": "search"}, True),
        ("team=search", {"team": "ads"}, False),
        ("team!=search", {}, True),
        ("severity=~critical|error", {"severity": "error"}, True),
        ("severity=~crit", {"severity": "critical"}, False),
        ("severity!~warning|info", {"severity": "critical"}, True),
        ('app="a b"', {"app": "a b"}, True),
        ("missing=", {}, True),
    ],
)
def test_matchers(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert Matcher.parse(matcher).matches(labels) is expected


def test_a_config_survives_a_round_trip_through_yaml() -> None:
    config = AlertingConfig.model_validate(yaml.safe_load(EXAMPLE))
    dumped = yaml.safe_dump(config.model_dump(mode="json", by_alias=True))
    assert "group_wait: 10s" in dumped and "continue: true" in dumped
    assert AlertingConfig.model_validate(yaml.safe_load(dumped)) == config
    assert parse_duration("PT1M") == "PT1M"  # ISO 8601 is left to pydantic


def test_the_readme_example_is_a_valid_config() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    (example,) = [b for b in blocks if "inhibit_rules:" in b]
    raw = yaml.safe_load(example)
    assert find_inline_secrets(raw) == []
    config = AlertingConfig.model_validate(raw)
    assert [r.kind for r in config.receivers] == ["slack", "pagerduty", "webhook"]
