"""deploy/Dockerfile: what it installs, copies and runs, read from the file.

No image is built here (no container engine); the slow test below does the Dockerfile's
install and build steps in a plain virtual environment instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.deploy.names import DEPLOY, UVICORN, check_command
from tests.process import ROOT

pytestmark = pytest.mark.once

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def instructions(keyword: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        line.split(None, 1)[1]
        for line in joined.splitlines()
        if line.split(None, 1)[:1] == [keyword]
    ]


def lock_pins(name: str) -> dict[str, str]:
    text = (ROOT / name).read_text()
    return dict(re.findall(r"^([a-z0-9._-]+)==(\S+)", text, flags=re.MULTILINE))


def test_two_stages_on_python_3_11_slim():
    assert instructions("FROM") == ["python:3.11-slim AS builder", "python:3.11-slim"]


def test_the_image_installs_the_runtime_lock_with_its_hashes():
    (run,) = [r for r in instructions("RUN") if "pip install" in r]
    assert "--require-hashes --no-deps" in run
    assert "requirements-runtime.lock" in run


def test_the_runtime_lock_pins_what_the_development_lock_pins_less_the_dev_extra():
    runtime, full = lock_pins("requirements-runtime.lock"), lock_pins("requirements.lock")
    assert runtime, "requirements-runtime.lock is empty"
    assert {name: full.get(name) for name in runtime} == runtime
    assert not {"pytest", "ruff", "mypy", "hypothesis"} & set(runtime)
    assert {"django", "uvicorn", "psycopg"} <= set(runtime)


def test_the_image_runs_as_uid_10001_with_its_var_dir_owned():
    assert instructions("USER") == ["tracker"]
    assert "--uid 10001" in DOCKERFILE
    assert "install -d -o tracker -g tracker" in DOCKERFILE
    assert "TRACKER_VAR_DIR=/var/lib/tracker" in DOCKERFILE


def test_the_default_command_is_make_servers_uvicorn():
    (cmd,) = instructions("CMD")
    argv = json.loads(cmd)
    check_command(argv)
    for option in [*UVICORN, "--workers ${WEB_CONCURRENCY}", "--timeout-graceful-shutdown 10"]:
        assert option in argv[2]
    makefile = (ROOT / "Makefile").read_text()
    assert "--no-proxy-headers" in makefile
    assert "--timeout-graceful-shutdown 10" in makefile


def test_the_healthcheck_asks_healthz():
    (check,) = instructions("HEALTHCHECK")
    assert "urllib.request.urlopen('http://127.0.0.1:8000/healthz'" in check
    assert instructions("EXPOSE") == ["8000"]


def test_tests_and_local_state_stay_out_of_the_image():
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for path in (".git", ".venv", "var", "node_modules", "tests", "docs", ".env"):
        assert path in ignored
    copied = " ".join(instructions("COPY"))
    assert "tests" not in copied


@pytest.mark.slow
def test_the_dockerfiles_steps_work_in_a_plain_venv(tmp_path):
    """Install the runtime lock as the builder does; collect the static files, pass the deploy
    checks and import the ASGI application as the image would, with none of the dev extra."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "--only-binary", ":all:",
         "-r", str(ROOT / "requirements-runtime.lock")],
        check=True,
        timeout=300,
    )  # fmt: skip
    app = tmp_path / "app"
    for name in ("config", "tracker"):
        shutil.copytree(ROOT / name, app / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "manage.py", app)
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "TRACKER_VAR_DIR": str(tmp_path / "var"),
        "TRACKER_ENV_FILE": "/dev/null",
        "PYTHONDONTWRITEBYTECODE": "1",
    }

    def run(*argv, **extra):
        return subprocess.run(
            argv, cwd=app, env={**env, **extra}, capture_output=True, text=True, timeout=120
        )

    static = run(
        "python", "manage.py", "collectstatic", "--no-input", "-v0",
        DJANGO_SECRET_KEY="collectstatic-only",
    )  # fmt: skip
    assert static.returncode == 0, static.stderr
    assert (tmp_path / "var" / "static" / "dashboard").is_dir()

    production = {
        "DJANGO_SECRET_KEY": "x" * 60 + "production-like",
        "DJANGO_ALLOWED_HOSTS": "tracker.example.com",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
        "DJANGO_SSL_REDIRECT": "true",
    }
    check = run("python", "manage.py", "check", "--deploy", "--fail-level", "ERROR", **production)
    assert check.returncode == 0, check.stdout + check.stderr
    unsafe = run("python", "manage.py", "check", "--deploy", "--fail-level", "ERROR")
    assert unsafe.returncode != 0 and "tracker.E001" in unsafe.stderr

    asgi = run("python", "-c", "import config.asgi; print(callable(config.asgi.application))",
               **production)  # fmt: skip
    assert asgi.stdout.strip() == "True", asgi.stderr
    pytest_found = run("python", "-c", "import pytest")
    assert pytest_found.returncode != 0, "the dev extra leaked into the runtime lock"
