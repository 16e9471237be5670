"""spendwatch.yaml: validation with paths, secrets, precedence, and the check command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from detectors.config import DetectorsConfig
from streams.cli import app
from streams.config_errors import ConfigError
from streams.config_file import SpendwatchConfig
from streams.config_load import load_config, parse_config
from streams.config_sections import detectors_config
from streams.config_settings import restart_changes, worker_settings

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "spendwatch.example.yaml"


def problems(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text.encode())
    return {p.path: p.message for p in caught.value.problems}


def test_the_example_config_is_valid_and_documents_every_section() -> None:
    loaded = load_config(EXAMPLE)
    text = EXAMPLE.read_text()
    for section in SpendwatchConfig.model_fields:
        assert f"\n{section}:" in text, section
    for name, section in SpendwatchConfig.model_fields.items():
        model = section.annotation
        for key in getattr(model, "model_fields", {}):
            assert f"  {key}:" in text, f"{name}.{key}"
    assert loaded.config.key_owners["key-search-1"].team == "search"
    assert len(loaded.version) == 16


def test_the_example_config_lists_every_detector_key_at_its_default() -> None:
    loaded = load_config(EXAMPLE)
    text = EXAMPLE.read_text()
    defaults = DetectorsConfig()
    assert detectors_config(loaded.config.detectors, loaded.config.budgets) == defaults
    for name in DetectorsConfig.model_fields:
        assert f"\n  {name}:" in text, name
        for key in getattr(type(getattr(defaults, name)), "model_fields", {}):
            assert f"\n    {key}:" in text, f"detectors.{name}.{key}"


def test_an_empty_file_means_every_default() -> None:
    assert parse_config(b"").config == SpendwatchConfig()
    assert parse_config(b"# nothing\n").config.kafka.partitions == 8


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ("kafka: {partitions: 0}", "kafka.partitions", "greater than or equal to 1"),
        ("kafka: {bootstrap: localhost}", "kafka.bootstrap", "not host:port"),
        ("kafka: {partitons: 4}", "kafka.partitons", "unknown key"),
        ("aggregation: {bucket_minutes: 7}", "aggregation.bucket_minutes", "must divide 60"),
        ("aggregation: {dimensions: [team, colour]}", "aggregation.dimensions", "colour"),
        ("storage: {store: 'redis://'}", "storage.store", "rocksdb://"),
        ("web: {port: 70000}", "web.port", "less than or equal to 65535"),
        ("key_owners: {k-1: {}}", "key_owners.k-1", "names a team, an app or both"),
        ("receivers: [{name: a}, 3]", "receivers[1]", "valid dictionary"),
        ("logging: {format: xml}", "logging.format", "'text' or 'json'"),
        ("version: 2", "version", "1"),
        ("colour: blue", "colour", "unknown key"),
        ("- a\n- b\n", "", "expected a mapping of sections, got list"),
        ("kafka: [1\n", "", "line 2, column 1: not valid YAML"),
        ("kafka: {}\nweb: {}\nkafka: {}\n", "", "line 3, column 1: not valid YAML: key 'kafka'"),
        ("web: {port: 1, port: 2}\n", "", "key 'port' appears twice (first on line 1)"),
    ],
)
def test_errors_name_the_path_and_the_problem(text: str, path: str, words: str) -> None:
    found = problems(text)
    assert path in found, found
    assert words in found[path]


def test_every_problem_is_reported_at_once() -> None:
    found = problems("kafka: {partitions: 0, app_id: 'a b'}\nweb: {port: -1}\n")
    assert set(found) == {"kafka.partitions", "kafka.app_id", "web.port"}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("xoxb-2222222222-abcdefghijkl", "Slack token"),
        ("https://hooks.slack.com/services/T000/B000/XXXX", "Slack webhook URL"),
        ("0123456789abcdef0123456789abcdef", "PagerDuty key"),
        ("sk-proj-abcdefghijklmnopqrstuv", "provider API key"),
        ("sk-ant-api03-abcdefghijklmnopqrstuv", "provider API key"),
    ],
)
def test_inline_secrets_are_refused_without_repeating_them(value: str, kind: str) -> None:
    text = f"receivers:\n  - name: r\n    slack: {{token: '{value}', channel: '#x'}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text.encode())
    message = str(caught.value)
    assert "receivers[0].slack.token" in message
    assert kind in message
    assert value not in message


def test_references_are_not_secrets_and_an_inline_one_is_refused_by_path() -> None:
    text = (
        "receivers:\n"
        "  - {name: a, slack: {token: '${SLACK_BOT_TOKEN}', channel: '#c'}}\n"
        "  - {name: b, webhook: {url: 'http://h/x', secret: 'file:/run/secrets/hook'}}\n"
    )
    masked = parse_config(text.encode()).masked()
    receivers = masked["receivers"]
    assert receivers[0]["slack"]["token"] == "${SLACK_BOT_TOKEN}"
    assert receivers[1]["webhook"]["secret"] == "file:/run/secrets/hook"
    inline = text + "  - {name: c, pagerduty: {routing_key: plain-but-secret}}\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(inline.encode())
    (problem,) = raised.value.problems
    assert str(problem).startswith("receivers[2].pagerduty.routing_key: inline secrets")
    assert "plain-but-secret" not in str(raised.value)


def test_file_then_environment_then_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(
        b"kafka: {bootstrap: 'file:1', partitions: 3, app_id: from-file}\nweb: {port: 7001}\n"
    ).config
    monkeypatch.setenv("SPENDWATCH_PARTITIONS", "5")
    monkeypatch.setenv("SPENDWATCH_WEB_PORT", "7002")
    settings = worker_settings(config, {"web_port": 7003, "app_id": None})
    assert settings.bootstrap == "file:1"  # file only
    assert settings.partitions == 5  # environment beats the file
    assert settings.web_port == 7003  # the command line beats both
    assert settings.app_id == "from-file"  # an unset option does not override


def test_without_a_file_the_environment_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDWATCH_BOOTSTRAP", "env:9")
    assert worker_settings(None).bootstrap == "env:9"


def test_restart_changes_name_file_paths() -> None:
    old = parse_config(b"kafka: {partitions: 4}").config
    new = parse_config(b"kafka: {partitions: 6}\nkey_owners: {k: {team: t}}\n").config
    assert restart_changes(old, new) == ["kafka.partitions"]
    quieter = parse_config(b"kafka: {partitions: 4}\nlogging: {level: error, format: json}").config
    assert restart_changes(old, quieter) == ["logging.format", "logging.level"]
    assert restart_changes(old, old) == []


def test_config_check_command(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["config", "check", str(EXAMPLE)])
    assert good.exit_code == 0, good.output
    assert "valid" in good.output and "2 key owners" in good.output
    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(
        "kafka: {partitions: 0}\nreceivers: [{slack: {token: xoxb-1-2-abcdefgh}}]\n"
    )
    bad = runner.invoke(app, ["config", "check", str(bad_file)])
    assert bad.exit_code == 1
    assert "kafka.partitions:" in bad.output
    assert "receivers[0].slack.token:" in bad.output
    assert "xoxb-1-2-abcdefgh" not in bad.output
    missing = runner.invoke(app, ["config", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_config_check_resolve_finds_unset_variables_and_unreadable_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = tmp_path / "tokens"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"ingest: {{tokens_file: '{tokens}'}}\n"
        "receivers:\n"
        "  - {name: s, slack: {token: '${SW_TEST_SLACK}', channel: '#c'}}\n"
        "  - {name: w, webhook: {url: 'http://h/', secret: 'file:/nonexistent/hook'}}\n"
    )
    monkeypatch.delenv("SW_TEST_SLACK", raising=False)
    runner = CliRunner()
    unresolved = runner.invoke(app, ["config", "check", "--resolve", str(config)])
    assert unresolved.exit_code == 1
    assert "ingest.tokens_file: secret file" in unresolved.output
    assert "receivers[0].slack.token: environment variable SW_TEST_SLACK is not set" in (
        unresolved.output
    )
    assert "receivers[1].webhook.secret: secret file /nonexistent/hook" in unresolved.output
    assert runner.invoke(app, ["config", "check", str(config)]).exit_code == 0
    tokens.write_text("producer-a tok\n")
    monkeypatch.setenv("SW_TEST_SLACK", "xoxb-from-env")
    config.write_text(config.read_text().replace("file:/nonexistent/hook", f"file:{tokens}"))
    resolved = runner.invoke(app, ["config", "check", "--resolve", str(config)])
    assert resolved.exit_code == 0, resolved.output
    assert "xoxb-from-env" not in resolved.output


def test_config_show_masks_and_fills_defaults() -> None:
    shown = CliRunner().invoke(app, ["config", "show", str(EXAMPLE)])
    assert shown.exit_code == 0
    assert '"max_cached_series": 20000' in shown.output


def test_detectors_and_budgets_are_checked_by_the_detectors_model_and_merged() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config(b"detectors: {spike: {ratio: 0.5}}\nbudgets: [{series: team=a}]\n")
    assert [str(p).split(":")[0] for p in raised.value.problems] == ["budgets[0]"]
    with pytest.raises(ConfigError) as raised:
        parse_config(b"detectors: {spike: {ratio: 0.5}}\n")
    assert str(raised.value.problems[0]).startswith("detectors.spike.ratio:")
    config = parse_config(
        b"detectors: {budgets: {team=a: 10}}\n"
        b"budgets: [{series: team=search, monthly_usd: '5000.50'}]\n"
    ).config
    merged = detectors_config(config.detectors, config.budgets)
    assert {k: str(v) for k, v in merged.budgets.items()} == {
        "team=a": "10",
        "team=search": "5000.50",
    }
