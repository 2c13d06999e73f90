"""What each recording function adds to the scrape, in one process (no multiprocess dir)."""

from __future__ import annotations

import pytest

from ssomw.directory.sync import SyncReport
from ssomw.telemetry import metrics

from .scrape import samples, value


@pytest.fixture(autouse=True)
def known_ids() -> None:
    metrics.register(["wiki", "crm"], ["corp-idp"])


def delta(action, name: str, **labels: str) -> float:
    before = value(name, **labels)
    action()
    return value(name, **labels) - before


@pytest.mark.parametrize(("app", "outcome", "label_app", "label_outcome"), [
    pytest.param("wiki", "allow", "wiki", "allow", id="known"),
    pytest.param("crm", "unavailable", "crm", "unavailable", id="store-down"),
    pytest.param("not-configured", "allow", "unknown", "allow", id="unknown-app"),
    pytest.param("wiki", "teapot", "wiki", "other", id="unknown-outcome"),
])
def test_auth_decision_counts_by_bounded_app_and_outcome(app, outcome, label_app,
                                                         label_outcome):
    added = delta(lambda: metrics.auth_decision(app, outcome, 0.0003),
                  "ssomw_auth_decisions_total", app=label_app, outcome=label_outcome)
    assert added == 1


def test_unknown_label_values_do_not_grow_the_cache():
    size = len(metrics._tallies)
    for n in range(50):
        metrics.auth_decision(f"app-{n}", f"outcome-{n}", 0.001)
    assert len(metrics._tallies) <= size + 1  # at most ("unknown", "other")


