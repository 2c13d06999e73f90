"""Front-Channel Logout sent by the test provider itself (real chain): the provider's
logged-out page embeds the gateway's ``frontchannel_logout_uri`` in an iframe; a browser loads
it cross-site (no SameSite=Lax cookie goes along), and every gateway session with that ``sid``
ends at once — while another user's session stays. The gateway has back-channel logout
turned off (the provider still registers a ``backchannel_logout_uri``, which is what makes it
put ``sid`` in ID tokens, and its notice is refused), so nothing else can have ended it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
import requests

from .conftest import signed_in, start_stack, status
from .stack import Stack


class FrontChannelStack(Stack):
    def client(self) -> dict[str, Any]:
        client = super().client()
        client["frontchannel_logout_uri"] = self.url("app-a", "/sso/frontchannel-logout")
        return client


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontChannelStack]:
    s = start_stack(tmp_path_factory, "frontchannel", FrontChannelStack,
                    provider_settings={"logout": {"frontchannel": True,
                                                  "backchannel": False}})
    yield s
    s.stop()


def test_the_providers_logout_page_ends_the_session_through_its_iframe(
        stack: FrontChannelStack) -> None:
    alice, bob = signed_in(stack, "alice"), signed_in(stack, "bob")
    assert status(alice, stack) == 200 and status(bob, stack) == 200
    assert stack.provider is not None
    page = requests.get(stack.provider.frontchannel_logout_url("alice"), timeout=10)
    assert page.status_code == 200
    [frame] = [unescape(src) for src in re.findall(r'<iframe src="([^"]+)"', page.text)]
    assert frame.startswith(stack.url("app-a", "/sso/frontchannel-logout?"))
    assert "iss=" in frame and "sid=" in frame
    # the browser loads the iframe cross-site: the provider's page, no gateway cookie
    loaded = requests.get(frame, headers={"Referer": stack.provider.issuer + "/",
                                          "Sec-Fetch-Dest": "iframe"}, timeout=10)
    assert loaded.status_code == 200
    ancestors = loaded.headers["Content-Security-Policy"]
    assert f"frame-ancestors {stack.provider.issuer}" in ancestors
    ended = time.monotonic()
    while status(alice, stack) != 401:  # nginx's decision cache keeps an allow for <= 1 s
        assert time.monotonic() - ended < 2.0, "alice's session did not end"
        time.sleep(0.05)
    assert status(bob, stack) == 200
    deliveries = stack.provider.backchannel_deliveries()
    assert deliveries and all(d.get("status") == 400 for d in deliveries), deliveries
