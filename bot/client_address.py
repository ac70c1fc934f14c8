"""Who is on the other end of a request: the address rate limits key on.

Behind a load balancer or reverse proxy every connection comes from the proxy, so keying the per-IP
limit on the socket's peer would make all customers share one budget. The proxy says who its client
was in ``X-Forwarded-For`` (each proxy appends the address it received the request from). That header
is believed only when the connection itself comes from a proxy we trust (``TRUSTED_PROXIES``, a list
of addresses or networks): anyone else can write any header they like, so for them the peer address
stands, whatever the header says.

With trusted proxies, the client is the right-most address in ``X-Forwarded-For`` that is not itself
a trusted proxy (walking from the right skips our own proxy chain; what is left of the first
untrusted hop was written by the client and is ignored). A header our proxy cannot have written (an
entry that is not an address) falls back to the peer, as does a request with no header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(raw: str | None) -> tuple[Network, ...]:
    """``TRUSTED_PROXIES``: comma-separated addresses or CIDR networks; ValueError naming the bad entry."""
    networks = []
    for entry in (raw or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry!r}") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(found, "ipv4_mapped", None)
    return mapped or found


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Iterable[Network]) -> bool:
    return any(address.version == n.version and address in n for n in trusted)


def client_address(peer: str, forwarded_for: Sequence[str] | str | None, trusted: Sequence[Network]) -> str:
    """The client's address for a connection from ``peer`` carrying these ``X-Forwarded-For`` values."""
    peer_address = _address(peer) if peer else None
    if peer_address is None or not trusted or not _trusted(peer_address, trusted):
        return peer
    values = [forwarded_for] if isinstance(forwarded_for, str) else list(forwarded_for or [])
    hops = [hop for value in values for hop in value.split(",")]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return peer  # not what our proxy writes
        if not _trusted(address, trusted):
            return str(address)
    return peer  # only our own proxies: the request began inside
