"""Clients generated from the served schema work, typed, for what users do with the API.

Against a live tracker on the stand-in exchange:
- openapi-typescript's types of `/api/v1/schema` accept the tracker's real answers under
  `tsc --strict` (and reject an answer given the wrong type, so the check can fail);
- openapi-python-client generates `tracker_client`; `client/driver.py`, a user's program over
  it, must pass `mypy --strict` and then run: reads with a plain client, raw and bucketed
  records, CSV, paging by cursor to the end, token login, `/me`, a pair PATCH, and a 400, 404
  and 429 surfaced as typed errors.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.kraken import FakeKraken
from tests.process import ROOT, count_records, manage, tracker_env
from tests.server import TrackerServer
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.once]
DRIVER = Path(__file__).parent / "client" / "driver.py"
BIN = Path(sys.executable).parent
ADMIN = {"TRACKER_ADMIN_USER": "ops", "TRACKER_ADMIN_PASSWORD": "a long admin passphrase"}
# No post-generation hooks (they would run ruff over the client): the client as generated.
GENERATOR_CONFIG = "post_hooks: []\npackage_name_override: tracker_client\n"


NODE_BIN = ROOT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackerServer]:
    tmp_path = tmp_path_factory.mktemp("tracker")
    with FakeKraken() as kraken:
        env = tracker_env(
            tmp_path,
            TRACKER_EXCHANGE_URL=kraken.url,
            TRACKER_PAIRS="BTC/USD,ETH/USD",
            TRACKER_THROTTLE_TOKEN="5/min",
            **ADMIN,
        )
        for command in ("migrate", "createadmin"):
            done = manage(command, env=env)
            assert done.returncode == 0, done.stderr
        with TrackerServer(env=env) as server:
            wait_until(lambda: count_records(tmp_path) >= 4 * 4, timeout=60, what="four ticks")
            yield server


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# (path in the schema, method, status, URL path and query, JSON body): real answers to type.
M = "/api/v1/metrics/{metric_id}"
ANSWERS = [
    ("/api/v1/metrics", "get", 200, "/api/v1/metrics", None),
    (M, "get", 200, "/api/v1/metrics/1", None),
    (M, "get", 404, "/api/v1/metrics/999", None),
    (f"{M}/records", "get", 200, "/api/v1/metrics/1/records", None),
    (f"{M}/records", "get", 400, "/api/v1/metrics/1/records?limit=0", None),
    (f"{M}/buckets", "get", 200, "/api/v1/metrics/1/buckets?interval=1m", None),
    ("/api/v1/exchanges", "get", 200, "/api/v1/exchanges", None),
    ("/api/v1/pairs", "get", 200, "/api/v1/pairs", None),
    ("/api/v1/pairs/{pair_id}", "patch", 200, "/api/v1/pairs/1", {"active": True}),
    ("/api/v1/me", "get", 200, "/api/v1/me", None),
    ("/api/v1/auth/tokens", "get", 200, "/api/v1/auth/tokens", None),
]  # fmt: skip
TYPES = """import type { paths } from "./api";
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number> =
  paths[P][M] extends { responses: infer R }
    ? S extends keyof R
      ? R[S] extends { content: { "application/json": infer B } } ? B : never
      : never
    : never;
"""


def test_typescript_types_accept_the_real_answers(tracker: TrackerServer, tmp_path: Path):
    assert (NODE_BIN / "tsc").exists(), "npm ci installs typescript (make test does it)"
    schema = httpx.get(f"{tracker.url}/api/v1/schema?format=json", timeout=30)
    (tmp_path / "schema.json").write_bytes(schema.content)
    run(NODE_BIN / "openapi-typescript", "schema.json", "-o", "api.d.ts", cwd=tmp_path)

    credentials = {
        "username": ADMIN["TRACKER_ADMIN_USER"],
        "password": ADMIN["TRACKER_ADMIN_PASSWORD"],
    }
    issued = httpx.post(f"{tracker.url}/api/v1/auth/token", json=credentials, timeout=30)
    assert issued.status_code == 201, issued.text
    answers = [("/api/v1/auth/token", "post", 201, issued.json())]
    with httpx.Client(base_url=tracker.url, timeout=30) as client:
        client.headers["Authorization"] = f"Bearer {issued.json()['token']}"
        for path, method, status, url, body in ANSWERS:
            response = client.request(method.upper(), url, json=body)
            assert response.status_code == status, (url, response.text)
            answers.append((path, method, status, response.json()))
    lines = [
        f"export const answer{i}: Answer<{json.dumps(path)}, {json.dumps(method)}, {status}> = "
        f"{json.dumps(body)};"
        for i, (path, method, status, body) in enumerate(answers)
    ]
    (tmp_path / "answers.ts").write_text(TYPES + "\n".join(lines) + "\n")
    tsc: list[str | Path] = [NODE_BIN / "tsc", "--strict", "--noEmit", "--target", "es2022"]
    run(*tsc, "answers.ts", cwd=tmp_path)

    # The same check fails on an answer of another type: buckets are not records.
    buckets = next(body for path, _, _, body in answers if path.endswith("/buckets"))
    wrong = f'export const w: Answer<"{M}/records", "get", 200> = {json.dumps(buckets)};'
    (tmp_path / "wrong.ts").write_text(TYPES + wrong + "\n")
    refused = subprocess.run(
        [str(a) for a in (*tsc, "wrong.ts")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode != 0 and "wrong.ts" in refused.stdout, refused.stdout


def test_a_generated_client_drives_the_api_typed(tracker: TrackerServer, tmp_path: Path):
    schema = httpx.get(f"{tracker.url}/api/v1/schema?format=json", timeout=30)
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "generator.yaml").write_text(GENERATOR_CONFIG)
    run(
        BIN / "openapi-python-client", "generate", "--path", "schema.json", "--meta", "none",
        "--output-path", "site/tracker_client", "--config", "generator.yaml", cwd=tmp_path,
    )  # fmt: skip
    shutil.copy(DRIVER, tmp_path / "driver.py")

    env = {
        "PATH": str(BIN),
        "PYTHONPATH": str(tmp_path / "site"),
        "MYPYPATH": str(tmp_path / "site"),
    }
    checked = run(
        sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", ".mypy",
        "driver.py", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert "Success: no issues found" in checked
    ran = run(
        sys.executable, "driver.py", tracker.url, ADMIN["TRACKER_ADMIN_USER"],
        ADMIN["TRACKER_ADMIN_PASSWORD"], cwd=tmp_path, env=env,
    )  # fmt: skip
    assert "generated client: all checks passed" in ran
