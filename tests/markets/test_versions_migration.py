"""The migration from the global DataVersion to versions per metric keeps when data changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("markets", "0004_pair_status")]
AFTER = [("markets", "0005_metric_versions")]
CHANGED = datetime(2024, 3, 1, 12, 0, 0, 310744, tzinfo=UTC)


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_metrics_with_data_start_at_version_one_and_back():
    apps = migrate(BEFORE)
    apps.get_model("markets", "DataVersion").objects.filter(id=1).update(
        version=41, changed_at=CHANGED
    )
    exchange = apps.get_model("markets", "Exchange").objects.create(name="kraken")
    pair = apps.get_model("markets", "Pair").objects.create(exchange=exchange, symbol="BTC/USD")
    metric_model = apps.get_model("markets", "Metric")
    metric_model.objects.create(pair=pair, kind="price", reference=100.0)
    metric_model.objects.create(pair=pair, kind="volume")  # nothing stored yet

    apps = migrate(AFTER)
    versions = dict(apps.get_model("markets", "Metric").objects.values_list("kind", "version"))
    assert versions == {"price": 1, "volume": 0}
    changed = dict(apps.get_model("markets", "Metric").objects.values_list("kind", "changed_at"))
    assert changed == {"price": CHANGED, "volume": None}

    apps = migrate(BEFORE)
    row = apps.get_model("markets", "DataVersion").objects.values_list("version", "changed_at")
    assert list(row) == [(1, CHANGED)]


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    yield
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())
