"""Child processes of the suite never read the developer's `.env`.

`make run` writes a `.env` at the repository root; a child tracker started by a test must not
pick up what it says. The project is copied (its settings resolve `.env` next to themselves),
so the `.env` planted here is not the developer's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.process import ROOT, tracker_env

pytestmark = pytest.mark.slow


def test_a_child_ignores_the_env_file_at_the_project_root(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copytree(ROOT / "config", project / "config")
    shutil.copy(ROOT / "manage.py", project / "manage.py")
    (project / "tracker").symlink_to(ROOT / "tracker")
    # A value the settings refuse: a child that reads this file fails to start.
    (project / ".env").write_text("TRACKER_RAW_RETENTION=forever\n")

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=project,
        env=tracker_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "TRACKER_RAW_RETENTION" not in result.stderr
