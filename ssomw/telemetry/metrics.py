"""Prometheus metrics, correct however many gunicorn workers answer the scrape.

Each sync worker counts in its own process, so a scrape answered by one worker would see only
its share. With ``PROMETHEUS_MULTIPROC_DIR`` set (``ssomw serve`` sets a fresh directory per
server before the app loads), prometheus_client's multiprocess mode has every process write
its values to mmap'd files there and :func:`render` adds up all of them, including workers
that have since exited (counters never go backwards). prometheus_client picks that mode once,
when it is first imported, so this module imports it only on first use, and a directory set
too late is an error rather than a scrape that silently shows one worker. Without the
variable (tests, one-off CLI runs) the values live in this process's own registry.

Label values are bounded: apps and providers come from configuration (:func:`register`),
outcomes and kinds from the fixed sets below; anything else is counted as ``unknown`` or
``other`` instead of becoming a new series.

:func:`auth_decision` runs on every /auth answer. Three mmap'd writes per call cost 3-9 µs
(measured inside real requests), a third of the whole in-process auth path, so it only adds
to plain numbers here; :func:`flush` writes the differences out — every
:data:`FLUSH_INTERVAL` from a thread in each worker, before every scrape and at exit. A worker
killed outright loses at most that last interval of auth counts. The hot path assumes one
request thread per process (gunicorn sync workers); the rarer events are written at once.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("ssomw.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# The classic text format, which every Prometheus version scrapes (names are plain ASCII).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_INTERVAL = 1.0
UNKNOWN = "unknown"
OTHER = "other"

#: What /auth answered: 200 with identity, 200 without (bypass / passthrough), 401, 403, 503.
AUTH_OUTCOMES = ("allow", "bypass", "passthrough", "unauthenticated", "forbidden",
                 "unavailable", OTHER)
#: Success, or the error code the user was shown (lower case).
SIGN_IN_OUTCOMES = ("success", "session_expired", "access_denied", "invalid_response",
                    "provider_unavailable", "provider_misconfigured", "auth_level_not_met",
                    "domain_not_allowed", OTHER)
LOGOUT_KINDS = ("rp", "backchannel", "frontchannel", "admin", "timeout", OTHER)
LDAP_SYNC_OUTCOMES = ("success", "partial", "failed", "skipped", OTHER)
EMERGENCY_OUTCOMES = ("success", "failure", "throttled", OTHER)
# Store operations are named by the calling code ("auth", "page", "purge"), never by input.
OPERATION = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# /auth takes ~30 µs in-process, well under 1 ms behind nginx, and up to the store's timeout
# when the store is slow.
AUTH_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                0.25, 0.5, 1.0, 2.5)
LDAP_SYNC_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class Instruments:
    """The metric objects, made on first use rather than at import: importing this module
    (``import ssomw`` does, indirectly) must not import prometheus_client before
    ``ssomw serve`` has set the multiprocess directory."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        self.multiprocess = bool(getattr(values.ValueClass, "_multiprocess", False))
        if multiproc_dir() and not self.multiprocess:
            raise RuntimeError(
                f"{MULTIPROC_ENV} was set after prometheus_client was imported: its "
                "multiprocess mode is chosen at import, so each worker would report only its "
                "own counts. Set it before the app is loaded (ssomw serve does).")
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.auth_decisions = Counter(
            "ssomw_auth_decisions", "Answers to nginx auth_request subrequests, by app and "
            "outcome.", ["app", "outcome"], registry=registry)
        self.auth_duration = Histogram(
            "ssomw_auth_request_duration_seconds", "Time to decide an auth_request subrequest.",
            ["outcome"], buckets=AUTH_BUCKETS, registry=registry)
        self.sign_ins = Counter(
            "ssomw_sign_ins", "Sign-in attempts at an OpenID provider, by outcome (success or "
            "the error shown).", ["provider", "outcome"], registry=registry)
        self.logouts = Counter(
            "ssomw_logouts", "Sessions ended, by how (rp = the user's logout, timeout = "
            "expired).", ["kind"], registry=registry)
        self.store_errors = Counter(
            "ssomw_store_errors", "Store operations that failed (the gateway answered 503).",
            ["operation"], registry=registry)
        self.ldap_syncs = Counter(
            "ssomw_ldap_syncs", "Scheduled directory sync runs, by outcome.", ["outcome"],
            registry=registry)
        self.ldap_sync_duration = Histogram(
            "ssomw_ldap_sync_duration_seconds", "Duration of directory sync runs that ran.",
            ["outcome"], buckets=LDAP_SYNC_BUCKETS, registry=registry)
        self.ldap_sync_last_success = Gauge(
            "ssomw_ldap_sync_last_success_timestamp_seconds",
            "When the last successful directory sync finished (Unix time).",
            registry=registry, multiprocess_mode="max")
        self.credentials = Counter(
            "ssomw_credentials", "Auth requests that carried an API credential (or a CORS "
            "preflight), by kind and outcome (the decision, or why a token was refused; "
            "never the token).", ["kind", "outcome"], registry=registry)
        self.emergency_logins = Counter(
            "ssomw_emergency_logins", "Emergency login attempts, by outcome.", ["outcome"],
            registry=registry)


