"""The emergency login's second factor (contract §9, ``emergency.second_factor: totp``).

A TOTP code (RFC 6238: 30 s, 6 digits, SHA-1 — what every authenticator app reads from an
``otpauth://`` URI; made and checked by pyotp) after the password, or one of ten one-time
recovery codes for a lost device. Enrolment (``ssomw emergency enrol USER``) stores, in the
store namespace :data:`ENROLMENTS` under the lower-cased user name, the TOTP secret *sealed*
under ``session.secret_keys`` (``sealing.py``) and the recovery codes as argon2 hashes only.

Equal work, so that a failure's cause never shows in the answer's timing (see
``emergency.py``): every attempt reads one enrolment (the typed name's when the password was
wrong), compares the code with all three acceptable TOTP values (the previous, current and
next time-step) in constant time, whatever it holds — an unknown user is compared with a
dummy secret — and a code shaped like a recovery code costs exactly one argon2 verification
(against a dummy hash when there is no such code). Recovery codes carry their number as the
first character, so one verification finds the one to compare with.

Accepted once: an accepted time-step is marked per user in :data:`USED` with ``kv_add`` (atomic
across instances) for as long as it could be accepted, and a used recovery code is marked for
good and removed from the enrolment. A code is spent only by an attempt whose password was
right: a code seen over a shoulder cannot be burnt by whoever lacks the password.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyotp
from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from ssomw.identity.sealing import Sealer
from ssomw.store.base import Store

ENROLMENTS = "emergency-totp"
USED = "emergency-totp-used"
RECOVERY_CODES = 10
WINDOW = 1                 # time-steps accepted either side of now (clock drift)
STEP = 30
# Crockford's base32 alphabet: no I, L, O or U to misread when typing a code from paper.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TOTP_SHAPE = re.compile(r"^\d{6}$")
RECOVERY_SHAPE = re.compile(rf"^\d[{ALPHABET}]{{10}}$")
# Recovery codes carry ~50 random bits: a moderate argon2 cost is plenty (OWASP's minimum).
RECOVERY_PARAMETERS = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32,
                                 time_cost=2, memory_cost=19456, parallelism=1)
RECOVERY_HASHER = PasswordHasher.from_parameters(RECOVERY_PARAMETERS)
_DUMMY_SECRET = pyotp.random_base32()
_dummy_hash: list[str] = []


class AlreadyEnrolled(Exception):
    pass


@dataclass(frozen=True)
class Enrolment:
    uri: str                   # otpauth:// for the authenticator app (shown once)
    recovery_codes: list[str]  # shown once, formatted for reading: 1-ABCDE-FGHJK


@dataclass(frozen=True)
class FactorCheck:
    ok: bool
    reason: str   # for the audit log only ("" when ok)
    kind: str     # "totp" or "recovery" (what the code looked like), "" for neither


def user_key(username: str) -> str:
    return username.strip().lower()[:256]


def normalise_code(code: str) -> str:
    """What the user typed, without spaces and dashes, upper-case (recovery codes)."""
    return re.sub(r"[\s-]", "", code or "").upper()[:32]


def dummy_recovery_hash() -> str:
    if not _dummy_hash:
        _dummy_hash.append(RECOVERY_HASHER.hash(secrets.token_urlsafe(16)))
    return _dummy_hash[0]


class SecondFactors:
    """Enrolments and code checks; knows nothing about HTTP (store and clock injected)."""

    def __init__(self, store: Store, secret_keys: Sequence[str], issuer: str = "ssomw",
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.sealer = Sealer(secret_keys, "emergency totp")
        self.issuer = issuer
        self.clock = clock

    # -- enrolment (the CLI) ----------------------------------------------------------------
    def enrol(self, username: str) -> Enrolment:
        """A new TOTP secret and ten recovery codes for ``username``; raises AlreadyEnrolled
        (reset the factor first: an enrolment is never replaced by accident)."""
        key = user_key(username)
        secret = pyotp.random_base32()
        codes = [f"{i}{''.join(secrets.choice(ALPHABET) for _ in range(10))}"
                 for i in range(RECOVERY_CODES)]
        record = {"secret": self.sealer.seal(secret.encode(), key), "created": self.clock(),
                  "recovery": [RECOVERY_HASHER.hash(code) for code in codes]}
        if not self.store.kv_add(ENROLMENTS, key, json.dumps(record).encode(), None):
            raise AlreadyEnrolled(username)
        uri = pyotp.TOTP(secret).provisioning_uri(name=username.strip(),
                                                  issuer_name=self.issuer)
        return Enrolment(uri, [f"{c[0]}-{c[1:6]}-{c[6:]}" for c in codes])

    def reset(self, username: str) -> bool:
        """Forget ``username``'s second factor (a lost device); True if there was one."""
        key = user_key(username)
        found = self.store.kv_get(ENROLMENTS, key) is not None
        self.store.kv_delete(ENROLMENTS, key)
        for used, _ in self.store.kv_items(USED, f"{key}:"):
            self.store.kv_delete(USED, used)
        return found

    def enrolled(self, username: str) -> bool:
        return self.store.kv_get(ENROLMENTS, user_key(username)) is not None

    # -- checking (every emergency attempt) -------------------------------------------------
    def check(self, username: str, code: str, *, spend: bool) -> FactorCheck:
        """Whether ``code`` is ``username``'s, costing the same work whoever asks (see the
        module docstring). ``spend``: mark an accepted code used (only when the password was
        right); otherwise the code is judged but stays usable."""
        key = user_key(username)
        record = self._record(key)
        secret = self._secret(key, record) if record is not None else None
        code = normalise_code(code)
        if RECOVERY_SHAPE.match(code):
            return self._recovery(key, record, code, spend)
        matched = _totp_step(secret or _DUMMY_SECRET, code, self.clock())
        if record is None or secret is None:
            return FactorCheck(False, "no second factor enrolled" if record is None
                               else "second factor cannot be opened with session.secret_keys",
                               "totp")
        if matched is None:
            return FactorCheck(False, "wrong code" if code else "no code", "totp")
        if spend and not self.store.kv_add(USED, f"{key}:t:{matched}", b"1",
                                           STEP * (2 * WINDOW + 2)):
            return FactorCheck(False, "code replayed", "totp")
        return FactorCheck(True, "", "totp")

    def _record(self, key: str) -> dict[str, Any] | None:
        raw = self.store.kv_get(ENROLMENTS, key)
        try:
            record = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        return record if isinstance(record, dict) else None

    def _secret(self, key: str, record: dict[str, Any]) -> str | None:
        opened = self.sealer.open(record.get("secret", ""), key)
        if opened is None:
            return None
        secret = opened.data.decode()
        if opened.stale:  # sealed under an older session key: seal it with the first
            record = {**record, "secret": self.sealer.seal(opened.data, key)}
            self.store.kv_set(ENROLMENTS, key, json.dumps(record).encode(), None)
        return secret

    def _recovery(self, key: str, record: dict[str, Any] | None, code: str,
                  spend: bool) -> FactorCheck:
        index = int(code[0])
        hashes = record.get("recovery", []) if record is not None else []
        stored = hashes[index] if index < len(hashes) else None
        try:
            ok = RECOVERY_HASHER.verify(stored or dummy_recovery_hash(), code) and bool(stored)
        except (VerificationError, InvalidHashError):
            ok = False
        if record is None:
            return FactorCheck(False, "no second factor enrolled", "recovery")
        if not ok:
            return FactorCheck(False, "wrong recovery code" if stored
                               else "recovery code already used", "recovery")
        if spend:
            if not self.store.kv_add(USED, f"{key}:r:{index}:{record.get('created')}", b"1",
                                     None):
                return FactorCheck(False, "recovery code replayed", "recovery")
            hashes = list(hashes)
            hashes[index] = None
            self.store.kv_set(ENROLMENTS, key,
                              json.dumps({**record, "recovery": hashes}).encode(), None)
        return FactorCheck(True, "", "recovery")


def _totp_step(secret: str, code: str, now: float) -> int | None:
    """The time-step whose code ``code`` is, within the window; every candidate compared in
    constant time (no early exit)."""
    totp = pyotp.TOTP(secret, interval=STEP)
    step = totp.timecode(now)
    matched = None
    for offset in range(-WINDOW, WINDOW + 1):
        candidate = totp.generate_otp(step + offset)
        if hmac.compare_digest(candidate.encode(), code.encode()) and matched is None:
            matched = step + offset
    return matched
