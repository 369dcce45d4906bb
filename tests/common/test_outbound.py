"""The outbound guard: which URLs are refused, and how `post` sends to the ones that are not.

Everything here runs on 127.0.0.1. Public addresses appear only as literals, which url_check
judges without resolving or connecting; names other than localhost go through a resolver
stand-in at the socket layer (socket.getaddrinfo), below which nothing is replaced.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme

from tests.fakes.receiver import Receiver
from tracker.common.outbound import OutboundError, UnsafeURL, post, url_check

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver("webhook") as fake:
        yield fake


class FakeDNS:
    """Answers for a few names, one list of addresses per lookup (the last one repeats); an
    empty list is "no such name". Other names resolve as usual."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, name: str, answers: list[list[str]]) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in self.answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        self.lookups.append(host)
        queue = self.answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port or 0),
            )
            for address in addresses
        ]


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- url_check ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/", "loopback"),
        ("https://localhost/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://172.16.0.9/", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://100.64.0.1/", "carrier-grade NAT"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://224.0.0.1/", "multicast"),
        ("https://240.0.0.1/", "reserved"),
        ("https://127.1/", "loopback"),  # a short form the resolver expands
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://[::ffff:169.254.169.254]/", "link-local"),
        ("https://[fe80::1]/", "link-local"),
        ("https://[fd00::1]/", "private"),
        ("https://[2002:a9fe:a9fe::1]/", "link-local"),  # 6to4 around 169.254.169.254
        ("https://[64:ff9b::a00:1]/", "private"),  # NAT64 around 10.0.0.1
        ("http://example.com", "only https"),
        ("ftp://93.184.216.34/", "only https"),
        ("https://user:secret@93.184.216.34/", "user names and passwords"),
        ("https:///path-only", "no host"),
        ("https://93.184.216.34:99999/", "not a valid URL"),
        ("https://93.184.216.34/a b", "spaces"),
    ],
)
def test_url_check_refuses(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURL, match=reason):
        url_check(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/",
        "https://93.184.216.34:8443/hooks/alerts?x=1",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/",
    ],
)
def test_url_check_lets_public_literal_addresses_through(url: str) -> None:
    url_check(url, allow_private=False)


def test_a_name_resolving_to_the_metadata_service_is_refused(resolver: FakeDNS) -> None:
    resolver["metadata.google.internal"] = [["169.254.169.254"]]
    with pytest.raises(UnsafeURL, match=r"metadata.google.internal \(169.254.169.254\)"):
        url_check("https://metadata.google.internal/computeMetadata/v1/", allow_private=False)


def test_every_address_of_a_name_must_be_public(resolver: FakeDNS) -> None:
    resolver["mixed.example"] = [["93.184.216.34", "10.0.0.7"]]
    with pytest.raises(UnsafeURL, match=r"10\.0\.0\.7"):
        url_check("https://mixed.example/", allow_private=False)
    resolver["public.example"] = [["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]]
    url_check("https://public.example/", allow_private=False)


def test_a_name_that_does_not_resolve_is_refused(resolver: FakeDNS) -> None:
    resolver["nowhere.example"] = [[]]
    with pytest.raises(UnsafeURL, match="does not resolve"):
        url_check("https://nowhere.example/", allow_private=True)


def test_allow_private_lets_local_http_through(receiver: Receiver) -> None:
    url_check(f"http://127.0.0.1:{receiver.port}/hook", allow_private=True)
    url_check(f"http://localhost:{receiver.port}/hook", allow_private=True)
    with pytest.raises(UnsafeURL, match="only https and http"):
        url_check(f"ftp://127.0.0.1:{receiver.port}/", allow_private=True)
    with pytest.raises(UnsafeURL, match="passwords"):
        url_check(f"http://u:p@127.0.0.1:{receiver.port}/", allow_private=True)


# --- post ---------------------------------------------------------------------------------------


def test_post_sends_the_body_and_headers(receiver: Receiver) -> None:
    response = post(
        f"{receiver.url}/hook?team=ops",
        body=b'{"a":1}',
        headers={"Content-Type": "application/json"},
        allow_private=True,
    )
    assert (response.status, response.address) == (200, "127.0.0.1")
    [request] = receiver.requests
    assert (request.method, request.path, request.body) == ("POST", "/hook?team=ops", b'{"a":1}')
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"


def test_post_connects_to_the_address_it_checked(receiver: Receiver, resolver: FakeDNS) -> None:
    # DNS rebinding: the first answer is the one checked; a later lookup would give another
    # address. There must be no later lookup: the connection goes to the checked address.
    resolver["hooks.example"] = [["127.0.0.1"], ["10.255.255.1"]]
    response = post(
        f"http://hooks.example:{receiver.port}/h", body=b"{}", headers={}, allow_private=True
    )
    assert response.address == "127.0.0.1"
    assert resolver.lookups == ["hooks.example"]
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example:{receiver.port}"


def test_post_refuses_an_unsafe_address_without_connecting(receiver: Receiver) -> None:
    with pytest.raises(OutboundError, match="loopback") as caught:
        post(f"https://127.0.0.1:{receiver.port}/", body=b"{}", headers={}, allow_private=False)
    assert caught.value.transient is False
    assert receiver.requests == []


def test_post_does_not_follow_redirects(receiver: Receiver) -> None:
    with Receiver("webhook") as target:
        receiver.redirect(f"{target.url}/elsewhere")
        response = post(f"{receiver.url}/hook", body=b"{}", headers={}, allow_private=True)
        assert response.status == 302
        assert response.headers["location"] == f"{target.url}/elsewhere"
        # `post` has returned: a redirect it followed would have arrived already.
        assert target.requests == []
    assert len(receiver.requests) == 1


def test_a_slow_receiver_is_a_transient_error(receiver: Receiver) -> None:
    receiver.delay(5.0)
    with pytest.raises(OutboundError) as caught:
        post(f"{receiver.url}/", body=b"{}", headers={}, allow_private=True, timeout=0.3)
    assert caught.value.transient is True


def test_a_refused_connection_is_a_transient_error() -> None:
    with pytest.raises(OutboundError, match="no connection") as caught:
        post(f"http://127.0.0.1:{free_port()}/", body=b"{}", headers={}, allow_private=True)
    assert caught.value.transient is True


def test_the_answer_is_read_up_to_the_cap(receiver: Receiver) -> None:
    receiver.answer(200, b"x" * 200_000)
    response = post(receiver.url, body=b"", headers={}, allow_private=True, max_bytes=1000)
    assert response.body == b"x" * 1000


def test_https_checks_the_certificate_against_the_host_name() -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with Receiver("webhook", tls=server) as receiver:
        response = post(
            f"https://localhost:{receiver.port}/h",
            body=b"{}",
            headers={},
            allow_private=True,
            ssl_context=client,
        )
        assert response.status == 200
        [request] = receiver.requests
        # Connected to an address, yet the name went out as SNI and in the Host header.
        assert request.server_name == "localhost"
        assert request.headers["host"] == f"localhost:{receiver.port}"

        # The certificate names localhost, not 127.0.0.1.
        with pytest.raises(OutboundError, match="TLS") as caught:
            post(receiver.url, body=b"{}", headers={}, allow_private=True, ssl_context=client)
        assert caught.value.transient is False
        # An authority the client does not trust.
        with pytest.raises(OutboundError, match="certificate verify failed") as caught:
            post(f"https://localhost:{receiver.port}/h", body=b"{}", headers={}, allow_private=True)
        assert caught.value.transient is False
        assert len(receiver.requests) == 1
