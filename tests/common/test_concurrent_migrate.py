"""Two processes starting at once on a fresh database both migrate it (`make server` and
`make scheduler` side by side): one waits for the other's lock instead of failing."""

from __future__ import annotations

import fcntl
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.process import ON_POSTGRESQL, ROOT, ManagedProcess, postgres_database, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
BACKENDS = ["sqlite"] + (["postgresql"] if ON_POSTGRESQL else [])


@pytest.fixture
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database of the backend under test, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    with postgres_database() as url:
        yield url


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


def test_migrate_waits_for_the_lock_another_process_holds(tmp_path):
    """Deterministic: the test holds the lock; migrate says it waits, touches nothing, and
    finishes once the lock is released."""
    database = tmp_path / "fresh.sqlite3"
    env = tracker_env(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    lock = (tmp_path / "fresh.sqlite3.migrate-lock").open("a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    with ManagedProcess("migrate", "--no-input", env=env) as child:
        wait_until(
            lambda: "another process is migrating" in child.output,
            timeout=60,
            what="migrate to wait for the lock",
        )
        assert child.alive()
        assert (
            not database.exists()
            or not sqlite3.connect(database)
            .execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetchall()
        )
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        assert child.proc is not None and child.proc.wait(timeout=120) == 0, child.output
    tables = sqlite3.connect(database).execute("SELECT name FROM sqlite_master").fetchall()
    assert ("markets_record",) in tables
