"""Forwarded headers count only as configured, through the real server process.

A local client sending `X-Forwarded-For` or `X-Forwarded-Proto` must not change the address the
throttles see nor make a request look like HTTPS: the server does not rewrite the peer, and
Django trusts `TRACKER_NUM_PROXIES` entries of `X-Forwarded-For` and, with
`DJANGO_BEHIND_TLS_PROXY`, `X-Forwarded-Proto`. HSTS and the HTTPS redirect are checked here
too, as the environment sets them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.kraken import FakeKraken
from tests.process import manage, tracker_env
from tests.server import TrackerServer

pytestmark = pytest.mark.slow
METRICS = "/api/v1/metrics"
HSTS = "Strict-Transport-Security"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[dict[str, str]]:
    with FakeKraken() as kraken:
        workdir = tmp_path_factory.mktemp("forwarded")
        env = tracker_env(workdir, TRACKER_EXCHANGE_URL=kraken.url, TRACKER_PAIRS="BTC/USD")
        migrated = manage("migrate", "--no-input", env=env)
        assert migrated.returncode == 0, migrated.stderr
        yield env


def test_rotating_forwarded_for_is_throttled_by_the_real_address(env):
    with TrackerServer(env={**env, "TRACKER_THROTTLE_ANON": "5/min"}) as server:
        codes = [
            httpx.get(
                server.url + METRICS, headers={"X-Forwarded-For": f"198.51.100.{i}"}
            ).status_code
            for i in range(6)
        ]
    assert codes == [200] * 5 + [429]


def test_forwarded_proto_is_ignored_without_a_tls_proxy(env):
    settings = {
        "DJANGO_SSL_REDIRECT": "true",
        "DJANGO_HSTS_SECONDS": "3600",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    }
    with TrackerServer(env={**env, **settings}) as server:
        faked = httpx.get(server.url + METRICS, headers={"X-Forwarded-Proto": "https"})
    assert faked.status_code == 301
    assert faked.headers["Location"] == f"https://127.0.0.1:{server.port}{METRICS}"
    assert HSTS not in faked.headers


def test_behind_a_tls_proxy(env):
    settings = {
        "DJANGO_BEHIND_TLS_PROXY": "true",
        "TRACKER_NUM_PROXIES": "1",
        "DJANGO_SSL_REDIRECT": "true",
        "DJANGO_HSTS_SECONDS": "3600",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
        "TRACKER_THROTTLE_ANON": "3/min",
    }
    with TrackerServer(env={**env, **settings}) as server, httpx.Client() as client:
        # Plain HTTP reaching the server (no proxy said https) is sent to HTTPS, without HSTS.
        plain = client.get(server.url + METRICS)
        assert (plain.status_code, plain.headers["Location"]) == (
            301,
            f"https://127.0.0.1:{server.port}{METRICS}",
        )
        assert HSTS not in plain.headers

        # Through the proxy: HTTPS, HSTS, and the client is the address the proxy appended,
        # whatever the client put in front of it.
        def through_proxy(forwarded_for: str) -> httpx.Response:
            headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": forwarded_for}
            return client.get(server.url + METRICS, headers=headers)

        answers = [through_proxy(f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers[HSTS] == "max-age=3600; includeSubDomains"
        assert through_proxy("203.0.113.8").status_code == 200


def test_hsts_without_subdomains(env):
    settings = {"DJANGO_BEHIND_TLS_PROXY": "true", "DJANGO_HSTS_SECONDS": "600"}
    with TrackerServer(env={**env, **settings}) as server:
        secure = httpx.get(server.url + METRICS, headers={"X-Forwarded-Proto": "https"})
        plain = httpx.get(server.url + METRICS)
    assert secure.status_code == plain.status_code == 200
    assert secure.headers[HSTS] == "max-age=600"
    assert HSTS not in plain.headers
