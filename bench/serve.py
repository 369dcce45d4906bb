"""Serving cached answers: the production server against a bare Django view, under wrk.

A scratch SQLite database gets 50 metrics with a record every 10 seconds for 24 hours. The
server runs as `make server` runs it (`--server` to try another command line; `{settings}`,
`{port}` and `{workers}` are filled in), with the tracker's settings plus one URL, `/bare`: a
plain Django view returning a small JSON object through the same middleware (bench/serve_urls.py).
wrk, in its own process (installed from Debian if missing), drives each endpoint for
`--seconds` with `--connections` connections; the rounds are interleaved and the median round
of each endpoint is reported, with its ratio to the bare view of the same round.

Floors: a bare view answering a small JSON object, and one answering a body as large as the
records' (`bare, same body`), which shows what moving the bytes costs by itself. Endpoints: the
metric detail, 24 hours of records (8,640 of them, the window pinned by `since`
and `until` so that its answer does not move on with the clock during the run), and that same
request with If-None-Match (a 304, checked to still be one after each round). Every request
after the first is answered from the cache.

    .venv/bin/python bench/serve.py [--rounds 3] [--seconds 10] [--connections 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.history import build, setup_django  # noqa: E402

DEFAULT_SERVER = (
    f"{ROOT / '.venv/bin/uvicorn'} config.asgi:application --host 127.0.0.1 --port {{port}} "
    "--no-proxy-headers --workers {workers}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", default=DEFAULT_SERVER, help="the server's command line")
    args = parser.parse_args()
    wrk = _wrk()

    scratch = Path(tempfile.mkdtemp(prefix="tracker-serve-"))
    database = scratch / "serve.sqlite3"
    setup_django(database)
    end = datetime.now(UTC).replace(microsecond=0)
    metric = build(metrics=50, days=1, step=10, end=end)[0]
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.serve_site",
        "DJANGO_SECRET_KEY": "bench-serve",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "TRACKER_THROTTLE_ANON": "100000000/min",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = args.server.format(port=port, workers=args.workers, settings="bench.serve_site")
    log = (scratch / "server.log").open("wb")  # the access log: a pipe nobody read would fill
    server = subprocess.Popen(
        shlex.split(command),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_listening(port, server, scratch / "server.log")
        window = (
            f"since={(end - timedelta(days=1)):%Y-%m-%dT%H:%M:%SZ}&until={end:%Y-%m-%dT%H:%M:%SZ}"
        )
        records = f"{base}/api/v1/metrics/{metric}/records?{window}"
        etag, size = _etag(records)
        endpoints = {
            "bare Django view": (f"{base}/bare", []),
            "bare, same body": (f"{base}/bare/{size}", []),
            "metric detail": (f"{base}/api/v1/metrics/{metric}", []),
            "records, 24 h": (records, []),
            "records, 304": (records, ["-H", f"If-None-Match: {etag}"]),
        }
        for url, headers in endpoints.values():  # warm every worker's cache and connections
            _run_wrk(wrk, url, headers, seconds=2, connections=args.connections)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in endpoints}
        rss = [_worker_rss(server.pid)]
        for _ in range(args.rounds):
            for name, (url, headers) in endpoints.items():
                results[name].append(
                    _run_wrk(wrk, url, headers, seconds=args.seconds, connections=args.connections)
                )
            rss.append(_worker_rss(server.pid))
            _check_not_modified(records, etag)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"serving cached answers: {command.split()[0].rsplit('/', 1)[-1]}, {args.workers} "
        f"workers, wrk {args.connections} connections x {args.seconds:g} s, "
        f"median of {args.rounds} interleaved rounds"
    )
    print(
        f"  {'endpoint':<18}  {'req/s':>8}  {'p50':>8}  {'p99':>8}  {'ratio to bare':>13}"
        f"  {'to same body':>12}"
    )
    floor = statistics.median(r[0] for r in results["bare Django view"])
    sized_floor = statistics.median(r[0] for r in results["bare, same body"])
    for name, rounds in results.items():
        rate, p50, p99 = (statistics.median(r[i] for r in rounds) for i in range(3))
        sized = f"{rate / sized_floor:>12.2f}" if name == "records, 24 h" else ""
        print(
            f"  {name:<18}  {rate:>8,.0f}  {p50 * 1000:>6.1f}ms  {p99 * 1000:>6.1f}ms"
            f"  {rate / floor:>13.2f}  {sized}".rstrip()
        )
    served = sum(rate * args.seconds for rounds in results.values() for rate, _, _ in rounds)
    print(f"  server processes' RSS (MiB) after warming up and after each round ({served:,.0f}")
    print(f"  requests in all): {' | '.join(_mib(sizes) for sizes in rss)}")


def _mib(sizes: list[int]) -> str:
    return ", ".join(f"{kib / 1024:.0f}" for kib in sizes)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing: installing it from Debian (apt-get install wrk)", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not listen within 60 s")


def _etag(url: str) -> tuple[str, int]:
    """The answer's ETag and its body's size in bytes."""
    with urllib.request.urlopen(url, timeout=30) as answer:
        return str(answer.headers["ETag"]), len(answer.read())


def _check_not_modified(url: str, etag: str) -> None:
    request = urllib.request.Request(url, headers={"If-None-Match": etag})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as answer:
        status = answer.code
    if status != 304:
        raise SystemExit(f"the conditional request answered {status}, not 304")


LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _run_wrk(
    wrk: str, url: str, headers: list[str], *, seconds: float, connections: int
) -> tuple[float, float, float]:
    """(requests per second, p50, p99 in seconds) of one wrk run; non-2xx/3xx answers fail it."""
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx or 3xx responses" in out:
        raise SystemExit(f"{url} answered errors under load:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {p: float(v) * UNITS[u] for p, v, u in LATENCY.findall(out)}
    return rate, latency["50"], latency["99"]


def _worker_rss(pid: int) -> list[int]:
    """Resident memory (KiB) of the server's processes: the workers, or the server itself."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    found = []
    for child in children or [str(pid)]:
        status = Path(f"/proc/{child}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            found.append(int(match.group(1)))
    return found


if __name__ == "__main__":
    main()
