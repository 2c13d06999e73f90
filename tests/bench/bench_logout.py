"""Back-channel logout of a user with many sessions, timed at the gateway (a script, not a test).

    .venv/bin/python -m tests.bench.bench_logout [--sessions 100] [--others 1000] [--rounds 5]

For each store backend (SQLite, Redis, a 3-master Redis Cluster) it starts the real chain
(tests/e2e/stack.py), creates ``--sessions`` sessions of one user and ``--others`` sessions of
other users directly in the gateway's store, then POSTs a logout token (signed with the test
provider's key) to the gateway's ``/sso/backchannel-logout`` and times the answer; it checks
that exactly the user's sessions ended. Target: < 100 ms for 100 sessions. Prints one line
per backend and round.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import requests
from joserfc import jwt

from ssomw.gateway.runtime import Runtime
from tests.bench.bench_stack import BACKENDS
from tests.e2e.stack import CLIENT_ID, Stack
from tests.support.resolve import patch_localhost_resolution

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def logout_token(stack: Stack, sub: str) -> str:
    key = next(k for k in stack.provider.private_jwks.keys if k.key_type == "RSA")
    now = int(time.time())
    claims = {"iss": stack.provider.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 60,
              "jti": secrets.token_hex(8), "sub": sub, "events": {EVENT: {}}}
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "logout+jwt"}, claims, key)


def one_round(stack: Stack, runtime: Runtime, sessions: int, others: int) -> float:
    victim = f"user-{secrets.token_hex(3)}"
    for _ in range(sessions):
        runtime.sessions.create(user=victim, provider="idp", sub=victim,
                                sid=secrets.token_hex(6), data={"groups": ["staff"]})
    for i in range(others):
        runtime.sessions.create(user=f"other-{i % 97}", provider="idp", sub=f"other-{i % 97}",
                                sid=secrets.token_hex(6), data={"groups": ["staff"]})
    before = len(runtime.store.all_sessions())
    token = logout_token(stack, victim)
    started = time.perf_counter()
    response = requests.post(f"{stack.gateway.url}/sso/backchannel-logout",
                             data={"logout_token": token}, timeout=10)
    took = time.perf_counter() - started
    assert response.status_code == 200, response.text
    assert runtime.store.sessions_by_user(victim) == []
    assert len(runtime.store.all_sessions()) == before - sessions
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--others", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with patch_localhost_resolution():
        for backend in BACKENDS:
            stack = Stack(Path(tempfile.mkdtemp(prefix="bench-logout-")), backend=backend)
            try:
                stack.start()
                runtime = Runtime.build(stack.config())
                times = [one_round(stack, runtime, args.sessions, args.others)
                         for _ in range(args.rounds)]
                print(f"{backend:<13} back-channel logout of {args.sessions} sessions among "
                      f"{args.others} others: median {statistics.median(times) * 1000:.1f} ms, "
                      f"worst {max(times) * 1000:.1f} ms over {args.rounds} rounds "
                      f"(target < 100 ms: {'met' if max(times) < 0.1 else 'MISSED'})")
            finally:
                stack.stop()


if __name__ == "__main__":
    main()
