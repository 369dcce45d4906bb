"""Records by month on PostgreSQL: each month a partition, made ahead, dropped whole when it is
past the retention; what no month holds waits in the default partition and moves into its
month when that is made. Collected only when the suite runs on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.db import connection

from tests.factories import metric_create, records_add
from tests.postgres import database_url, scratch_database, server_connect
from tests.process import manage, tracker_env
from tracker.markets import partitions
from tracker.markets.models import Record
from tracker.runtime.housekeeping import housekeeping_run

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db]

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _homes() -> dict[str, int]:
    """Records per partition."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM markets_record GROUP BY 1")
        return dict(cursor.fetchall())


def test_the_records_table_is_partitioned_by_month():
    assert partitions.partitioned()
    metric = metric_create()
    month = partitions.month_start(datetime.now(UTC))
    records_add(metric, [1.0, 2.0], end=datetime.now(UTC))
    assert month in partitions.partitions_months()
    assert _homes() == {partitions.month_partition(month): 2}


def test_months_are_made_ahead_and_take_over_what_the_default_partition_held():
    metric = metric_create()
    far = datetime(2031, 5, 10, tzinfo=UTC)
    records_add(metric, [5.0, 6.0, 7.0], end=far)
    assert _homes() == {partitions.DEFAULT: 3}
    created = partitions.partitions_ensure(now=far, ahead=1)
    assert created[-2:] == ["markets_record_2031_05", "markets_record_2031_06"]
    assert _homes() == {"markets_record_2031_05": 3}
    assert partitions.partitions_ensure(now=far, ahead=1) == []  # nothing twice
    records_add(metric, [5.0, 6.0, 7.0], end=far)  # the same records again: not doubled
    assert Record.objects.filter(metric=metric).count() == 3


def test_housekeeping_drops_whole_months_past_the_retention_and_deletes_the_rest(settings):
    settings.TRACKER_RAW_RETENTION = timedelta(days=30)  # the cutoff: 2026-10-30 12:00
    metric = metric_create()
    partitions.partitions_ensure(now=NOW, ahead=1, since=date(2026, 8, 1))
    old = [datetime(2026, 8, 15, tzinfo=UTC), datetime(2026, 9, 15, tzinfo=UTC)]
    cut = [datetime(2026, 10, 30, 11, tzinfo=UTC), datetime(2026, 10, 30, 13, tzinfo=UTC)]
    for moment in (*old, *cut, NOW):
        records_add(metric, [1.0], end=moment)
    result = housekeeping_run(now=NOW)
    assert result.partitions == 2  # August and September, whole
    assert result.records == 1  # 30 October, 11:00, row by row
    kept = sorted(Record.objects.values_list("timestamp", flat=True))
    assert kept == [cut[1], NOW]
    assert date(2026, 8, 1) not in partitions.partitions_months()
    assert date(2027, 1, 1) in partitions.partitions_months()  # made ahead


@pytest.mark.slow
def test_the_migration_moves_existing_records_and_back(tmp_path, kraken):
    """Migrating an existing database keeps every record; migrating back too."""
    with scratch_database("partitions") as name:
        env = tracker_env(tmp_path, DATABASE_URL=database_url(name), TRACKER_PAIRS="BTC/USD")
        assert manage("migrate", "markets", "0010", env=env, timeout=120).returncode == 0
        with server_connect(name) as db:
            _seed_plain(db)
        migrated = manage("migrate", env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        with server_connect(name) as db:
            homes = dict(
                db.execute(
                    "SELECT tableoid::regclass::text, count(*) FROM markets_record GROUP BY 1"
                ).fetchall()
            )
            assert sum(homes.values()) == 24 * 70
            assert len(homes) >= 3 and partitions.DEFAULT not in homes
        back = manage("migrate", "markets", "0010", env=env, timeout=120)
        assert back.returncode == 0, back.stderr
        with server_connect(name) as db:
            assert db.execute("SELECT count(*) FROM markets_record").fetchone() == (24 * 70,)


def _seed_plain(db: psycopg.Connection) -> None:
    """Seventy days of hourly records of one metric, in the unpartitioned table."""
    db.execute(
        "INSERT INTO markets_exchange (name, base_url, ws_url, enabled, interval, mode, "
        "last_error, consecutive_failures, created_at) "
        "VALUES ('kraken', '', '', true, 60, 'poll', '', 0, now())"
    )
    db.execute(
        "INSERT INTO markets_pair (exchange_id, symbol, status, status_reason, created_at) "
        "SELECT id, 'BTC/USD', 'active', '', now() FROM markets_exchange"
    )
    db.execute(
        "INSERT INTO markets_metric (pair_id, kind, version, changed_at) "
        "SELECT id, 'price', 0, now() FROM markets_pair"
    )
    db.execute(
        "INSERT INTO markets_record (metric_id, timestamp, value) "
        "SELECT (SELECT id FROM markets_metric), t, 1.0 FROM generate_series("
        "now() - interval '70 days' + interval '1 hour', now(), interval '1 hour') t"
    )
    db.commit()
