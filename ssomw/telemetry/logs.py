"""Logging setup: JSON lines (one object per event) or plain text, never secrets."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from ssomw.telemetry.request_context import NO_REQUEST, RequestIdFilter


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", NO_REQUEST)
        if request_id != NO_REQUEST:
            event["request_id"] = request_id
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False)


def configure_logging(settings: dict[str, Any]) -> None:
    handler = logging.StreamHandler()
    if settings["format"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("ssomw")
    root.handlers[:] = [handler]
    root.setLevel(settings["level"].upper())
    root.propagate = False


class Sparse:
    """A log line at most once per ``interval`` seconds, saying how many were held back.

    For warnings any client can provoke (a forged request, a peer that is not a trusted
    proxy): one per interval tells the operator; one per request floods the log.
    """

    def __init__(self, logger: logging.Logger, interval: float = 60.0,
                 clock: Any = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self._held = 0

    def warning(self, message: str, *args: Any) -> None:
        now = self.clock()
        if now - self._last < self.interval:
            self._held += 1
            return
        held, self._held, self._last = self._held, 0, now
        suffix = f" ({held} similar held back)" if held else ""
        self.logger.warning(message + suffix, *args)
