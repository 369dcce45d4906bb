"""The daily housekeeping runs inside the scheduler, and `manage.py prune` runs it now."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import metric_create, records_add
from tests.process import ManagedProcess, manage, tracker_env
from tests.waiting import wait_until
from tracker.markets.models import Record


def old_records(database) -> int:
    with sqlite3.connect(database) as db:
        return int(
            db.execute(
                "SELECT COUNT(*) FROM markets_record WHERE timestamp < '2020-01-01'"
            ).fetchone()[0]
        )


@pytest.mark.slow
def test_the_scheduler_runs_the_housekeeping(tmp_path, kraken):
    env = tracker_env(
        tmp_path,
        TRACKER_EXCHANGE_URL=kraken.url,
        TRACKER_PAIRS="BTC/USD",
        TRACKER_HOUSEKEEPING_DELAY="2",
    )
    for command in ("migrate", "seedpairs"):
        done = manage(command, env=env)
        assert done.returncode == 0, done.stderr
    database = tmp_path / "tracker.sqlite3"
    with sqlite3.connect(database) as db:
        (metric_id,) = db.execute("SELECT id FROM markets_metric LIMIT 1").fetchone()
        db.executemany(
            "INSERT INTO markets_record (metric_id, timestamp, value) VALUES (?, ?, ?)",
            [(metric_id, "2019-06-01 10:00:00", 1.0), (metric_id, "2019-06-01 10:01:00", 2.0)],
        )
    assert old_records(database) == 2

    with ManagedProcess("runscheduler", env=env) as tracker:
        wait_until(
            lambda: "pruned 2 records" in tracker.output, timeout=30, what="the housekeeping"
        )
        assert tracker.stop() == 0
    assert old_records(database) == 0


@pytest.mark.django_db
def test_prune_deletes_records_past_their_retention_and_keeps_the_rest(settings):
    settings.TRACKER_RAW_RETENTION = timedelta(days=30)
    now = datetime.now(UTC)
    metric = metric_create()
    records_add(metric, [1.0, 2.0, 3.0], end=now - timedelta(days=31))
    records_add(metric, [4.0, 5.0], end=now - timedelta(days=29))
    out = StringIO()

    call_command("prune", stdout=out)

    assert out.getvalue().strip() == "pruned 3 records and 0 minute rollups"
    assert sorted(Record.objects.values_list("value", flat=True)) == [4.0, 5.0]
