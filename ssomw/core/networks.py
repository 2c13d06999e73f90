"""Address lists from configuration, and who the client really is behind trusted proxies.

Trust is explicit and defaults to none: ``X-Forwarded-For`` is read only when the connection
comes from a configured proxy, because anyone else can write whatever they like into it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_network(item: str) -> Network:
    """One address (``10.1.2.3``, ``::1``) or CIDR network (``10.0.0.0/8``, ``fd00::/8``).

    Host bits set in a CIDR (``10.0.0.1/8``) are an error rather than silently widened: the
    writer meant either the address or the network, and guessing the wrong one opens access.
    """
    if not isinstance(item, str) or not item.strip():
        raise ValueError(f"{item!r} is not an IP address or network")
    text = item.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None
    raise ValueError(f"{text!r} has host bits set; did you mean {loose.with_prefixlen!r}?")


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """Every item parsed; raises one ValueError naming each bad item and its position."""
    if isinstance(items, str):  # a lone string would be parsed character by character
        items = [items]
    parsed: list[Network] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            parsed.append(parse_network(item))
        except ValueError as exc:
            problems.append(f"[{index}]: {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(parsed)


def parse_address(text: str) -> Address | None:
    """An address as a network rule sees it (IPv4-mapped IPv6 unwrapped); None if garbage."""
    try:
        address = ipaddress.ip_address(text.strip())
    except (ValueError, AttributeError, TypeError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_bucket(text: str) -> str:
    """What a per-client-address limit counts under: an IPv4 address itself, the /64 of an
    IPv6 address (one host usually holds a whole /64 and can pick any address in it), else
    the text itself (bounded), so garbage still lands in a bucket of its own."""
    address = parse_address(text)
    if address is None:
        return (text or "-")[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def in_networks(address: Address, networks: tuple[Network, ...]) -> bool:
    """True when ``address`` is in any of ``networks`` (mixed IPv4/IPv6 lists allowed)."""
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: str, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The real client address.

    The peer (the TCP connection's address) is the client unless it is a trusted proxy. Then
    ``X-Forwarded-For`` (several headers joined with ``,``) is read from the right, where each
    trusted proxy appended the address it saw; trusted hops are skipped and the first untrusted
    address is the client. Entries to the left of it were written by the client and are never
    believed. A malformed entry stops the walk at the last good hop, so garbage cannot promote
    a fake address. Never raises: an unparseable peer is returned as given.
    """
    address = parse_address(peer) if isinstance(peer, str) else None
    if address is None:
        return peer if isinstance(peer, str) else ""
    if not forwarded_for or not isinstance(forwarded_for, str):
        return str(address)
    client = address
    for entry in reversed(forwarded_for.split(",")):
        if not in_networks(client, trusted):
            break
        hop = _forwarded_entry(entry)
        if hop is None:
            break
        client = hop
    return str(client)


def _forwarded_entry(entry: str) -> Address | None:
    """One X-Forwarded-For item; tolerates ``[v6]``, ``[v6]:port`` and ``v4:port``."""
    text = entry.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    if not text:
        return None
    return parse_address(text)
