"""The emergency authentication service: in when the provider is down — for a few groups only.

It checks local credentials
(`credentials: ldap` — a simple bind as the user — or `local` — argon2 hashes in the config),
then the user's groups after the group pipeline against `emergency.allowed_groups`. It depends
on no OpenID provider. Every failure — wrong password, unknown user, user outside the groups,
throttled or locked out, directory down — gets the same page and the same status, and every
answer costs the same work, so nothing can be learned about users or groups from its timing.
Every attempt is audited.

With ``second_factor: totp`` a code is asked for after the password (``second_factor.py``):
every attempt has its code judged, with the same work whatever failed before it, and a
wrong code is one more failure of the same throttle.

Equal timing comes from equal work, never from sleeping (a sleeping sync worker serves nobody
else): with ``local`` credentials every attempt does exactly one argon2 verification (an
unknown user, an empty password or a throttled attempt is verified against a dummy hash made
with the configured users' parameters); with ``ldap`` every judged attempt does one directory
search and one bind (see :meth:`Directory.check_password`), and a throttled one never reaches
the directory but does one cheap local argon2 verification in its place.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import get_default_parameters

from ssomw.core.throttle import Throttle, ThrottleSettings, throttle_keys
from ssomw.directory.ldap import DirectoryUnavailable
from ssomw.identity.second_factor import SecondFactors
from ssomw.identity.users import Identities
from ssomw.store.base import Store
from ssomw.telemetry import audit, metrics

log = logging.getLogger("ssomw.emergency")
HASHER = PasswordHasher()  # verify() reads the parameters from each hash
DEFAULT_PARAMETERS = get_default_parameters()  # what `ssomw hash-password` makes
# A throttled attempt with `credentials: ldap` verifies this instead of contacting the
# directory: about the cost of the search and bind it stands in for (a few ms), and cheap on
# purpose, since throttled attempts are the ones an attacker can send without limit.
DECOY_PARAMETERS = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32,
                              time_cost=1, memory_cost=8192, parallelism=1)
MAX_FIELD = 1024
_dummies: dict[tuple[Any, ...], str] = {}


@dataclass(frozen=True)
class Attempt:
    """The outcome of one emergency login attempt; ``reason`` is for the audit log only."""

    username: str
    groups: list[str] | None
    reason: str
    factor: str = ""  # "totp" or "recovery" when a second factor was accepted

    @property
    def allowed(self) -> bool:
        return self.groups is not None and not self.reason


def prepare(settings: dict[str, Any]) -> None:
    """Make the dummy hash now (once, in gunicorn's master), not during the first attempt,
    whose answer would otherwise take twice as long."""
    dummy_hash(attempt_parameters(settings))


class EmergencyLogin:
    """Judges attempts: throttle reservation, credentials, groups, audit. No HTTP here."""

    def __init__(self, settings: dict[str, Any], store: Store, identities: Identities,
                 clock: Any = time.time, factors: SecondFactors | None = None) -> None:
        self.settings = settings
        self.store = store
        self.identities = identities
        self.throttle = Throttle(store, ThrottleSettings.from_config(settings["throttle"]), clock)
        # emergency.second_factor: totp — every attempt's code is judged, whatever else failed.
        self.factors = factors

    def attempt(self, username: str, password: str, address: str, code: str = "") -> Attempt:
        username, password = username.strip()[:256], password[:MAX_FIELD]
        reservation = self.throttle.reserve(throttle_keys(username, address))
        if reservation.refused:
            decoy_verify(attempt_parameters(self.settings))  # same work, directory untouched
            name, groups, reason = username, None, "throttled"
        else:
            name, groups, reason = self.authenticate(username, password)
        factor = ""
        if self.factors is not None:
            # Judged for every attempt (the same work whatever failed before); a right code is
            # spent only when the password was right. Its failure counts in the throttle like
            # a wrong password's: the attempt was counted before it was judged.
            check = self.factors.check(name, code[:MAX_FIELD], spend=groups is not None)
            if groups is not None and not check.ok:
                groups, reason = None, check.reason
            factor = check.kind if check.ok else ""
        allowed = groups is not None and bool(set(groups) & set(self.settings["allowed_groups"]))
        if groups is not None and not allowed:
            reason = "not in allowed_groups"
        self.throttle.settle(reservation, allowed)
        audit.record(self.store, "emergency_login", user=username, address=address,
                     outcome="success" if allowed else "failure", reason=reason or None,
                     **({"factor": factor} if allowed and factor else {}))
        metrics.emergency_login("success" if allowed else
                                "throttled" if reservation.refused else "failure")
        return Attempt(name, groups if allowed else None, "" if allowed else reason,
                       factor if allowed else "")

    def authenticate(self, username: str, password: str
                     ) -> tuple[str, list[str] | None, str]:
        """(name, groups after the pipeline, "") for good credentials, else (name, None,
        internal reason). Empty credentials are refused like any others, after the same work."""
        empty = "empty credentials" if not username or not password else ""
        ldap_groups: list[str] | None = None
        directory = self.identities.directory
        if self.settings["credentials"] == "ldap":
            if directory is None:
                return username, None, "no directory"
            try:
                user = directory.check_password(username, password)
            except DirectoryUnavailable as exc:
                log.warning("emergency login: directory unavailable (%s)", exc)
                return username, None, "directory unavailable"
            if user is None:
                return username, None, empty or "bad credentials"
            username, ldap_groups = user.username, list(user.groups)
        else:
            if not verify_local(self.settings["local_users"], username, password):
                return username, None, empty or "bad credentials"
            ldap_groups = self.lookup_groups(username)
        return username, self.identities.for_emergency(username, ldap_groups), ""

    def lookup_groups(self, username: str) -> list[str] | None:
        """Directory groups for a locally authenticated user, when a directory is there."""
        directory = self.identities.directory
        if directory is None:
            return None
        try:
            user = directory.find_user(username=username)
        except DirectoryUnavailable:
            return None
        return list(user.groups) if user else []


def verify_local(users: list[dict[str, str]], username: str, password: str) -> bool:
    """Exactly one argon2 verification, whoever asks: an unknown user or an empty password
    is verified against a dummy hash with the users' parameters, and refused."""
    entry = next((u for u in users if username and u["username"] == username), None)
    if entry is None or not password:
        decoy_verify(local_parameters(users), password)
        return False
    try:
        return HASHER.verify(entry["hash"], password)
    except (VerificationError, InvalidHashError):
        return False


def attempt_parameters(settings: dict[str, Any]) -> Parameters:
    """The argon2 parameters whose verification costs what a judged attempt costs."""
    if settings["credentials"] == "local":
        return local_parameters(settings["local_users"])
    return DECOY_PARAMETERS


def local_parameters(users: list[dict[str, str]]) -> Parameters:
    """The parameters of the first configured hash (all should share `ssomw hash-password`'s)."""
    for user in users:
        try:
            return extract_parameters(user["hash"])
        except InvalidHashError:
            continue
    return DEFAULT_PARAMETERS


def dummy_hash(parameters: Parameters) -> str:
    """A hash of a random password, made with ``parameters`` on first use and then kept."""
    key = dataclasses.astuple(parameters)
    if key not in _dummies:
        hasher = PasswordHasher.from_parameters(parameters)
        _dummies[key] = hasher.hash(secrets.token_urlsafe(16))
    return _dummies[key]


def decoy_verify(parameters: Parameters, password: str = "") -> None:
    """One argon2 verification that can never succeed: work that stands in for a real one."""
    try:
        HASHER.verify(dummy_hash(parameters), password or "-")
    except (VerificationError, InvalidHashError):
        pass
