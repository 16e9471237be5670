"""The route stage: Alertmanager's tree walk with continue and inheritance."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from alerting.config import RouteConfig
from alerting.routing import Router

TREE = RouteConfig.model_validate(
    yaml.safe_load(
        """
receiver: default
group_by: [team]
routes:
  - matchers: ["severity=~critical|error"]
    receiver: pager
    continue: true
    group_wait: 0s
  - matchers: ["team=search"]
    receiver: search-slack
    routes:
      - matchers: ["detector=budget"]
        receiver: finance
        repeat_interval: 1h
  - matchers: ["team=search"]
    receiver: never-reached
  - matchers: ["app=~batch-.*"]
    group_by: [app]
"""
    )
)


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        ({"team": "ads", "severity": "warning"}, ["default"]),
        ({"team": "search", "severity": "warning"}, ["search-slack"]),
        ({"team": "search", "severity": "critical"}, ["pager", "search-slack"]),
        ({"team": "search", "severity": "info", "detector": "budget"}, ["finance"]),
        ({"team": "ads", "severity": "error"}, ["pager"]),
        ({"app": "batch-7", "severity": "info"}, ["default"]),
    ],
)
def test_receivers_per_alert(labels: dict[str, str], receivers: list[str]) -> None:
    assert [m.receiver for m in Router(TREE).match(labels)] == receivers


def test_children_inherit_what_they_leave_unset() -> None:
    (pager, finance) = Router(TREE).match(
        {"team": "search", "severity": "critical", "detector": "budget"}
    )
    assert pager.group_wait == timedelta(0) and pager.group_by == ("team",)
    assert finance.group_wait == timedelta(seconds=30)
    assert finance.repeat_interval == timedelta(hours=1)
    assert finance.group_interval == timedelta(minutes=5)


def test_group_keys_split_by_group_by_labels() -> None:
    (route,) = Router(TREE).match({"app": "batch-7"})
    assert route.group_by == ("app",)
    assert route.group_key({"app": "batch-7", "team": "a"}) == route.group_key(
        {"app": "batch-7", "team": "b"}
    )
    assert route.group_key({"app": "batch-7"}) != route.group_key({"app": "batch-8"})


def test_a_tree_without_receivers_routes_nowhere() -> None:
    assert Router(RouteConfig()).match({"team": "x"}) == []
