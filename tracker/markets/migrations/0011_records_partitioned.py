"""Records range-partitioned by month on PostgreSQL (tracker.markets.partitions).

The table is renamed, a partitioned one with the same columns, primary key and foreign key
takes its name with a default partition and the months from the first record's to
TRACKER_PARTITIONS_AHEAD months ahead, and the rows are copied over, each into its month. Reversed, the rows go back into a plain
table. Nothing happens on SQLite.
"""

from datetime import UTC, datetime

from django.conf import settings
from django.db import migrations

PLAIN = "markets_record_plain"
FK = "markets_record_metric_id_b2cc7186_fk_markets_metric_id"


def _partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from tracker.markets import partitions

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE markets_record RENAME TO "{PLAIN}"')
        cursor.execute(f'ALTER INDEX markets_record_pkey RENAME TO "{PLAIN}_pkey"')
        cursor.execute(f'ALTER TABLE "{PLAIN}" DROP CONSTRAINT "{FK}"')
        cursor.execute(
            f'CREATE TABLE markets_record (LIKE "{PLAIN}" INCLUDING DEFAULTS) '
            'PARTITION BY RANGE ("timestamp")'
        )
        cursor.execute(
            "ALTER TABLE markets_record ADD CONSTRAINT markets_record_pkey "
            'PRIMARY KEY (metric_id, "timestamp")'
        )
        cursor.execute(
            f'ALTER TABLE markets_record ADD CONSTRAINT "{FK}" FOREIGN KEY (metric_id) '
            "REFERENCES markets_metric (id) DEFERRABLE INITIALLY DEFERRED"
        )
        cursor.execute("CREATE TABLE markets_record_default PARTITION OF markets_record DEFAULT")
        cursor.execute('SELECT min("timestamp") FROM markets_record_plain')
        (earliest,) = cursor.fetchone()
        # The months first, empty, so that each row is written once, straight into its month.
        partitions.partitions_ensure(
            now=datetime.now(UTC),
            ahead=settings.TRACKER_PARTITIONS_AHEAD,
            since=partitions.month_start(earliest) if earliest is not None else None,
        )
        cursor.execute(
            'INSERT INTO markets_record (metric_id, "timestamp", value) '
            'SELECT metric_id, "timestamp", value FROM markets_record_plain'
        )
        cursor.execute(f'DROP TABLE "{PLAIN}"')


def _unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f'CREATE TABLE "{PLAIN}" ("timestamp" timestamp with time zone NOT NULL, '
            '"value" double precision NOT NULL, "metric_id" bigint NOT NULL)'
        )
        cursor.execute(
            'INSERT INTO markets_record_plain (metric_id, "timestamp", value) '
            'SELECT metric_id, "timestamp", value FROM markets_record'
        )
        cursor.execute("DROP TABLE markets_record")  # and its partitions
        cursor.execute(f'ALTER TABLE "{PLAIN}" RENAME TO markets_record')
        cursor.execute(
            "ALTER TABLE markets_record ADD CONSTRAINT markets_record_pkey "
            'PRIMARY KEY (metric_id, "timestamp")'
        )
        cursor.execute(
            f'ALTER TABLE markets_record ADD CONSTRAINT "{FK}" FOREIGN KEY (metric_id) '
            "REFERENCES markets_metric (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("markets", "0010_metric_rank"),
    ]

    operations = [migrations.RunPython(_partition, _unpartition, elidable=False)]
