"""Safe outbound HTTP to URLs that users typed in (webhooks, Slack, PagerDuty).

A user-supplied URL must not become a way into the tracker's own network (SSRF): the loopback
interface, private networks, link-local addresses (the cloud metadata service lives at
169.254.169.254) and the like are refused. `url_check` says whether a URL may be used;
`post` sends to it.

`post` resolves the host once, checks every address, and then connects to a checked address
itself, with the original Host header and (for https) SNI and certificate checks against the
host name. There is no second DNS lookup between the check and the connection, so a name that
answers with a public address for the check and a private one a moment later (DNS rebinding)
cannot slip through. Redirects are not followed: a 3xx is returned as it is, since following
it would send the request to an address nobody checked.

`allow_private=True` lets every resolvable address through: for trackers that post to
receivers on their own network (TRACKER_ALLOW_PRIVATE_WEBHOOKS), and for tests on 127.0.0.1.
No Django here: settings are the caller's business.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import (
    TimeoutError as Urllib3Timeout,
)
from urllib3.util.ssl_match_hostname import CertificateError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}

# Not covered by the ipaddress module's flags in every Python 3.11 release, so named here.
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses translated into IPv6 (RFC 6052)


class UnsafeURL(ValueError):
    """A URL the tracker will not send to; the message says why, for the person who gave it."""


class OutboundError(Exception):
    """Sending failed. `transient` is True when trying again later can help (timeouts,
    refused or reset connections), False when it cannot (an unsafe URL, a bad certificate)."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    body: bytes  # at most `max_bytes` of it: enough to say what the receiver answered
    address: str  # the IP address connected to, one of those checked
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA), without brackets
    port: int
    target: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def url_check(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeURL unless `url` may be posted to: https (http too with `allow_private`),
    a host, no user name or password, and every address the host resolves to public."""
    target = _parse(url, allow_private=allow_private)
    _resolve(target, allow_private=allow_private)


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    allow_private: bool,
    timeout: float = 5.0,
    max_bytes: int = 64_000,
    ssl_context: ssl.SSLContext | None = None,
) -> OutboundResponse:
    """POST `body` to `url`, checked as by `url_check`, on a connection to a checked address.

    `timeout` bounds the connection, each wait for the answer, and the reading of its body
    (whatever arrived by then is kept). `ssl_context` replaces the system's certificate
    authorities (a private CA; tests). Raises OutboundError.
    """
    try:
        target = _parse(url, allow_private=allow_private)
        addresses = _resolve(target, allow_private=allow_private)
    except _ResolutionFailed as error:
        raise OutboundError(str(error), transient=error.transient) from error
    except UnsafeURL as error:
        raise OutboundError(str(error), transient=False) from error

    sent_headers = {**headers, "Host": target.host_header}
    failure: OutboundError | None = None
    # Every address passed the check; the next one is tried only when no connection could be
    # made, so the request is never sent twice.
    for address in addresses:
        try:
            return _post_to(address, target, body, sent_headers, timeout, max_bytes, ssl_context)
        except _NoConnection as error:
            failure = OutboundError(str(error), transient=True)
    assert failure is not None
    raise failure


# --- checking -------------------------------------------------------------------------------


def _parse(url: str, *, allow_private: bool) -> _Target:
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UnsafeURL(f"{url!r} contains spaces or control characters")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"{url!r} is not a valid URL: {error}") from None
    schemes = ("https", "http") if allow_private else ("https",)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise UnsafeURL(f"{url!r}: only {' and '.join(schemes)} URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeURL(f"{url!r}: user names and passwords in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL(f"{url!r} has no host")
    if port == 0:
        raise UnsafeURL(f"{url!r}: port 0 is not a valid port")
    try:
        # Names outside ASCII travel as IDNA, in DNS, in the Host header and in SNI alike.
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL(f"{url!r}: {parts.hostname!r} is not a valid host name") from None
    path = parts.path or "/"
    return _Target(
        scheme=scheme,
        host=host,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        target=f"{path}?{parts.query}" if parts.query else path,
    )


class _ResolutionFailed(UnsafeURL):
    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def _resolve(target: _Target, *, allow_private: bool) -> list[str]:
    """The host's addresses, in the resolver's order, each one checked."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [target.host]
    else:
        try:
            infos = socket.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as error:
            # A resolver that could not answer just now is worth another try; "no such
            # name" is not.
            transient = isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN
            raise _ResolutionFailed(
                f"{target.host} does not resolve", transient=transient
            ) from None
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not found:
            raise _ResolutionFailed(f"{target.host} does not resolve", transient=False)
    if not allow_private:
        for address in found:
            reason = _refusal(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason is not None:
                where = target.host if literal is not None else f"{target.host} ({address})"
                raise UnsafeURL(
                    f"{where} is not a public address ({reason}); alerts are only sent to "
                    "public addresses"
                )
    return found


def _refusal(address: IPAddress) -> str | None:
    """Why `address` is not public (a few words), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that address: judge it instead.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _refusal(embedded)
        if address.teredo is not None:
            return _refusal(address.teredo[1])
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local, where cloud metadata services listen"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


# --- sending --------------------------------------------------------------------------------


class _NoConnection(Exception):
    """No connection to this address; nothing was sent, another address may be tried."""


def _post_to(
    address: str,
    target: _Target,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    max_bytes: int,
    ssl_context: ssl.SSLContext | None,
) -> OutboundResponse:
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ssl_context=ssl_context,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, maxsize=1)
    try:
        response = pool.urlopen(
            "POST",
            target.target,
            body=body,
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            preload_content=False,
            decode_content=False,
        )
        try:
            content = _read_capped(response, max_bytes, deadline=time.monotonic() + timeout)
        finally:
            response.close()
    except SSLError as error:
        # A certificate that does not verify stays that way; a handshake cut short may not.
        cause = error.args[0] if error.args else None
        bad_certificate = isinstance(cause, ssl.SSLCertVerificationError | CertificateError)
        raise OutboundError(
            f"TLS with {target.host} failed: {error}", transient=not bad_certificate
        ) from None
    except (NewConnectionError, ConnectTimeoutError) as error:
        raise _NoConnection(f"no connection to {target.host} ({address}): {error}") from None
    except (Urllib3Timeout, ProtocolError, OSError) as error:
        raise OutboundError(
            f"{target.host} ({address}) did not answer: {error}", transient=True
        ) from None
    except HTTPError as error:
        raise OutboundError(f"{target.host} ({address}): {error}", transient=True) from None
    finally:
        pool.close()
    return OutboundResponse(
        status=response.status,
        body=content,
        address=address,
        headers={name.lower(): value for name, value in response.headers.items()},
    )


def _read_capped(response: urllib3.BaseHTTPResponse, max_bytes: int, *, deadline: float) -> bytes:
    """At most `max_bytes` of the body; what arrived by `deadline` if it trickles in slower."""
    chunks: list[bytes] = []
    left = max_bytes
    try:
        while left > 0 and time.monotonic() < deadline:
            chunk = response.read1(min(left, 16_384))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except (Urllib3Timeout, ProtocolError, OSError):
        # The status has arrived, and it is the answer; a body cut short only shortens the
        # description. Raising here would send the request again.
        pass
    return b"".join(chunks)
