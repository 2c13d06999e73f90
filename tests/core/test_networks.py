"""Network lists and the real client address behind trusted proxies."""

from __future__ import annotations

import ipaddress

import pytest

from ssomw.core.networks import address_bucket, client_address, parse_networks

TRUSTED = parse_networks(["10.0.0.0/8", "fd00::/8", "192.168.1.1"])
PROXY = "10.0.0.2"


@pytest.mark.parametrize(("items", "expected"), [
    pytest.param([], (), id="empty"),
    pytest.param(["10.0.0.0/8"], ("10.0.0.0/8",), id="v4-cidr"),
    pytest.param(["10.1.2.3"], ("10.1.2.3/32",), id="v4-address"),
    pytest.param(["fd00::/8"], ("fd00::/8",), id="v6-cidr"),
    pytest.param(["::1"], ("::1/128",), id="v6-address"),
    pytest.param([" 10.0.0.0/8 "], ("10.0.0.0/8",), id="surrounding-space"),
    pytest.param(["0.0.0.0/0", "::/0"], ("0.0.0.0/0", "::/0"), id="everything"),
    pytest.param("127.0.0.1", ("127.0.0.1/32",), id="lone-string-is-one-item"),
])
def test_parse_networks(items: list[str], expected: tuple[str, ...]) -> None:
    assert tuple(n.with_prefixlen for n in parse_networks(items)) == expected


@pytest.mark.parametrize(("items", "message"), [
    pytest.param(["10.0.0.1/8"], "has host bits set; did you mean '10.0.0.0/8'", id="host-bits"),
    pytest.param(["intranet"], "'intranet' is not an IP address or network", id="name"),
    pytest.param(["10.0.0.0/33"], "not an IP address or network", id="bad-prefix"),
    pytest.param([""], "is not an IP address or network", id="empty-item"),
    pytest.param([10], "10 is not an IP address or network", id="not-a-string"),
    pytest.param(["10.0.0.0/8", "bad", "::1", "worse"], "[1]: 'bad' is not", id="position"),
])
def test_parse_networks_errors(items: list[object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_networks(items)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_parse_networks_reports_every_bad_item() -> None:
    with pytest.raises(ValueError) as caught:
        parse_networks(["bad", "10.0.0.0/8", "worse"])
    assert "[0]: 'bad'" in str(caught.value) and "[2]: 'worse'" in str(caught.value)


@pytest.mark.parametrize(("peer", "xff", "expected"), [
    # Untrusted peers: the header is the client's own writing and is ignored.
    pytest.param("203.0.113.7", None, "203.0.113.7", id="direct-no-header"),
    pytest.param("203.0.113.7", "10.0.0.1", "203.0.113.7", id="untrusted-peer-spoofs-xff"),
    pytest.param("203.0.113.7", "198.51.100.1, 10.0.0.3", "203.0.113.7",
                 id="untrusted-peer-spoofs-trusted-chain"),
    # Trusted proxy: walk from the right.
    pytest.param(PROXY, "203.0.113.7", "203.0.113.7", id="one-proxy"),
    pytest.param(PROXY, "203.0.113.7, 10.0.0.9", "203.0.113.7", id="two-proxies"),
    pytest.param(PROXY, "1.1.1.1, 2.2.2.2, 203.0.113.7", "203.0.113.7",
                 id="client-prepends-fakes"),
    pytest.param(PROXY, "10.0.0.5, 203.0.113.7", "203.0.113.7",
                 id="client-prepends-trusted-address"),
    pytest.param(PROXY, "10.0.0.5, 10.0.0.6", "10.0.0.5", id="all-trusted-leftmost"),
    pytest.param(PROXY, "", PROXY, id="empty-header"),
    pytest.param(PROXY, None, PROXY, id="no-header"),
    # Malformed entries stop the walk at the last good hop.
    pytest.param(PROXY, "203.0.113.7, garbage", PROXY, id="garbage-rightmost"),
    pytest.param(PROXY, "1.2.3.4, garbage, 10.0.0.9", "10.0.0.9", id="garbage-mid-trusted"),
    pytest.param(PROXY, "1.2.3.4,, 10.0.0.9", "10.0.0.9", id="empty-entry"),
    pytest.param(PROXY, "unknown", PROXY, id="unknown-token"),
    pytest.param(PROXY, "\r\n1.2.3.4", "1.2.3.4", id="whitespace-trimmed"),
    pytest.param(PROXY, "1.2.3.4\x00", PROXY, id="nul"),
    pytest.param(PROXY, "x" * 10000, PROXY, id="huge-garbage"),
    pytest.param(PROXY, ",".join(["10.0.0.1"] * 500 + ["203.0.113.7"]), "203.0.113.7",
                 id="long-chain"),
    # Formats seen in the wild.
    pytest.param(PROXY, "203.0.113.7:51234", "203.0.113.7", id="v4-with-port"),
    pytest.param(PROXY, "[2001:db8::1]:443", "2001:db8::1", id="v6-bracket-port"),
    pytest.param(PROXY, "2001:db8::1", "2001:db8::1", id="v6-bare"),
    pytest.param(PROXY, "2001:DB8:0::1", "2001:db8::1", id="v6-canonical"),
    pytest.param(PROXY, "::ffff:203.0.113.7", "203.0.113.7", id="v4-mapped-unwrapped"),
    pytest.param("::ffff:10.0.0.2", "203.0.113.7", "203.0.113.7", id="v4-mapped-trusted-peer"),
    pytest.param("fd00::5", "203.0.113.7", "203.0.113.7", id="v6-trusted-peer"),
    pytest.param("192.168.1.1", "203.0.113.7", "203.0.113.7", id="single-address-trusted"),
    pytest.param("192.168.1.2", "203.0.113.7", "192.168.1.2", id="neighbour-not-trusted"),
    # Garbage peers never raise.
    pytest.param("", "1.2.3.4", "", id="empty-peer"),
    pytest.param("unix:/run/ssomw.sock", "1.2.3.4", "unix:/run/ssomw.sock", id="unix-peer"),
    pytest.param(None, "1.2.3.4", "", id="none-peer"),
])
def test_client_address(peer: str, xff: str | None, expected: str) -> None:
    assert client_address(peer, xff, TRUSTED) == expected


def test_no_trusted_proxies_means_peer_always() -> None:
    assert client_address("10.0.0.2", "203.0.113.7", ()) == "10.0.0.2"


def test_result_is_an_address_when_peer_is() -> None:
    result = client_address(PROXY, "1.2.3.4, zzz, 203.0.113.7", TRUSTED)
    assert ipaddress.ip_address(result)


@pytest.mark.parametrize(("text", "bucket"), [
    pytest.param("192.0.2.7", "192.0.2.7", id="v4-itself"),
    pytest.param("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64", id="v6-its-64"),
    pytest.param("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64", id="v6-same-64"),
    pytest.param("::ffff:192.0.2.7", "192.0.2.7", id="v4-mapped"),
    pytest.param("", "-", id="empty"),
    pytest.param("x" * 100, "x" * 64, id="garbage-bounded"),
])
def test_address_bucket(text: str, bucket: str) -> None:
    assert address_bucket(text) == bucket
