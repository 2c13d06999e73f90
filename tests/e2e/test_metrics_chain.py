"""Metrics through the real chain: a real ``ssomw serve`` with 2 workers behind nginx, real
traffic (a sign-in, allowed and refused requests, a bypass), then ``/sso/metrics`` scraped
through nginx — only from ``metrics.allow_from`` — must add up exactly across both workers.

nginx's decision cache is off so every request reaches the gateway; counts are flushed by
each worker every second, so the test waits until they add up (bounded), never a fixed sleep.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest
import requests

from ssomw.telemetry.metrics import FLUSH_INTERVAL
from tests.telemetry.scrape import samples, value

from .conftest import API, signed_in, start_stack
from .stack import Stack

SCRAPER = "127.0.0.2"  # the only address in metrics.allow_from
ALLOWED, ANONYMOUS, BYPASS = 30, 12, 7


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory, "metrics", cache=False, workers=2,
                    overrides={"metrics": {"allow_from": [f"{SCRAPER}/32"]}})
    yield s
    s.stop()


def scrape(stack: Stack, source: str = SCRAPER) -> tuple[int, str]:
    """GET /sso/metrics through nginx from ``source`` (a loopback address of this host)."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10,
                                            source_address=(source, 0))
    try:
        connection.request("GET", "/sso/metrics", headers={"Host": stack.host("app-a")})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def decisions(text: str) -> dict[tuple[str, str], float]:
    return {key: value for (name, labels), value in samples(text).items()
            if name == "ssomw_auth_decisions_total"
            for key in [(dict(labels)["app"], dict(labels)["outcome"])]}


def settled(stack: Stack) -> str:
    """A scrape once the decision counts stopped moving for longer than a worker's flush
    interval (so both workers' earlier counts are in it)."""
    deadline = time.monotonic() + 15
    text = scrape(stack)[1]
    still_since = time.monotonic()
    while time.monotonic() - still_since < FLUSH_INTERVAL + 0.3:
        assert time.monotonic() < deadline, "the counts never settled"
        time.sleep(0.2)
        newer = scrape(stack)[1]
        if decisions(newer) != decisions(text):
            text, still_since = newer, time.monotonic()
    return text


def test_metrics_are_served_only_to_allow_from(stack: Stack) -> None:
    assert scrape(stack, "127.0.0.1")[0] == 403
    status, text = scrape(stack)
    assert status == 200 and "ssomw_auth_decisions_total" in text


def test_counters_add_up_across_both_workers(stack: Stack) -> None:
    before = scrape(stack)[1]
    alice = signed_in(stack)
    assert value("ssomw_sign_ins_total", scrape(stack)[1], provider="idp",
                 outcome="success") == value("ssomw_sign_ins_total", before, provider="idp",
                                             outcome="success") + 1
    start = settled(stack)  # the sign-in's own decisions, flushed by whichever worker
    for n in range(ALLOWED):
        assert alice.get(stack.url("app-a", f"/page?n={n}"), headers=API).status_code == 200
    for n in range(ANONYMOUS):
        assert requests.get(stack.url("app-a", f"/page?a={n}"), headers=API,
                            allow_redirects=False).status_code == 401
    for n in range(BYPASS):
        assert requests.get(stack.url("app-a", f"/public/{n}")).status_code == 200
    expected = {("app-a", "allow"): ALLOWED, ("app-a", "unauthenticated"): ANONYMOUS,
                ("app-a", "bypass"): BYPASS}

    def deltas(text: str) -> dict[tuple[str, str], float]:
        return {key: value("ssomw_auth_decisions_total", text, app=key[0], outcome=key[1])
                - value("ssomw_auth_decisions_total", start, app=key[0], outcome=key[1])
                for key in expected}

    deadline = time.monotonic() + 15  # each worker flushes every second
    while (seen := deltas(text := scrape(stack)[1])) != expected:
        assert time.monotonic() < deadline, f"counts never added up: {seen} != {expected}"
        assert all(seen[key] <= expected[key] for key in expected), seen  # never more
        time.sleep(0.2)
    latency = value("ssomw_auth_request_duration_seconds_count", text, outcome="allow") \
        - value("ssomw_auth_request_duration_seconds_count", start, outcome="allow")
    assert latency == ALLOWED  # one duration per decision, whatever the app
