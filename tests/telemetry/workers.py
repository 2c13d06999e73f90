"""Child processes for the multiprocess tests; run with ``python -m tests.telemetry.workers``.

``record APP N``: a fresh interpreter records N allowed decisions for APP and exits.
``preforked WORKERS N``: the gunicorn shape — a master imports the metrics and registers the
apps (``preload_app``) and records one decision (not yet flushed when it forks), forks WORKERS
workers that record N decisions each and exit, marks them dead, then prints its own scrape.
"""

from __future__ import annotations

import os
import sys


def record(app: str, count: int) -> None:
    from ssomw.telemetry import metrics

    metrics.register([app], ["idp"])
    for _ in range(count):
        metrics.auth_decision(app, "allow", 0.0004)
    metrics.sign_in("idp", "success")


def preforked(workers: int, count: int) -> None:
    from prometheus_client import multiprocess

    from ssomw.telemetry import metrics

    metrics.register(["app-a", "app-b"], ["idp"])
    metrics.auth_decision("app-a", "allow", 0.0001)  # the master's own value counts too
    pids = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            app = "app-a" if index % 2 == 0 else "app-b"
            for _ in range(count):
                metrics.auth_decision(app, "allow", 0.002)
            metrics.logout("backchannel", index + 1)
            sys.exit(0)  # like a gunicorn worker: atexit runs, flushing the pending counts
        pids.append(pid)
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        multiprocess.mark_process_dead(pid)
    sys.stdout.write(metrics.render()[0].decode())


if __name__ == "__main__":
    command, first, second = sys.argv[1:4]
    if command == "record":
        record(first, int(second))
    else:
        preforked(int(first), int(second))
