"""The Helm chart, rendered by Helm's own template engine (helm-python-sdk), without a cluster.

What a cluster would add (admission, scheduling, the probes answering) is not tried here.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helm_python.chart import Chart
from helm_python.errors import HelmError

from tests.deploy.names import CHART, check_command, known_setting

pytestmark = pytest.mark.once

SECRETS = {
    "DJANGO_SECRET_KEY": "k" * 50,
    "DATABASE_URL": "postgres://tracker:pw@db:5432/tracker",
    "REDIS_URL": "redis://redis:6379/0",
}


def render(values: dict[str, Any] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """The manifests by (kind, name), as `helm install demo` would send them."""
    values = values or {"secret": {"values": SECRETS}}
    rendered = Chart.load(CHART).render(values=values, name="demo", namespace="t", is_install=True)
    manifests = {}
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                manifests[(doc["kind"], doc["metadata"]["name"])] = doc
    return manifests


@pytest.fixture(scope="module")
def manifests():
    return render()


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    (only,) = manifest["spec"]["template"]["spec"]["containers"]
    return only


def test_the_chart_makes_every_part_the_issue_names(manifests):
    assert set(manifests) == {
        ("ConfigMap", "demo-crypto-tracker"),
        ("Secret", "demo-crypto-tracker-secret"),
        ("Deployment", "demo-crypto-tracker-web"),
        ("Deployment", "demo-crypto-tracker-worker"),
        ("Deployment", "demo-crypto-tracker-beat"),
        ("Deployment", "demo-crypto-tracker-stream"),
        ("HorizontalPodAutoscaler", "demo-crypto-tracker-web"),
        ("HorizontalPodAutoscaler", "demo-crypto-tracker-worker"),
        ("Job", "demo-crypto-tracker-migrate"),
        ("Service", "demo-crypto-tracker-web"),
    }


def test_every_process_runs_an_entry_point_of_the_project(manifests):
    for (kind, _name), manifest in manifests.items():
        if kind in ("Deployment", "Job"):
            check_command(container(manifest)["command"])
    stream = container(manifests["Deployment", "demo-crypto-tracker-stream"])["command"]
    assert stream[:6] == ["celery", "-A", "config", "worker", "-Q", "stream"]
    assert stream[stream.index("--concurrency") + 1] == "1"


def test_the_web_probes_ask_healthz_and_readyz(manifests):
    web = container(manifests["Deployment", "demo-crypto-tracker-web"])
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert web["startupProbe"]["httpGet"]["path"] == "/healthz"
    # An exchange's outage must not take every web pod out of the Service.
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz?exclude=exchanges"
    assert web["ports"] == [{"name": "http", "containerPort": 8000}]


def test_prometheus_scrapes_the_web_and_every_worker_on_its_metrics_port(manifests):
    """The workers' counters (polls, deliveries, task outcomes) are on their own port, not
    in the web pods' /metrics: each worker pod serves and announces it."""
    config = manifests["ConfigMap", "demo-crypto-tracker"]["data"]
    port = int(config["TRACKER_WORKER_METRICS_PORT"])
    assert port > 0
    for name, expected in (("web", 8000), ("worker", port), ("stream", port)):
        manifest = manifests["Deployment", f"demo-crypto-tracker-{name}"]
        annotations = manifest["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(expected), name
        assert annotations["prometheus.io/path"] == "/metrics", name
        ports = {p["containerPort"] for p in container(manifest)["ports"]}
        assert expected in ports, name
    beat = manifests["Deployment", "demo-crypto-tracker-beat"]
    assert "prometheus.io/scrape" not in beat["spec"]["template"]["metadata"]["annotations"]

    off = render({"secret": {"values": SECRETS}, "worker": {"metricsPort": 0}})
    assert off["ConfigMap", "demo-crypto-tracker"]["data"]["TRACKER_WORKER_METRICS_PORT"] == "0"
    for name in ("worker", "stream"):
        manifest = off["Deployment", f"demo-crypto-tracker-{name}"]
        assert "prometheus.io/scrape" not in manifest["spec"]["template"]["metadata"]["annotations"]
        assert "ports" not in container(manifest)


def test_beat_and_the_stream_owner_are_single_and_never_overlap(manifests):
    for name in ("beat", "stream"):
        spec = manifests["Deployment", f"demo-crypto-tracker-{name}"]["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}


def test_web_and_worker_scale_with_autoscalers(manifests):
    for name in ("web", "worker"):
        hpa = manifests["HorizontalPodAutoscaler", f"demo-crypto-tracker-{name}"]
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"demo-crypto-tracker-{name}"
        assert ("Deployment", hpa["spec"]["scaleTargetRef"]["name"]) in manifests
        # The autoscaler owns the count; a fixed one would fight it on every upgrade.
        assert "replicas" not in manifests["Deployment", f"demo-crypto-tracker-{name}"]["spec"]
    fixed = render(
        {"secret": {"values": SECRETS}, "web": {"autoscaling": {"enabled": False}, "replicas": 3}}
    )
    assert ("HorizontalPodAutoscaler", "demo-crypto-tracker-web") not in fixed
    assert fixed["Deployment", "demo-crypto-tracker-web"]["spec"]["replicas"] == 3


def test_the_migrations_run_as_a_hook_after_their_settings_exist(manifests):
    job = manifests["Job", "demo-crypto-tracker-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["command"] == ["python", "manage.py", "migrate", "--no-input"]
    weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    for kind, name in (
        ("ConfigMap", "demo-crypto-tracker"),
        ("Secret", "demo-crypto-tracker-secret"),
    ):
        annotations = manifests[kind, name]["metadata"]["annotations"]
        assert "pre-install" in annotations["helm.sh/hook"]
        assert int(annotations["helm.sh/hook-weight"]) < weight


def test_settings_come_from_the_configmap_and_the_secret(manifests):
    config = manifests["ConfigMap", "demo-crypto-tracker"]["data"]
    secret = manifests["Secret", "demo-crypto-tracker-secret"]["stringData"]
    assert secret == SECRETS
    unknown = [name for name in [*config, *secret] if not known_setting(name)]
    assert not unknown, f"the chart sets names nothing reads: {unknown}"
    assert config["TRACKER_SCHEDULER"] == "celery"
    for (kind, _name), manifest in manifests.items():
        if kind in ("Deployment", "Job"):
            refs = container(manifest)["envFrom"]
            assert refs == [
                {"configMapRef": {"name": "demo-crypto-tracker"}},
                {"secretRef": {"name": "demo-crypto-tracker-secret"}},
            ]


def test_an_existing_secret_replaces_the_charts_own():
    manifests = render({"secret": {"existingSecret": "tracker-prod"}})
    assert not [key for key in manifests if key[0] == "Secret"]
    web = container(manifests["Deployment", "demo-crypto-tracker-web"])
    assert {"secretRef": {"name": "tracker-prod"}} in web["envFrom"]


def test_without_a_secret_key_the_chart_refuses_to_render():
    with pytest.raises(HelmError, match="DJANGO_SECRET_KEY is required"):
        render({"secret": {"values": {**SECRETS, "DJANGO_SECRET_KEY": ""}}})


def test_every_pod_runs_unprivileged_with_a_read_only_root(manifests):
    for (kind, name), manifest in manifests.items():
        if kind not in ("Deployment", "Job"):
            continue
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name
        security = container(manifest)["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        assert security["allowPrivilegeEscalation"] is False, name
        mounts = {m["mountPath"] for m in container(manifest)["volumeMounts"]}
        assert {"/tmp", manifests["ConfigMap", "demo-crypto-tracker"]["data"][
            "PROMETHEUS_MULTIPROC_DIR"]} <= mounts  # fmt: skip


def test_the_ingress_is_off_unless_asked_for():
    manifests = render(
        {"secret": {"values": SECRETS}, "ingress": {"enabled": True, "host": "t.example.com"}}
    )
    ingress = manifests["Ingress", "demo-crypto-tracker"]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "t.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"]["name"] == "demo-crypto-tracker-web"
