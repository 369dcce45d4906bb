"""The migration from Pair.active to Pair.status keeps which pairs were paused, both ways."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("markets", "0003_data_version_row")]
AFTER = [("markets", "0004_pair_status")]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_inactive_pairs_become_paused_and_back():
    apps = migrate(BEFORE)
    exchange = apps.get_model("markets", "Exchange").objects.create(name="kraken")
    pair_model = apps.get_model("markets", "Pair")
    pair_model.objects.create(exchange=exchange, symbol="BTC/USD", active=True)
    pair_model.objects.create(exchange=exchange, symbol="LTC/USD", active=False)

    apps = migrate(AFTER)
    statuses = dict(apps.get_model("markets", "Pair").objects.values_list("symbol", "status"))
    assert statuses == {"BTC/USD": "active", "LTC/USD": "paused"}

    apps = migrate(BEFORE)
    active = dict(apps.get_model("markets", "Pair").objects.values_list("symbol", "active"))
    assert active == {"BTC/USD": True, "LTC/USD": False}


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    yield
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())
