"""docker-compose.yml, the Dockerfile, Prometheus and Grafana files agree with the code.

No Docker engine runs here: the files are parsed and checked against the settings model,
the config file they mount, the metrics the workers export and the HTTP paths they serve.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.config_file import CONTAINER_CONFIG_PATH, IngestConfig
from streams.config_load import load_config
from streams.metrics import METRICS_PATH, WorkerMetrics
from streams.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


def services(compose: dict[str, Any], command: str) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in compose["services"].items() if s.get("command", [None])[0] == command}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (or volume name)."""
    out = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def container_port(service: dict[str, Any]) -> set[int]:
    return {int(p.split(":")[-1]) for p in service["ports"]}


def dockerfile_env() -> dict[str, str]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def test_kafka_is_the_official_image_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert not any("zookeeper" in name for name in compose["services"])
    assert mounts(kafka)[env["KAFKA_LOG_DIRS"]] in compose["volumes"]


def test_workers_mount_the_config_and_agree_with_its_ports_and_state(
    compose: dict[str, Any],
) -> None:
    workers = services(compose, "worker")
    assert len(workers) >= 2
    host_ports = set()
    for name, worker in workers.items():
        env = worker["environment"]
        assert Path(env["SPENDWATCH_CONFIG_FILE"]) == CONTAINER_CONFIG_PATH
        source = mounts(worker)[str(CONTAINER_CONFIG_PATH)]
        config = load_config(REPO / source).config
        assert config.web.port == WorkerSettings.model_fields["web_port"].default
        assert container_port(worker) == {config.web.port}
        assert env["SPENDWATCH_WEB_HOST"] == name  # how the other workers reach it
        state = mounts(worker)[str(config.storage.data_dir)]
        assert state in compose["volumes"]
        assert dockerfile_env()["SPENDWATCH_DATA_DIR"] == str(config.storage.data_dir)
        assert config.kafka.bootstrap.split(":")[0] in compose["services"]
        assert f"127.0.0.1:{config.web.port}/readyz" in " ".join(worker["healthcheck"]["test"])
        host_ports.add(worker["ports"][0].split(":")[0])
    assert len(host_ports) == len(workers)
    states = [mounts(w)[dockerfile_env()["SPENDWATCH_DATA_DIR"]] for w in workers.values()]
    assert len(set(states)) == len(states)  # every worker its own state


def test_ingest_serves_the_configured_port_with_tokens_from_a_secret(
    compose: dict[str, Any],
) -> None:
    (ingest,) = services(compose, "ingest").values()
    source = mounts(ingest)[ingest["environment"]["SPENDWATCH_CONFIG_FILE"]]
    config = load_config(REPO / source).config
    assert config.ingest.port == IngestConfig.model_fields["port"].default
    assert container_port(ingest) == {config.ingest.port}
    assert config.ingest.host == "0.0.0.0"
    secret = ingest["secrets"][0]
    assert config.ingest.tokens_file == Path("/run/secrets") / secret
    assert secret in compose["secrets"]


def test_prometheus_scrapes_every_worker_at_the_metrics_path(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    source = mounts(prometheus)["/etc/prometheus/prometheus.yml"]
    scrape = yaml.safe_load((REPO / source).read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == METRICS_PATH
    targets = set(scrape["static_configs"][0]["targets"])
    workers = services(compose, "worker")
    assert targets == {f"{name}:{container_port(w).pop()}" for name, w in workers.items()}


def test_grafana_provisions_the_datasource_and_a_dashboard_of_real_metrics(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    provisioning = REPO / mounts(grafana)["/etc/grafana/provisioning"]
    datasource = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    assert (
        source["url"]
        == f"http://prometheus:{container_port(compose['services']['prometheus']).pop()}"
    )
    provider = yaml.safe_load((provisioning / "dashboards/spendwatch.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    dashboards = REPO / mounts(grafana)[folder]
    dashboard = json.loads((dashboards / "spend.json").read_text())
    exported = {m.name for m in WorkerMetrics().registry.collect()}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for e in exprs for name in re.findall(r"spendwatch_[a-z_]+", e)}
    assert used, exprs
    missing = {n for n in used if n not in exported and n.removesuffix("_total") not in exported}
    assert missing == set()
    assert "spendwatch_team_month_to_date_usd" in used
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}


def test_dockerfile_exposes_the_default_ports() -> None:
    text = (REPO / "Dockerfile").read_text()
    found = re.search(r"^EXPOSE (.+)$", text, re.M)
    assert found is not None
    exposed = {int(port) for port in found.group(1).split()}
    assert exposed == {WorkerSettings.model_fields["web_port"].default, IngestConfig().port}
