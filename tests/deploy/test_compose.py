"""deploy/compose.yaml parses, runs the project's entry points, and sets only real settings.

No container engine runs here: this reads the file as Compose would, not what Compose does.
"""

from __future__ import annotations

import pytest
import yaml

from tests.deploy.names import DEPLOY, check_command, known_setting

pytestmark = pytest.mark.once


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def test_the_stack_has_every_service_the_issue_names(compose):
    assert set(compose["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "flower",
    }
    assert compose["services"]["postgres"]["image"] == "postgres:15"
    assert compose["services"]["redis"]["image"] == "redis:7"
    assert compose["services"]["flower"]["profiles"] == ["flower"]


def test_every_tracker_service_runs_an_entry_point_of_the_project(compose):
    ours = {n: s for n, s in compose["services"].items() if s.get("build")}
    assert set(ours) == {"migrate", "web", "worker", "beat"}
    for service in ours.values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY.parent / service["build"]["dockerfile"]).is_file()
        command = service["command"]
        check_command(command if isinstance(command, list) else command.split())
    assert ours["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    assert "poll,alerts,housekeeping,stream" in ours["worker"]["command"]


def test_the_worker_serves_its_own_metrics_on_the_stacks_network(compose):
    worker = compose["services"]["worker"]
    port = worker["environment"]["TRACKER_WORKER_METRICS_PORT"]
    assert int(port) > 0
    assert worker["expose"] == [port]


def test_the_processes_start_after_the_migrations_and_the_database(compose):
    services = compose["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        migrate = services[name]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", name
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"][1]
    assert "/readyz?exclude=exchanges" in services["web"]["healthcheck"]["test"][-1]


def test_the_tracker_runs_unprivileged_on_a_read_only_filesystem(compose):
    for name in ("migrate", "web", "worker", "beat"):
        service = compose["services"][name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "/tmp" in service["tmpfs"]
        assert service["environment"]["PROMETHEUS_MULTIPROC_DIR"] in service["tmpfs"]


def test_the_env_file_sets_only_settings_the_project_reads():
    settings = env_example()
    unknown = [name for name in settings if not known_setting(name)]
    assert not unknown, f"env.example sets names nothing reads: {unknown}"
    assert settings["DATABASE_URL"] == "postgres://tracker:tracker@postgres:5432/tracker"
    assert settings["REDIS_URL"] == "redis://redis:6379/0"
    assert settings["TRACKER_SCHEDULER"] == "celery"
    assert settings["DJANGO_SECRET_KEY"]


def test_the_variables_the_compose_file_interpolates_are_in_the_env_file(compose):
    import re

    text = (DEPLOY / "compose.yaml").read_text()
    # $${...} is left for the container's shell; ${...} is Compose's own.
    names = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    assert names - {"TRACKER_COMPOSE_ENV_FILE"} <= set(env_example())
