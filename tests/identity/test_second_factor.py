"""The emergency second factor's rules (issue 20.3), without HTTP: codes from pyotp as an
authenticator app makes them, accepted once; recovery codes once each; enrolment kept sealed
and hashed."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from ssomw.identity.second_factor import (
    ENROLMENTS,
    AlreadyEnrolled,
    SecondFactors,
)
from ssomw.store.sqlite import SqliteStore

from .test_keys import SECRET, Clock


@pytest.fixture
def factors(tmp_path: Path):
    store = SqliteStore(str(tmp_path / "f.db"))
    yield SecondFactors(store, [SECRET], clock=Clock())
    store.close()


def totp_of(uri: str) -> pyotp.TOTP:
    parsed = urlsplit(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    return pyotp.TOTP(parse_qs(parsed.query)["secret"][0])


def test_enrolment_is_shown_once_and_kept_sealed_and_hashed(factors: SecondFactors):
    enrolment = factors.enrol("Admin")
    totp = totp_of(enrolment.uri)
    assert "issuer=ssomw" in enrolment.uri and "Admin" in enrolment.uri
    assert len(enrolment.recovery_codes) == 10 == len(set(enrolment.recovery_codes))
    raw = factors.store.kv_get(ENROLMENTS, "admin")
    assert raw is not None
    text = raw.decode()
    assert totp.secret not in text
    assert not any(code.replace("-", "") in text for code in enrolment.recovery_codes)
    assert all(h.startswith("$argon2id$") for h in json.loads(text)["recovery"])
    with pytest.raises(AlreadyEnrolled):
        factors.enrol("admin")


def test_a_code_is_accepted_once(factors: SecondFactors):
    totp = totp_of(factors.enrol("admin").uri)
    now = factors.clock()
    code = totp.at(now)
    assert factors.check("admin", code, spend=True).ok
    replay = factors.check("admin", code, spend=True)
    assert not replay.ok and replay.reason == "code replayed"
    assert factors.check("ADMIN ", totp.at(now - 30), spend=True).ok  # the previous step
    assert not factors.check("admin", totp.at(now - 90), spend=True).ok  # too old


def test_a_code_judged_without_the_password_is_not_spent(factors: SecondFactors):
    totp = totp_of(factors.enrol("admin").uri)
    code = totp.at(factors.clock())
    assert factors.check("admin", code, spend=False).ok
    assert factors.check("admin", code, spend=True).ok  # still usable by the right password


@pytest.mark.parametrize("user, code, reason", [
    pytest.param("admin", "000000", "wrong code", id="wrong-code"),
    pytest.param("admin", "", "no code", id="no-code"),
    pytest.param("admin", "12345", "wrong code", id="malformed"),
    pytest.param("nobody", "123456", "no second factor enrolled", id="not-enrolled"),
    pytest.param("admin", "9-AAAAA-AAAAA", "wrong recovery code", id="wrong-recovery-code"),
    pytest.param("nobody", "9-AAAAA-AAAAA", "no second factor enrolled",
                 id="recovery-not-enrolled"),
])
def test_refusals_name_their_reason(factors: SecondFactors, user: str, code: str, reason: str):
    factors.enrol("admin")
    check = factors.check(user, code, spend=True)
    assert not check.ok and check.reason == reason


def test_recovery_codes_work_once_each(factors: SecondFactors):
    codes = factors.enrol("admin").recovery_codes
    assert factors.check("admin", codes[3].lower().replace("-", " "), spend=True).ok
    again = factors.check("admin", codes[3], spend=True)
    assert not again.ok and again.reason == "recovery code already used"
    assert factors.check("admin", codes[7], spend=True).kind == "recovery"


def test_reset_forgets_the_factor(factors: SecondFactors):
    old = totp_of(factors.enrol("admin").uri)
    assert factors.check("admin", old.at(factors.clock()), spend=True).ok
    assert factors.reset("admin") and not factors.reset("admin")
    assert factors.check("admin", old.at(factors.clock()), spend=True).reason == \
        "no second factor enrolled"
    new = totp_of(factors.enrol("admin").uri)
    assert new.secret != old.secret


def test_an_enrolment_sealed_with_an_older_session_key_still_works_and_is_resealed(
        factors: SecondFactors):
    older = SecondFactors(factors.store, ["o" * 40], clock=factors.clock)
    totp = totp_of(older.enrol("admin").uri)
    before = factors.store.kv_get(ENROLMENTS, "admin")
    rotated = SecondFactors(factors.store, [SECRET, "o" * 40], clock=factors.clock)
    assert rotated.check("admin", totp.at(factors.clock()), spend=True).ok
    assert factors.store.kv_get(ENROLMENTS, "admin") != before
    assert factors.check("admin", totp.at(factors.clock() + 30), spend=True).ok  # new key alone
