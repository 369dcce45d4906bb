"""`make demo` works offline: the replaying stand-in exchange, the tracker, the API filling up."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import httpx
import pytest

from tests.process import ROOT, free_port, tracker_env
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def test_make_demo_serves_replayed_prices(tmp_path):
    port, exchange_port = free_port(), free_port()
    command = [
        "make", "--no-print-directory", "demo", f"PORT={port}",
        f"DEMO_EXCHANGE_PORT={exchange_port}",
        f"DEMO_DATABASE_URL=sqlite:///{tmp_path / 'demo.sqlite3'}",
        f"ENV_FILE={tmp_path / 'demo.env'}",
    ]  # fmt: skip
    demo = subprocess.Popen(
        command,
        cwd=ROOT,
        env=tracker_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make, the stand-in and the tracker: one group to stop
    )
    lines: list[str] = []
    assert demo.stdout is not None
    threading.Thread(target=lambda: lines.extend(demo.stdout or ()), daemon=True).start()
    base = f"http://127.0.0.1:{port}/api/v1"

    def moving_prices() -> list[float]:
        try:
            values = [r["value"] for r in httpx.get(f"{base}/metrics/1/records").json()]
        except (httpx.TransportError, ValueError, TypeError):
            return []
        return values if len(set(values)) >= 3 else []

    try:
        prices = wait_until(moving_prices, timeout=60, what="replayed prices in the API")
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
    assert all(price > 0 for price in prices)
    assert "stand-in Kraken at" in "".join(lines)
    assert "Traceback" not in "".join(lines)