class Latency:
    """Pending observations of one latency histogram child. Cumulative, only ever added to
    by the hot path; :func:`flush` writes what grew since it last looked."""

    __slots__ = ("child", "sum", "buckets", "sent_sum", "sent_buckets")

    def __init__(self, child: Any) -> None:
        self.child = child
        self.sum = self.sent_sum = 0.0
        self.buckets = [0] * (len(AUTH_BUCKETS) + 1)  # the last one is +Inf
        self.sent_buckets = list(self.buckets)

    def flush(self) -> None:
        # A histogram child keeps one value per bucket (made cumulative when exposed) and
        # one for the sum; observe() adds a single observation, so the deltas go to them.
        total = self.sum
        if total != self.sent_sum:
            self.child._sum.inc(total - self.sent_sum)
            self.sent_sum = total
        for index, count in enumerate(self.buckets):
            if count != self.sent_buckets[index]:
                self.child._buckets[index].inc(count - self.sent_buckets[index])
                self.sent_buckets[index] = count

    def rebase(self) -> None:
        self.sent_sum, self.sent_buckets = self.sum, list(self.buckets)


class Tally:
    """Pending decisions for one (app, outcome), and the latency of its outcome."""

    __slots__ = ("count", "sent", "counter", "latency")

    def __init__(self, counter: Any, latency: Latency) -> None:
        self.count = self.sent = 0
        self.counter = counter
        self.latency = latency

    def flush(self) -> None:
        count = self.count
        if count != self.sent:
            self.counter.inc(count - self.sent)
            self.sent = count


_lock = threading.RLock()  # registration and first use
_flush_lock = threading.Lock()
_made: Instruments | None = None
_apps: set[str] = {UNKNOWN}
_providers: set[str] = {UNKNOWN}
_tallies: dict[tuple[str, str], Tally] = {}  # keys are known label values only: bounded
_latencies: dict[str, Latency] = {}
_flusher_started = False


def instruments() -> Instruments:
    global _made, _flusher_started
    if _made is None:
        with _lock:
            if _made is None:
                _made = Instruments()
                _flusher_started = not _made.multiprocess  # one process: render() flushes
    return _made


def register(apps: Iterable[str], providers: Iterable[str] = ()) -> None:
    """Allow these app and provider ids as label values and create their series now.

    Called whenever a configuration is loaded (ids only accumulate, so a scrape never loses a
    series). Creating the children here keeps their cost off the first requests and makes
    every series visible, at zero, from the first scrape.
    """
    with _lock:
        m = instruments()
        _apps.update(apps)
        _providers.update(providers)
        for app in _apps:
            for outcome in AUTH_OUTCOMES:
                _tally(app, outcome)
        for provider in _providers:
            for outcome in SIGN_IN_OUTCOMES:
                m.sign_ins.labels(provider, outcome)


def _tally(app_id: str, outcome: str) -> Tally:
    app = app_id if app_id in _apps else UNKNOWN
    outcome = outcome if outcome in AUTH_OUTCOMES else OTHER
    tally = _tallies.get((app, outcome))
    if tally is None:
        with _lock:
            m = instruments()
            latency = _latencies.get(outcome)
            if latency is None:
                latency = _latencies[outcome] = Latency(m.auth_duration.labels(outcome))
            tally = _tallies.setdefault(
                (app, outcome), Tally(m.auth_decisions.labels(app, outcome), latency))
    return tally


def auth_decision(app_id: str, outcome: str, seconds: float) -> None:
    """Count one /auth answer for ``app_id`` (``unknown`` when no app matched) and its time."""
    tally = _tallies.get((app_id, outcome)) or _tally(app_id, outcome)
    tally.count += 1
    latency = tally.latency
    latency.sum += seconds
    latency.buckets[bisect_left(AUTH_BUCKETS, seconds)] += 1
    if not _flusher_started:
        _start_flusher()


def flush() -> None:
    """Write the auth counts gathered since the last flush to prometheus_client."""
    with _flush_lock:
        _flush()


def _flush() -> None:
    for tally in list(_tallies.values()):
        tally.flush()
    for latency in list(_latencies.values()):
        latency.flush()


