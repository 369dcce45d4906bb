"""Two processes starting at once on a fresh database both migrate it (`make server` and
`make scheduler` side by side): one waits for the other's lock instead of failing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.process import ON_POSTGRESQL, ROOT, postgres_database, tracker_env

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