def test_latency_lands_in_the_right_buckets():
    name = "ssomw_auth_request_duration_seconds"
    before = samples()
    metrics.auth_decision("wiki", "forbidden", 0.0003)
    after = samples()

    def grew(sample: str, **labels: str) -> float:
        key = (sample, frozenset({"outcome": "forbidden", **labels}.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew(f"{name}_bucket", le="0.00025") == 0
    assert grew(f"{name}_bucket", le="0.0005") == 1
    assert grew(f"{name}_bucket", le="2.5") == 1
    assert grew(f"{name}_bucket", le="+Inf") == 1
    assert grew(f"{name}_count") == 1
    assert grew(f"{name}_sum") == pytest.approx(0.0003)


@pytest.mark.parametrize(("seconds", "first_bucket"), [
    pytest.param(0.0001, "0.0001", id="on-a-bound"),
    pytest.param(0.0, "0.0001", id="zero"),
    pytest.param(2.5, "2.5", id="last-bound"),
    pytest.param(30.0, "+Inf", id="beyond"),
])
def test_an_observation_counts_from_the_first_bound_it_fits(seconds, first_bucket):
    name = "ssomw_auth_request_duration_seconds_bucket"
    bounds = [str(b) for b in metrics.AUTH_BUCKETS] + ["+Inf"]
    before = {le: value(name, outcome="passthrough", le=le) for le in bounds}
    metrics.auth_decision("crm", "passthrough", seconds)
    grown = [le for le in bounds if value(name, outcome="passthrough", le=le) > before[le]]
    assert grown == bounds[bounds.index(first_bucket):]


@pytest.mark.parametrize(("status", "decision", "outcome"), [
    pytest.param("200 OK", "allow", "allow", id="allow"),
    pytest.param("200 OK", None, "allow", id="emergency-session-on-local-login"),
    pytest.param("200 OK", "bypass", "bypass", id="bypass"),
    pytest.param("200 OK", "passthrough", "passthrough", id="passthrough"),
    pytest.param("401 Unauthorized", "login", "unauthenticated", id="401"),
    pytest.param("403 Forbidden", "forbidden", "forbidden", id="403-policy"),
    pytest.param("403 Forbidden", None, "forbidden", id="403-bad-input"),
    pytest.param("503 Service Unavailable", None, "unavailable", id="503"),
    pytest.param("500 Internal Server Error", None, "other", id="unexpected"),
])
def test_auth_outcome_from_status_and_decision(status, decision, outcome):
    assert metrics.auth_outcome(status, decision) == outcome


@pytest.mark.parametrize(("provider", "outcome", "label_provider", "label_outcome"), [
    pytest.param("corp-idp", "success", "corp-idp", "success", id="success"),
    pytest.param("corp-idp", "PROVIDER_UNAVAILABLE", "corp-idp", "provider_unavailable",
                 id="error-code"),
    pytest.param("evil", "success", "unknown", "success", id="unknown-provider"),
    pytest.param("corp-idp", "SOMETHING_NEW", "corp-idp", "other", id="unknown-code"),
])
def test_sign_in(provider, outcome, label_provider, label_outcome):
    added = delta(lambda: metrics.sign_in(provider, outcome), "ssomw_sign_ins_total",
                  provider=label_provider, outcome=label_outcome)
    assert added == 1


@pytest.mark.parametrize(("kind", "sessions", "label", "added"), [
    pytest.param("rp", 1, "rp", 1, id="rp"),
    pytest.param("backchannel", 3, "backchannel", 3, id="backchannel-three-sessions"),
    pytest.param("frontchannel", 0, "frontchannel", 0, id="matched-nothing"),
    pytest.param("timeout", 12, "timeout", 12, id="purged"),
    pytest.param("bogus", 1, "other", 1, id="unknown-kind"),
])
def test_logout(kind, sessions, label, added):
    assert delta(lambda: metrics.logout(kind, sessions), "ssomw_logouts_total",
                 kind=label) == added


@pytest.mark.parametrize(("operation", "label"), [
    pytest.param("auth", "auth", id="auth"),
    pytest.param("purge", "purge", id="purge"),
    pytest.param("Robert'); DROP", "other", id="not-an-identifier"),
    pytest.param("x" * 40, "other", id="too-long"),
])
def test_store_error(operation, label):
    assert delta(lambda: metrics.store_error(operation), "ssomw_store_errors_total",
                 operation=label) == 1


def test_ldap_sync_times_real_runs_only():
    name = "ssomw_ldap_sync_duration_seconds_count"
    assert delta(lambda: metrics.ldap_sync(0.0, "skipped"), name, outcome="skipped") == 0
    assert delta(lambda: metrics.ldap_sync(0.0, "skipped"), "ssomw_ldap_syncs_total",
                 outcome="skipped") == 1
    assert delta(lambda: metrics.ldap_sync(4.2, "success", finished_at=1_700_000_000.0),
                 name, outcome="success") == 1
    assert value("ssomw_ldap_sync_last_success_timestamp_seconds") == 1_700_000_000.0
    metrics.ldap_sync(1.0, "failed", finished_at=1_800_000_000.0)
    assert value("ssomw_ldap_sync_last_success_timestamp_seconds") == 1_700_000_000.0


@pytest.mark.parametrize(("report", "outcome"), [
    pytest.param(SyncReport(duration=3.0, finished_at=1.0), "success", id="clean"),
    pytest.param(SyncReport(duration=3.0, errors=2), "partial", id="some-users-failed"),
    pytest.param(SyncReport(skipped_because_locked=True), "skipped", id="locked"),
])
def test_ldap_sync_report(report, outcome):
    assert delta(lambda: metrics.ldap_sync_report(report), "ssomw_ldap_syncs_total",
                 outcome=outcome) == 1


@pytest.mark.parametrize(("outcome", "label"), [
    ("success", "success"), ("failure", "failure"), ("throttled", "throttled"),
    ("hacked", "other"),
])
def test_emergency_login(outcome, label):
    assert delta(lambda: metrics.emergency_login(outcome), "ssomw_emergency_logins_total",
                 outcome=label) == 1


def test_registered_series_are_visible_at_zero_and_the_text_is_prometheus_format():
    metrics.register(["fresh-app"], ["fresh-idp"])
    body, content_type = metrics.render()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert "# TYPE ssomw_auth_request_duration_seconds histogram" in text
    all_samples = samples(text)
    assert all_samples[("ssomw_auth_decisions_total",
                        frozenset({"app": "fresh-app", "outcome": "allow"}.items()))] == 0
    assert all_samples[("ssomw_sign_ins_total",
                        frozenset({"provider": "fresh-idp", "outcome": "success"}.items()))] == 0
