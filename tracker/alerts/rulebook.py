"""The enabled alert rules, kept in memory between evaluations and read again when they change.

An evaluation after every tick must not load thousands of rules each time. `RuleBook` keeps
them as plain values, grouped by metric (or kind), window and direction, each group sorted by
factor: for one record and one window's average, the rules whose condition holds are a prefix
of the group, found by bisection, so a tick where nothing fires costs a few operations per
group, not one per rule. It checks one small query per evaluation: the rules' count, newest
change and highest id. Every write of a rule goes through `alerts.services`, which stamps
`changed_at` (metrics and channels included), so any change, deletion or creation moves that
triple and the book is read again; so does a minute without a reload, which also catches two
writes whose stamps commit out of order.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from tracker.common.clock import as_utc
from tracker.markets.models import Metric

from .models import AlertRule

RELOAD_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RuleView:
    """What evaluating a rule needs of it."""

    id: int
    name: str
    kind: str
    direction: str
    factor: float
    window_seconds: int
    cooldown: int
    min_samples: int
    notify_resolved: bool
    muted_until: datetime | None

    def muted(self, at: datetime) -> bool:
        return self.muted_until is not None and at < self.muted_until


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """Rules of one window and direction on the same metrics, by ascending factor."""

    window_seconds: int
    direction: str
    factors: tuple[float, ...]
    rules: tuple[RuleView, ...]


def _grouped(rules: Iterable[RuleView]) -> list[RuleGroup]:
    by: dict[tuple[int, str], list[RuleView]] = defaultdict(list)
    for rule in rules:
        by[(rule.window_seconds, rule.direction)].append(rule)
    groups = []
    for (window, direction), members in sorted(by.items()):
        members.sort(key=lambda rule: rule.factor)
        groups.append(
            RuleGroup(window, direction, tuple(r.factor for r in members), tuple(members))
        )
    return groups


class RuleBook:
    """The enabled rules by metric and by kind; `watching` is all an evaluation asks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[object, ...] | None = None
        self._by_metric: dict[int, list[RuleView]] = {}
        self._by_kind: dict[str, list[RuleView]] = {}
        self._groups_of_metric: dict[int, list[RuleGroup]] = {}
        self._groups_of_kind: dict[str, list[RuleGroup]] = {}
        self._rules: dict[int, RuleView] = {}
        self._kinds: dict[int, str] = {}
        self._read_at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._version = None
            self._kinds.clear()

    def rule(self, rule_id: int) -> RuleView | None:
        """An enabled rule by id, as of the last `watching`."""
        return self._rules.get(rule_id)

    def watching(self, *, metric_ids: Iterable[int]) -> dict[int, list[RuleGroup]]:
        """The groups of enabled rules watching each metric that any rule watches."""
        ids = list(metric_ids)
        with self._lock:
            self._refresh()
            unknown = [m for m in ids if m not in self._kinds]
            if unknown and self._by_kind:
                self._kinds.update(Metric.objects.filter(id__in=unknown).values_list("id", "kind"))
            found: dict[int, list[RuleGroup]] = {}
            for metric_id in ids:
                groups = self._groups_of_metric.get(metric_id, []) + self._groups_of_kind.get(
                    self._kinds.get(metric_id, ""), []
                )
                if groups:
                    found[metric_id] = groups
            return found

    def _refresh(self) -> None:
        table = connection.ops.quote_name(AlertRule._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*), MAX(changed_at), MAX(id) FROM {table}")  # noqa: S608
            version = tuple(cursor.fetchone())
        if version == self._version and time.monotonic() - self._read_at < RELOAD_SECONDS:
            return
        self._read_at = time.monotonic()
        by_metric: dict[int, list[RuleView]] = defaultdict(list)
        by_kind: dict[str, list[RuleView]] = defaultdict(list)
        rules = {
            rule.id: rule
            for rule in (
                RuleView(
                    id=rule_id,
                    name=name,
                    kind=kind,
                    direction=direction,
                    factor=factor,
                    window_seconds=window,
                    cooldown=window if cooldown is None else cooldown,
                    min_samples=min_samples,
                    notify_resolved=notify_resolved,
                    muted_until=as_utc(muted_until),
                )
                for (
                    rule_id, name, kind, direction, factor, window, cooldown, min_samples,
                    notify_resolved, muted_until,
                ) in AlertRule.objects.filter(enabled=True).values_list(
                    "id", "name", "kind", "direction", "factor", "window_seconds",
                    "cooldown_seconds", "min_samples", "notify_resolved", "muted_until",
                )
            )
        }  # fmt: skip
        for rule in rules.values():
            if rule.kind:
                by_kind[rule.kind].append(rule)
        listed = AlertRule.metrics.through.objects.filter(alertrule__enabled=True).values_list(
            "alertrule_id", "metric_id"
        )
        for rule_id, metric_id in listed:
            listing = rules.get(rule_id)
            if listing is not None and not listing.kind:
                by_metric[metric_id].append(listing)
        self._by_metric, self._by_kind, self._rules = dict(by_metric), dict(by_kind), rules
        self._groups_of_metric = {m: _grouped(rules) for m, rules in by_metric.items()}
        self._groups_of_kind = {k: _grouped(rules) for k, rules in by_kind.items()}
        self._version = version
