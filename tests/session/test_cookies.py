"""The session cookie codec: each refusal on its own, with everything else about the cookie
right, so that removing any one check fails a test (an audit found the length cap could be
removed with every test green: its "oversized" case also broke the signature)."""

from __future__ import annotations

import pytest

from ssomw.session.cookies import MAX_COOKIE_LENGTH, CookieCodec

KEY = "k" * 40


def signed_of_length(codec: CookieCodec, length: int) -> str:
    """A correctly signed cookie of exactly ``length`` characters."""
    overhead = len(codec.dumps(""))
    value = codec.dumps("s" * (length - overhead))
    assert len(value) == length
    return value


def test_a_validly_signed_cookie_over_the_cap_is_refused_without_verifying() -> None:
    codec = CookieCodec([KEY])
    at_cap = signed_of_length(codec, MAX_COOKIE_LENGTH)
    over = signed_of_length(codec, MAX_COOKIE_LENGTH + 1)
    assert codec.loads(at_cap) == "s" * (MAX_COOKIE_LENGTH - len(codec.dumps("")))
    verified: list[bytes] = []
    real = codec._signer.unsign
    codec._signer.unsign = lambda value: verified.append(value) or real(value)  # type: ignore
    assert codec.loads(over) is None and verified == []  # refused before any HMAC


@pytest.mark.parametrize(("make", "why"), [
    pytest.param(lambda c: None, "missing", id="missing"),
    pytest.param(lambda c: "", "empty", id="empty"),
    pytest.param(lambda c: "no-separator-at-all", "malformed", id="malformed"),
    pytest.param(lambda c: CookieCodec(["other-key-" + "x" * 30]).dumps("id"), "forged",
                 id="another-key"),
    pytest.param(lambda c: c.dumps("id")[:-1] + ("A" if c.dumps("id")[-1] != "A" else "B"),
                 "tampered", id="tampered-signature"),
    pytest.param(lambda c: c.dumps("id") + "é", "non-ascii", id="non-ascii"),
])
def test_each_refusal_on_its_own(make, why: str) -> None:
    codec = CookieCodec([KEY])
    assert codec.loads(make(codec)) is None, why
    assert codec.loads(codec.dumps("id")) == "id"  # and the same codec still accepts a good one
