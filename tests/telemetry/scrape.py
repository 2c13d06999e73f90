"""Shared helpers: read one sample from the exposition text, as Prometheus would scrape it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ssomw.telemetry import metrics


def samples(text: str | None = None) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape (default: this process's :func:`metrics.render`)."""
    if text is None:
        text = metrics.render()[0].decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(name: str, text: str | None = None, **labels: str) -> float:
    """One sample's value; 0.0 when the series does not exist (yet)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)
