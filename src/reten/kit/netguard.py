"""Server-side request forgery guard for requests to tenant-configured URLs.

The host is resolved once and every address it resolves to must be public; the request then
goes to that checked address (with the original Host header and TLS server name), so a DNS
answer that changes between the check and the connection cannot redirect it inward.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit


class RefusedAddress(Exception):
    """The URL points at an address class that outbound requests may not reach."""


def address_class(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why `ip` is refused, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_reserved:  # before is_private, which also covers the reserved 240.0.0.0/4
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class Target:
    url: str  # what to connect to
    host_header: str | None = None  # set when the URL was pinned to an address
    sni_hostname: str | None = None


async def check_url(url: str, *, allow_private: bool) -> Target:
    """Resolve `url`'s host and refuse non-public addresses unless `allow_private`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("only absolute http and https URLs can be called")
    if allow_private:
        return Target(url)
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
        addresses = [literal]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in addresses:
        reason = address_class(ip)
        if reason is not None:
            raise RefusedAddress(f"{host} resolves to a {reason} address ({ip}); refused")
    pinned = addresses[0]
    netloc_host = f"[{pinned}]" if pinned.version == 6 else str(pinned)
    netloc = f"{netloc_host}:{parts.port}" if parts.port else netloc_host
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(
        url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        host_header=host_header,
        sni_hostname=host if parts.scheme == "https" else None,
    )
