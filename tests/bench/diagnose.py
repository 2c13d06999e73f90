"""Why (b) is slower than (a): the decision cache's hit rate and the refill burst each second.

Entries expire with their session's second-long time bucket (``$ssomw_bucket`` in the key; the
gateway allows them to the end of the next second), and the next request for the key refills
it; before c956412 every entry expired at the same second boundary. This reads an nginx access
log written during a (b) run (``BenchStack.nginx_conf(diag_log=...)``: ``$msec $request_time
$host $status $upstream_cache_status-of-the-auth-subrequest``) and reports, per app, how often
the cache answered, and how throughput and latency of requests *starting* in the first 100 ms
of a second compare with the rest of the second.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

BURST_MS = 100


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def summarize(log: Path) -> dict:
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    burst: list[float] = []
    rest: list[float] = []
    seconds: set[int] = set()
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5:
            continue
        end, duration = float(parts[0]), float(parts[1])
        statuses[parts[2].split(".")[0]][parts[4]] += 1
        start = end - duration
        seconds.add(int(start))
        (burst if (start % 1) * 1000 < BURST_MS else rest).append(duration * 1000)
    # The first and last second of the run are partial: rates use the whole-second middle.
    whole = max(len(seconds) - 2, 1)
    share = BURST_MS / 1000
    return {
        "cache": {app: {k: round(100 * v / sum(c.values()), 1) for k, v in c.most_common()}
                  for app, c in sorted(statuses.items())},
        "fills_per_second": round(sum(c[k] for c in statuses.values()
                                      for k in ("MISS", "EXPIRED", "BYPASS")) / whole, 1),
        "burst_rate_vs_rest": round((len(burst) / share) / max(len(rest) / (1 - share), 1), 3),
        "burst_p99_ms": percentile(burst, 99), "rest_p99_ms": percentile(rest, 99),
        "burst_share_of_requests": round(100 * len(burst) / max(len(burst) + len(rest), 1), 2),
    }


def describe(d: dict) -> str:
    cache = "; ".join(f"{app}: " + ", ".join(f"{k} {v}%" for k, v in c.items())
                      for app, c in d["cache"].items())
    return (f"  decision cache per app: {cache}\n"
            f"  cache fills: {d['fills_per_second']}/s; requests starting in the first "
            f"{BURST_MS} ms of each second ran at {d['burst_rate_vs_rest']:.0%} of the rate of "
            f"the rest ({d['burst_share_of_requests']}% of requests), their p99 "
            f"{d['burst_p99_ms']:.0f} ms vs {d['rest_p99_ms']:.0f} ms for the rest "
            f"(nginx logs whole ms)")
