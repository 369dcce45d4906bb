"""`make env`: the secret key file is the owner's alone, and an existing one is kept."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from tests.process import ROOT


def make_env(path):
    return subprocess.run(
        ["make", "--no-print-directory", "env", f"ENV_FILE={path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(autouse=True)
def _permissive_umask():
    # As a developer's shell often has (022): the target must not rely on a strict one.
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_make_env_writes_a_secret_key_only_its_owner_can_read(tmp_path):
    path = tmp_path / "x.env"
    result = make_env(path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip().removeprefix("DJANGO_SECRET_KEY=")
    assert len(key) >= 50


def test_make_env_keeps_an_existing_file_and_makes_it_owner_only(tmp_path):
    path = tmp_path / "x.env"
    path.write_text("DJANGO_SECRET_KEY=mine\n")
    path.chmod(0o644)
    result = make_env(path)
    assert result.returncode == 0, result.stderr
    assert path.read_text() == "DJANGO_SECRET_KEY=mine\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def make_dry_run(*args):
    return subprocess.run(
        ["make", "--no-print-directory", "--dry-run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_chromium_installs_debians_package_only_when_it_is_missing(tmp_path):
    missing = make_dry_run("chromium", f"CHROMIUM={tmp_path / 'chromium'}")
    assert missing.returncode == 0, missing.stderr
    assert "apt-get update" in missing.stdout
    assert "apt-get install -y -qq --no-install-recommends" in missing.stdout
    assert "chromium fonts-dejavu-core" in missing.stdout

    (tmp_path / "chromium").touch(mode=0o755)
    present = make_dry_run("chromium", f"CHROMIUM={tmp_path / 'chromium'}")
    assert present.returncode == 0, present.stderr
    assert "apt-get" not in present.stdout
