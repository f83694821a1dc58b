"""Where deliveries may go: not to this host, its network or addresses no subscriber can own.

A webhook makes this server send a POST where an administrator says, and the delivery log tells them
what answered. Without a rule that is a scanner of the server's own network (the loopback, RFC 1918
ranges, the cloud metadata address on 169.254.169.254). So a subscription's host is checked when it is
created (an address literal, or a name that always means this host), and again at every delivery after
resolving the name, which catches a name that resolves to a private address, later or from the start.
An operator whose receivers do live on a private network allows them with ``ESIGN_WEBHOOKS_ALLOW_PRIVATE``.

What a refused or failed attempt records is neutral (:func:`describe`): the status code, or "connection
refused", "timed out", "TLS error", "refused: private address"; never the library's exception text,
which can name internal addresses and the server's software.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable

import httpx

from .errors import InvalidWebhook

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

REFUSED_PRIVATE = "refused: private address"
"""What a delivery to a forbidden address records; the subscriber learns no more than that."""

_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def forbidden(address: Address) -> bool:
    """True for an address a delivery must not reach without the operator's allowance: loopback,
    link-local, private (RFC 1918, fc00::/7, and the other special-purpose ranges ``is_private`` covers),
    unspecified, multicast or reserved; an IPv4-mapped IPv6 address is judged as the IPv4 address it maps."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def check_host(host: str, *, allow_private: bool) -> None:
    """Refuse, when a subscription is made, a host that is a forbidden address or a name for this host.

    Other names are not resolved here: what they resolve to can change, so delivery checks it each time."""
    if allow_private:
        return
    name = host.lower().rstrip(".")
    address = _literal(name)
    if (address is not None and forbidden(address)) or name in _LOCAL_NAMES or name.endswith(".localhost"):
        raise InvalidWebhook(
            "url: the host is a loopback, private, link-local or reserved address; webhooks go to public "
            "endpoints (an operator may allow private ones with ESIGN_WEBHOOKS_ALLOW_PRIVATE=true)"
        )


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the connection would resolve it."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def refusal(url: httpx.URL, *, allow_private: bool, resolve: Resolver = system_resolver) -> str | None:
    """Why a delivery to ``url`` must not be attempted, or None. Every address the name resolves to must be
    allowed, so a name with one public and one private address is refused as well."""
    if allow_private:
        return None
    host = url.host
    address = _literal(host)
    if address is not None:
        return REFUSED_PRIVATE if forbidden(address) else None
    try:
        resolved = [_literal(a) for a in resolve(host, url.port or (443 if url.scheme == "https" else 80))]
    except (OSError, UnicodeError):
        return "host not found"
    if not resolved:
        return "host not found"
    if any(a is None or forbidden(a) for a in resolved):
        return REFUSED_PRIVATE
    return None


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def describe(error: Exception) -> str:
    """What a subscriber is told of a failed call: the kind of failure, without its internal details."""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    if _caused_by(error, ssl.SSLError) or "SSL" in type(error).__name__:
        return "TLS error"
    if isinstance(error, httpx.ConnectError):
        if _caused_by(error, socket.gaierror):
            return "host not found"
        return "connection refused"
    if isinstance(error, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return "invalid URL"
    if isinstance(error, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "protocol error"
    if isinstance(error, httpx.TooManyRedirects):
        return "too many redirects"
    return "request failed"
