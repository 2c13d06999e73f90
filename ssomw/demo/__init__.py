"""``ssomw demo``: the whole product on loopback, in the foreground, until Ctrl-C.

nginx (snippets rendered for the demo's config) → gateway (``ssomw serve``) → two OpenID
providers (``tests/oidc-provider``: the company's and a partner's), an OpenLDAP directory
(``tests/data/ldap/base.ldif``) for groups and profile, and three small apps that show the
identity headers they receive. It reuses the test harness in ``tests/support``, so it runs from
a source checkout only.

Apps live on ``<app>.ssomw.localhost`` (on the nginx port) rather than on 127.0.0.1 ports:
cookies are per host, not per port, so only distinct names show the one shared SSO cookie
(``Domain=ssomw.localhost``) at work and keep the providers' own cookies (on 127.0.0.1) apart
from the apps'. Chromium, Firefox and curl resolve ``*.localhost`` to loopback.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ssomw.demo.prereq import DemoError, find_repo, missing_prerequisites
from ssomw.demo.stack import Demo, DemoInfo
from ssomw.demo.summary import summary

__all__ = ["DemoInfo", "run_demo"]


def run_demo(port: int = 8080, workdir: Path | None = None, *,
             ready_callback: Callable[[DemoInfo], None] | None = None,
             stop_event: threading.Event | None = None) -> None:
    """Run until Ctrl-C / SIGTERM (or until `stop_event` is set), then stop every part.

    `ready_callback` and `stop_event` let a test drive the demo in-process (from any thread);
    signal handlers are installed only when called from the main thread.
    """
    try:
        repo = find_repo()
        problems = missing_prerequisites(repo, port)
    except DemoError as exc:
        problems = [str(exc)]
    if problems:
        print("ssomw demo cannot start:", file=sys.stderr)
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        raise SystemExit(2)

    keep = workdir is not None
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="ssomw-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    stop = stop_event or threading.Event()
    started = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()
        if not started.is_set():
            raise KeyboardInterrupt  # interrupt a start-up still in progress

    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, on_signal)
    demo = Demo(repo, port, root)
    try:
        error = _serve(demo, stop, started, keep, ready_callback)
    except KeyboardInterrupt:  # a signal just as start-up finished
        error = None
    finally:
        started.set()  # from here on a signal only asks to stop, which is under way
        print("Stopping ...", flush=True)
        demo.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if error:
        print(error, file=sys.stderr)
        raise SystemExit(1)
    print("Stopped.", flush=True)


def _serve(demo: Demo, stop: threading.Event, started: threading.Event, keep: bool,
           ready_callback: Callable[[DemoInfo], None] | None) -> str | None:
    """Start, print what to try, wait for the stop; the error to show, if any."""
    print(f"Starting the ssomw demo in {demo.workdir} ...", flush=True)
    try:
        info = demo.start()
    except KeyboardInterrupt:
        return None
    except (RuntimeError, TimeoutError, OSError) as exc:
        return f"ssomw demo could not start: {exc}"
    started.set()
    print(summary(info, keep), flush=True)
    if ready_callback is not None:
        ready_callback(info)
    while not stop.wait(1.0):
        dead = demo.dead_part()
        if dead:
            return f"The {dead[0]} stopped unexpectedly; the end of its log:\n{dead[1]}"
    return None
