"""Two gateway instances sharing one Redis are one provider: a code issued by one is redeemed
at the other (once), a token from one works at the other, and both publish the same keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from werkzeug.test import Client

from ssomw.config import from_text
from ssomw.gateway.runtime import Runtime
from ssomw.wsgi import Gateway
from tests.broker.conftest import HOST, JIRA_CB, SECRET, Broker, broker_config, jira_code
from tests.support.redis_server import RedisServer


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Broker, Broker]]:
    with RedisServer() as redis:
        raw = broker_config(tmp_path, store={"backend": "redis", "url": redis.url})
        made = []
        for _ in range(2):
            config = from_text(yaml.safe_dump(raw))
            runtime = Runtime.build(config)
            made.append(Broker(Client(Gateway(config, runtime)), runtime))
        yield made[0], made[1]
        for b in made:
            b.runtime.store.close()


def test_two_instances_are_one_provider(pair):
    one, two = pair
    record = one.sign_in("alice")
    code = jira_code(one)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": JIRA_CB}
    tokens = two.token(form, auth=("jira", SECRET))
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    assert one.token(form, auth=("jira", SECRET)).json["error"] == "invalid_grant"  # replay
    assert one.client.get("/sso/broker/userinfo", base_url=HOST, headers={
        "Authorization": f"Bearer {tokens.json['access_token']}"}).status_code == 401
    assert (one.client.get("/sso/broker/jwks.json", base_url=HOST).json
            == two.client.get("/sso/broker/jwks.json", base_url=HOST).json)
    assert record.id
