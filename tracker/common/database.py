"""The database as the operator knows it: its name in messages, and whether it takes writes."""

from __future__ import annotations

import contextlib

from django.db import DatabaseError, connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import Error


def database_describe(*, alias: str = "default") -> str:
    """'the SQLite database /path/file' or 'the PostgreSQL database name on host:port'."""
    settings = connections[alias].settings_dict
    if connections[alias].vendor == "sqlite":
        return f"the SQLite database {settings['NAME']}"
    where = f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}"
    return f"the {connections[alias].display_name} database {settings['NAME']} on {where}"


def database_error_text(exc: BaseException) -> str:
    """The first line of a database error: drivers add context lines nobody needs in a log."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def database_write_refusal(*, alias: str = "default") -> str | None:
    """None when the database takes a committed write; otherwise why it does not.

    The write changes nothing (one row of Django's migration history is set to itself), but it
    is committed, so a read-only file, a read-only server or a full disk shows here and not on
    the first poll.
    """
    connection = connections[alias]
    try:
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            table = connection.ops.quote_name(MigrationRecorder.Migration._meta.db_table)
            cursor.execute(
                f"UPDATE {table} SET app = app WHERE id = (SELECT MIN(id) FROM {table})"  # noqa: S608
            )
    except DatabaseError as exc:
        return database_error_text(exc)
    finally:
        with contextlib.suppress(Error):
            connection.close()  # the serving threads open their own
    return None


def connections_drop() -> None:
    """Close this thread's database connections, broken or not, without raising.

    After a database error the connection may be unusable (a lost server, a failed
    transaction); the next query then opens a fresh one.
    """
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(Error):
            connection.close()
