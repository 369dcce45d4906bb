"""The tracker the browser tests look at: `runtracker` in a child process, on its own migrated
SQLite file, polling a stand-in Kraken every second, with a day of history and two users."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tests.fakes.kraken import FakeKraken
from tests.process import manage, tracker_env
from tests.server import TrackerServer

from .seed import history_write

PAIRS = ("BTC/USD", "ETH/USD", "SOL/USD")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


STAFF = Credentials("ada", "ada's long staff passphrase")
USER = Credentials("grace", "grace's long user passphrase")


class LiveTracker:
    """Use as a context manager; `url` is the server's root, `kraken` its exchange (set prices
    with `kraken.prices.set(symbol, value)`; the next poll, within a second or two, stores it)."""

    staff = STAFF
    user = USER
    pairs = PAIRS

    def __init__(self, workdir: Path, *, migrated: Path | None = None) -> None:
        """`migrated`: a freshly migrated SQLite file to start from (a copy is used), to save
        running the migrations for every tracker."""
        self.workdir = workdir
        self.migrated = migrated
        self.kraken = FakeKraken()
        self.env: dict[str, str] = {}
        self.server: TrackerServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "the tracker is not running"
        return self.server.url

    def __enter__(self) -> LiveTracker:
        self.kraken.start()
        try:
            self.env = tracker_env(
                self.workdir,
                TRACKER_EXCHANGE_URL=self.kraken.url,
                TRACKER_PAIRS=",".join(PAIRS),
                TRACKER_DASHBOARD_REFRESH="2",  # ranks reach the overview within seconds
                TRACKER_ALLOW_PRIVATE_WEBHOOKS="true",  # alerts go to a receiver on this host
                TRACKER_ALERT_POLL="0.2",
            )
            database = self.workdir / "tracker.sqlite3"
            if self.migrated is None:
                self.manage("migrate", "--no-input")
            else:
                shutil.copyfile(self.migrated, database)
            history = self.workdir / "history.json"
            history_write(history, symbols=list(PAIRS), prices=self.kraken.prices)
            # One child for all of it: each `manage.py` start costs about a second.
            self.shell(
                f"from tests.browser.seed import tracker_seed\n"
                f"tracker_seed({str(history)!r})\n"
                + _user_code(STAFF.username, STAFF.password, staff=True)
                + _user_code(USER.username, USER.password, staff=False)
            )
            self.server = TrackerServer(env=self.env).__enter__()
        except BaseException:
            self.kraken.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self.server is not None:
                self.server.__exit__(exc_type, exc, tb)
        finally:
            self.kraken.stop()

    def manage(self, *args: str, timeout: float = 60) -> str:
        """Run a `manage.py` command on the tracker's database; its output, or a failure."""
        done = manage(*args, env=self.env, timeout=timeout)
        assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def shell(self, code: str) -> str:
        """Run Python in `manage.py shell` on the tracker's database; what it printed."""
        return self.manage("shell", "--no-imports", "-c", code)

    def user_create(self, username: str, password: str, *, staff: bool = False) -> None:
        self.shell(_user_code(username, password, staff=staff))

    def output(self) -> str:
        """What the server has logged so far."""
        return self.server.output if self.server is not None else ""


def _user_code(username: str, password: str, *, staff: bool) -> str:
    return (
        "from django.contrib.auth.models import User\n"
        f"User.objects.create_user({username!r}, password={password!r}, is_staff={staff!r})\n"
    )


def database_migrated(workdir: Path) -> Path:
    """A freshly migrated SQLite file in `workdir`, for `LiveTracker(migrated=...)`."""
    done = manage("migrate", "--no-input", env=tracker_env(workdir))
    assert done.returncode == 0, f"manage.py migrate failed:\n{done.stderr}"
    return workdir / "tracker.sqlite3"
