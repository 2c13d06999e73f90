"""What metrics add to each /auth answer: ns per ``auth_decision()`` call (not a test).

    .venv/bin/python -m tests.telemetry.bench_overhead            # multiprocess mode, as served
    .venv/bin/python -m tests.telemetry.bench_overhead --plain    # one-process registry

The multiprocess directory must be set before prometheus_client is imported, so this sets it
first and imports the metrics afterwards. The budget is 10 µs per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

BUDGET_NS = 10_000


def per_call_ns(call, calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain", action="store_true", help="no PROMETHEUS_MULTIPROC_DIR")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ssomw-bench-metrics-") as directory:
        if not args.plain:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        from ssomw.telemetry import metrics

        metrics.register([f"app-{n}" for n in range(50)], ["idp"])

        def decision() -> None:
            metrics.auth_decision("app-7", "allow", 0.00042)

        def with_outcome() -> None:
            metrics.auth_decision("app-7", metrics.auth_outcome("200 OK", "allow"), 0.00042)

        def baseline() -> None:
            pass

        mode = "plain" if args.plain else "multiprocess"
        for name, call in (("auth_decision", decision), ("auth_outcome+auth_decision",
                                                          with_outcome), ("empty call", baseline)):
            per_call_ns(call, args.calls // 10)  # warm up (first writes, after-fork reopen)
            results = [per_call_ns(call, args.calls) for _ in range(args.rounds)]
            best, median = min(results), statistics.median(results)
            verdict = "" if name == "empty call" else \
                ("  OK" if median < BUDGET_NS else f"  OVER the {BUDGET_NS} ns budget")
            print(f"{mode:12} {name:28} best {best:7.0f} ns  median {median:7.0f} ns{verdict}")
        for n in range(1000):  # a busy second: every app and outcome has pending counts
            metrics.auth_decision(f"app-{n % 50}", metrics.AUTH_OUTCOMES[n % 6], n * 1e-5)
        started = time.perf_counter_ns()
        metrics.flush()
        print(f"{mode:12} {'flush, 300 pending series':28} "
              f"{(time.perf_counter_ns() - started) / 1000:7.0f} µs (once a second, off-request)")
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


if __name__ == "__main__":
    main()
