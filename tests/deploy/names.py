"""What the deployment files may name: entry points and settings, found in the code.

Some names belong to work that lands beside deploy/ (the Celery app and the observability
endpoints); they are listed in ASSUMED with where they come from, so that a rename there shows
up here as a failing test once both are in the tree.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from tests.process import ROOT

DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "crypto-tracker"

# Read by code outside config/ and tracker/, or by code that lands with another part.
ASSUMED = {
    "TRACKER_SCHEDULER": "celery or the embedded scheduler (the Celery work)",
    "TRACKER_LOG_FORMAT": "json or plain logs (the observability work)",
    "TRACKER_METRICS_TOKEN": "the bearer token of GET /metrics (the observability work)",
    "PROMETHEUS_MULTIPROC_DIR": "read by prometheus_client itself",
}
# Read by the deployment files themselves, not by the tracker.
DEPLOY_ONLY = {
    "WEB_CONCURRENCY": "uvicorn's --workers in the web command",
    "POSTGRES_PASSWORD": "the compose file's postgres service",
    "FLOWER_BASIC_AUTH": "the compose file's flower service",
}
# The Celery queues the worker commands may name (the Celery work's routing).
CELERY_QUEUES = {"poll", "alerts", "housekeeping", "stream"}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# `make server`'s options, the web command's in every deployment file.
UVICORN = ["uvicorn", "config.asgi:application", "--no-proxy-headers"]


@cache
def settings_read_by_code() -> frozenset[str]:
    """Every environment variable name that config/ or tracker/ reads."""
    names: set[str] = set()
    pattern = re.compile(
        r"""env\.\w+\(\s*["']([A-Z][A-Z0-9_]+)["']|environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)"""
    )
    for path in [*Path(ROOT, "config").rglob("*.py"), *Path(ROOT, "tracker").rglob("*.py")]:
        for match in pattern.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    return frozenset(names)


def known_setting(name: str) -> bool:
    return name in settings_read_by_code() or name in ASSUMED or name in DEPLOY_ONLY


@cache
def manage_commands() -> frozenset[str]:
    from django.core.management import get_commands

    return frozenset(get_commands())


def check_command(argv: list[str]) -> None:
    """Fail unless argv starts one of the project's entry points, with names that exist."""
    if argv[:2] == ["sh", "-c"]:
        argv = argv[2].split()
        assert argv[0] == "exec", argv
        argv = argv[1:]
    if argv[0] == "python":
        assert argv[1] == "manage.py", argv
        assert argv[2] in manage_commands(), f"no management command {argv[2]!r}"
    elif argv[0] == "uvicorn":
        assert argv[1] == UVICORN[1] and UVICORN[2] in argv, argv
        # Importing it would run the start-up checks; the slow Dockerfile test imports it.
        asgi = Path(ROOT, "config", "asgi.py").read_text()
        assert re.search(r"^application\b.*=", asgi, flags=re.MULTILINE), (
            "no config.asgi.application"
        )
    elif argv[0] == "celery":
        assert argv[1:3] == ["-A", "config"], argv
        assert argv[3] in {"worker", "beat"}, argv
        if argv[3] == "worker":
            queues = argv[argv.index("-Q") + 1].split(",")
            assert set(queues) <= CELERY_QUEUES, queues
        else:
            assert argv[argv.index("--scheduler") + 1] == CELERY_BEAT_SCHEDULER
    else:
        raise AssertionError(f"not an entry point of the project: {argv}")
