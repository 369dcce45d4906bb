"""Scratch PostgreSQL databases for server processes, next to the one the suite runs on.

Only for tests marked `postgresql`, which are collected when the suite runs on PostgreSQL.
The suite's own role creates and drops them (it may create databases).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from psycopg import sql


def _server() -> dict[str, Any]:
    db: dict[str, Any] = settings.DATABASES["default"]
    return {
        "host": str(db["HOST"] or "127.0.0.1"),
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }


def server_address() -> tuple[str, int]:
    server = _server()
    return server["host"], server["port"]


def server_connect(dbname: str = "postgres") -> psycopg.Connection[Any]:
    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=5, **_server())


def database_url(name: str, *, host: str | None = None, port: int | None = None) -> str:
    """A DATABASE_URL for `name` on the suite's server, or reached through `host:port`."""
    server = _server()
    password = f":{server['password']}" if server["password"] else ""
    return (
        f"postgres://{server['user']}{password}@{host or server['host']}:"
        f"{port or server['port']}/{name}"
    )


@contextmanager
def scratch_database(purpose: str) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards. Yields its name."""
    name = f"{settings.DATABASES['default']['NAME']}_{purpose}_{os.getpid()}"
    with server_connect() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with server_connect() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def connection_count(admin: psycopg.Connection[Any], name: str) -> int:
    """Sessions open on database `name`, whoever opened them."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = %s AND backend_type = 'client backend'",
        [name],
    ).fetchone()
    assert row is not None
    return int(row[0])
