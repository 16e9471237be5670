"""The route stage: which receivers an alert goes to, with which grouping and timings.

Alertmanager semantics: the root matches every alert; an alert descends into the first
child route that matches it and stops there unless that child sets ``continue``, in
which case later siblings are tried too; a node none of whose children matched is
itself the match. Children inherit the receiver, ``group_by`` and timings they leave
unset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from alerting.config import RouteConfig
from alerting.matchers import alert_labels, matches_all
from schemas.findings import Alert

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """An effective route: its path in the tree, receiver, grouping and timings."""

    path: str
    receiver: str | None
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta

    def group_key(self, labels: Mapping[str, str]) -> str:
        """Alerts with the same key are notified together (``...`` groups by every label)."""
        by = sorted(labels) if "..." in self.group_by else self.group_by
        values = ",".join(f"{name}={labels.get(name, '')!r}" for name in by)
        return f"{self.path}:{{{values}}}"


def _effective(route: RouteConfig, parent: RouteMatch, path: str) -> RouteMatch:
    return RouteMatch(
        path=path,
        receiver=route.receiver if route.receiver is not None else parent.receiver,
        group_by=route.group_by if route.group_by is not None else parent.group_by,
        group_wait=route.group_wait if route.group_wait is not None else parent.group_wait,
        group_interval=(
            route.group_interval if route.group_interval is not None else parent.group_interval
        ),
        repeat_interval=(
            route.repeat_interval if route.repeat_interval is not None else parent.repeat_interval
        ),
    )


_DEFAULTS = RouteMatch(
    path="",
    receiver=None,
    group_by=(),
    group_wait=DEFAULT_GROUP_WAIT,
    group_interval=DEFAULT_GROUP_INTERVAL,
    repeat_interval=DEFAULT_REPEAT_INTERVAL,
)


class Router:
    """Matches alert labels against a route tree; routes without a receiver drop the alert."""

    def __init__(self, root: RouteConfig) -> None:
        self._root = root

    def receivers(self, alert: Alert) -> set[str]:
        """The receivers the routes an alert matches name."""
        return {m.receiver for m in self.match(alert_labels(alert)) if m.receiver is not None}

    def match(self, labels: Mapping[str, str]) -> list[RouteMatch]:
        found = self._match(self._root, _effective(self._root, _DEFAULTS, "root"), labels)
        return [m for m in found if m.receiver is not None]

    def _match(
        self, route: RouteConfig, here: RouteMatch, labels: Mapping[str, str]
    ) -> list[RouteMatch]:
        found: list[RouteMatch] = []
        for index, child in enumerate(route.routes):
            if not matches_all(child.matchers, labels):
                continue
            found.extend(
                self._match(child, _effective(child, here, f"{here.path}.{index}"), labels)
            )
            if not child.continue_:
                break
        return found or [here]
