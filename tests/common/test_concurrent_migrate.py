"""Two processes starting at once on a fresh database both migrate it (`make server` and
`make scheduler` side by side): one waits for the other's lock instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.process import ROOT, tracker_env

pytestmark = pytest.mark.slow
OUTER_DATABASE = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if OUTER_DATABASE.startswith("postgres") else [])


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database of the backend under test, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    import psycopg

    name = f"tracker_migrate_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(OUTER_DATABASE)
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_twice_at_once(env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    children = [
        subprocess.Popen(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(child.args, child.returncode, out, err))
    return results


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
@pytest.mark.parametrize("attempt", range(3))
def test_two_migrations_started_together_both_succeed(tmp_path, database_url, attempt):
    env = tracker_env(tmp_path, DATABASE_URL=database_url)
    results = migrate_twice_at_once(env)
    for result in results:
        assert result.returncode == 0, result.stderr
    check = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
