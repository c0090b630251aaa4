"""Where a fetch may be sent: a redirect must not turn a public address into a private one.

A configured address may be anything, loopback included (a mirror, a bridge,
a test server on this machine): the operator chose it. But a public site that
answers with a redirect to 127.0.0.1, 10.x or 169.254.169.254 (cloud metadata)
is trying to make the monitor reach into its own network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _is_internal(address: _Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def host_addresses(host: str) -> list[_Address]:
    """The addresses a host name stands for (an IP literal stands for itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []  # the fetch itself will report that the name does not resolve
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def is_internal_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    return any(_is_internal(address) for address in host_addresses(host))


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    return any(address.is_loopback for address in host_addresses(host))


def redirect_refusal(configured: str, target: str) -> str | None:
    """Why a redirect from ``configured`` to ``target`` is refused, or None if allowed."""
    if urlsplit(target).scheme not in ("http", "https"):
        return f"redirect from {configured} to a non-HTTP address {target} refused"
    if is_internal_url(configured) or not is_internal_url(target):
        return None
    return f"redirect from {configured} to the internal address {target} refused"
