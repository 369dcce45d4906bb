"""A database the tracker cannot write: refused at start-up, backed off and recovered from later.

Tests run as root, and root ignores file permissions: a read-only file is made immutable
(`chattr +i`) for root and read-only (chmod) for anyone else. A read-only PostgreSQL is a
session that libpq opens read-only (`PGOPTIONS`). A full disk is a file size limit
(RLIMIT_FSIZE) put on the running tracker and lifted again; it binds root too.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.process import (
    ON_POSTGRESQL,
    ManagedProcess,
    count_records,
    manage,
    postgres_database,
    tracker_env,
)
from tests.runtime.conftest import PAIRS
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    mode = path.stat().st_mode
    path.chmod(0o444)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


@pytest.fixture
def read_only_database(request, tmp_path, kraken) -> Iterator[tuple[dict[str, str], str, str]]:
    """(environment, how the database is named, how the refusal is worded)."""
    env = tracker_env(tmp_path, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_PAIRS=PAIRS)
    if request.param == "sqlite":
        assert manage("migrate", "--no-input", env=env).returncode == 0
        database = tmp_path / "tracker.sqlite3"
        with read_only(database):
            yield env, f"the SQLite database {database}", "attempt to write a readonly database"
        return
    with postgres_database() as url:
        env["DATABASE_URL"] = url
        assert manage("migrate", "--no-input", env=env).returncode == 0
        env["PGOPTIONS"] = "-c default_transaction_read_only=on"
        name = url.rsplit("/", 1)[1]
        yield env, f"the PostgreSQL database {name} on", "read-only transaction"


@pytest.mark.parametrize(
    "read_only_database",
    ["sqlite"] + (["postgresql"] if ON_POSTGRESQL else []),
    indirect=True,
)
@pytest.mark.parametrize("command", ["runscheduler", "runtracker"])
def test_start_up_refuses_a_read_only_database_in_one_line(read_only_database, command):
    env, database, reason = read_only_database
    port = ["--port", "0"] if command == "runtracker" else []
    result = manage(command, *port, env=env, timeout=30)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"cannot write to {database}" in lines[0]
    assert reason in lines[0]


@contextmanager
def file_size_signal_ignored() -> Iterator[None]:
    # Past the limit a write fails with EFBIG; the signal that comes with it must not kill
    # the child. An ignored signal stays ignored across exec.
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGXFSZ, previous)


def test_a_full_disk_is_backed_off_in_one_line_per_failure_and_recovered_from(env, tmp_path):
    with file_size_signal_ignored(), ManagedProcess("runscheduler", env=env) as tracker:
        assert tracker.proc is not None
        wait_until(lambda: count_records(tmp_path) >= 4, timeout=20, what="a first tick")

        unlimited = resource.RLIM_INFINITY
        resource.prlimit(tracker.proc.pid, resource.RLIMIT_FSIZE, (1, unlimited))  # disk full
        wait_until(
            lambda: "failure 3 in a row" in tracker.output, timeout=30, what="three failures"
        )
        during = count_records(tmp_path)
        resource.prlimit(tracker.proc.pid, resource.RLIMIT_FSIZE, (unlimited, unlimited))
        wait_until(lambda: count_records(tmp_path) >= during + 4, timeout=30, what="storing again")
        assert tracker.stop() == 0

    output = tracker.output
    assert "Traceback" not in output
    failures = [line for line in output.splitlines() if "storing the poll of kraken failed" in line]
    assert len(failures) >= 3, output
    assert all(
        " WARNING " in line and str(tmp_path / "tracker.sqlite3") in line for line in failures
    )
    pauses = [float(m) for m in re.findall(r"next attempt in ([\d.]+)s", "\n".join(failures))]
    assert 0.5 <= pauses[0] <= 1.0 and 1.0 <= pauses[1] <= 2.0 and 2.0 <= pauses[2] <= 4.0
    assert "the database takes writes again after" in output