def _start_flusher() -> None:
    global _flusher_started
    with _lock:
        if not _flusher_started:
            _flusher_started = True
            threading.Thread(target=_flush_forever, name="ssomw-metrics", daemon=True).start()


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_INTERVAL)
        try:
            flush()
        except Exception:  # never let the flusher die
            log.exception("writing metrics failed")


def _before_fork() -> None:
    _flush_lock.acquire()  # no fork in the middle of a flush (it holds prometheus' lock)


def _after_fork_in_parent() -> None:
    _flush_lock.release()


def _after_fork_in_child() -> None:
    """A new worker: pending counts inherited from the parent are the parent's to write, and
    the parent's flusher thread did not come along."""
    global _flush_lock, _flusher_started
    _flush_lock = threading.Lock()
    _flusher_started = _made is None or not _made.multiprocess
    for tally in _tallies.values():
        tally.sent = tally.count
    for latency in _latencies.values():
        latency.rebase()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
atexit.register(flush)

_STATUS_OUTCOMES = {"401": "unauthenticated", "403": "forbidden", "503": "unavailable"}


def auth_outcome(status: str, decision: str | None) -> str:
    """The outcome label for an /auth answer: its status line and the policy's decision (if
    one was reached), e.g. ``("200 OK", "bypass") -> "bypass"``."""
    code = status[:3]
    if code == "200":
        return decision if decision in ("bypass", "passthrough") else "allow"
    return _STATUS_OUTCOMES.get(code, OTHER)


def _known(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else OTHER


def sign_in(provider: str, outcome: str) -> None:
    """``outcome``: ``success`` or the error code shown (``PROVIDER_UNAVAILABLE``…)."""
    provider = provider if provider in _providers else UNKNOWN
    instruments().sign_ins.labels(provider, _known(outcome.lower(), SIGN_IN_OUTCOMES)).inc()


def logout(kind: str, sessions: int = 1) -> None:
    """``sessions`` ended by a logout of ``kind`` (rp, backchannel, frontchannel, admin,
    timeout); a logout that matched no session counts nothing."""
    if sessions > 0:
        instruments().logouts.labels(_known(kind, LOGOUT_KINDS)).inc(sessions)


def store_error(operation: str) -> None:
    instruments().store_errors.labels(operation if OPERATION.match(operation) else OTHER).inc()


def ldap_sync(seconds: float, outcome: str, finished_at: float | None = None) -> None:
    """One directory sync run (scheduled or from the admin API). Skipped runs (another
    instance held the lock) are counted but not timed, so the histogram shows real runs."""
    m = instruments()
    outcome = _known(outcome, LDAP_SYNC_OUTCOMES)
    m.ldap_syncs.labels(outcome).inc()
    if outcome != "skipped":
        m.ldap_sync_duration.labels(outcome).observe(seconds)
    if outcome == "success" and finished_at is not None:
        m.ldap_sync_last_success.set(finished_at)


def ldap_sync_report(report: Any) -> None:
    """:func:`ldap_sync` for a finished run's ``SyncReport``; users that failed make it
    ``partial``."""
    outcome = "skipped" if report.skipped_because_locked else \
        "partial" if report.errors else "success"
    ldap_sync(report.duration, outcome, finished_at=report.finished_at)


CREDENTIAL_KINDS = frozenset({"bearer", "bearer_jwt", "bearer_introspection", "preflight",
                              "passthrough_basic", "passthrough_token"})
CREDENTIAL_OUTCOMES = frozenset({
    "allow", "forbidden", "login", "bypass", "passthrough", "passed", "unavailable",
    "unknown_token", "refused", "expired", "not_yet_valid", "bad_signature", "malformed",
    "alg_none", "alg_not_allowed", "iss_mismatch", "aud_mismatch", "insufficient_scope",
    "inactive", "not_access_token", "typ_mismatch", "unknown_kid", "exp_missing",
    "encrypted_token", "sub_missing"})


def credential(kind: str, outcome: str) -> None:
    """An API credential seen on the auth path: its kind and what came of it."""
    instruments().credentials.labels(_known(kind, CREDENTIAL_KINDS),
                                     _known(outcome, CREDENTIAL_OUTCOMES)).inc()


def emergency_login(outcome: str) -> None:
    instruments().emergency_logins.labels(_known(outcome, EMERGENCY_OUTCOMES)).inc()


def render() -> tuple[bytes, str]:
    """The Prometheus text exposition of every process's values, and its content type.

    In multiprocess mode this reads the files alone (this process's values are in them too,
    flushed first), so any process pointed at the directory can render it.
    """
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    if _made is not None:
        flush()
    path = multiproc_dir()
    if path is None:
        return generate_latest(instruments().registry), CONTENT_TYPE
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path)
    return generate_latest(registry), CONTENT_TYPE
