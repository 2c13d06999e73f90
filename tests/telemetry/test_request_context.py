"""The request id on log records: set for a request, absent outside, private to a thread."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator

import pytest

from ssomw.telemetry.request_context import (
    RequestIdFilter,
    bind_request_id,
    current_request_id,
    reset_request_id,
)


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A ``parent.child`` logger whose parent's handler carries the filter, as in logs.py."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(request_id)s %(message)s"))
    parent = logging.getLogger("ssomw-test-rid")
    parent.handlers[:] = [handler]
    parent.setLevel(logging.INFO)
    parent.propagate = False
    yield logging.getLogger("ssomw-test-rid.child"), stream
    parent.handlers.clear()


def test_records_carry_the_bound_id_and_a_dash_outside(log):
    logger, stream = log
    logger.info("before")
    token = bind_request_id("req-12345678")
    try:
        logger.info("during")
    finally:
        reset_request_id(token)
    logger.info("after")
    assert stream.getvalue().splitlines() == ["- before", "req-12345678 during", "- after"]


def test_nested_binding_restores_the_outer_id():
    outer = bind_request_id("outer-0001")
    inner = bind_request_id("inner-0002")
    assert current_request_id() == "inner-0002"
    reset_request_id(inner)
    assert current_request_id() == "outer-0001"
    reset_request_id(outer)
    assert current_request_id() == "-"


def test_another_thread_does_not_see_this_requests_id(log):
    logger, stream = log
    token = bind_request_id("req-mine-0001")
    try:
        thread = threading.Thread(target=lambda: logger.info("housekeeping"))
        thread.start()
        thread.join()
    finally:
        reset_request_id(token)
    assert stream.getvalue().splitlines() == ["- housekeeping"]
