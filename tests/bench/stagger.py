"""Experiment (not the product's config): staggered decision-cache refills.

Today every cached decision expires at the end of the second it was made in (the gateway's
``X-Accel-Expires: @<second>``), so all keys refill in a burst right after each second
boundary. nginx's cache validity has whole-second resolution, so no expiry time can spread
them. This variant puts a time *bucket* in the cache key instead: each session gets a phase
(0-9 tenths of a second, from the last digit of its cookie) and its bucket changes once per
second at that phase. An entry is only reachable until its bucket ends (< 1 s after it was
made), so the logout bound still holds, while refills spread over the whole second.
nginx has no arithmetic, so the bucket (last digit of the second, +1 once past the phase)
comes from a 1,000-entry exact-match map. Entries must then outlive the current second:
``proxy_cache_valid 200 1s`` with the gateway's ``X-Accel-Expires`` ignored here; in the
product the gateway would send ``@<second + 1>`` only when nginx says it keys by bucket.
"""

from __future__ import annotations

from pathlib import Path


def bucket_maps(cookie: str) -> str:
    entries = "\n".join(f'    "{p}{d}{t}" {d if t < p else (d + 1) % 10};'
                        for p in range(10) for d in range(10) for t in range(10))
    return (f'map $cookie_{cookie} $ssomw_phase {{ "~(\\d)[^\\d]*$" $1; default 0; }}\n'
            'map $msec $ssomw_sec_tenth { "~\\d(\\d)\\.(\\d)" "$1$2"; }\n'
            f'map "$ssomw_phase$ssomw_sec_tenth" $ssomw_bucket {{\n    default x;\n'
            f"{entries}\n}}\n")


def staggered(conf: str, snippets: Path, cookie: str) -> str:
    """``conf`` (from BenchStack.nginx_conf) with the server snippet inlined and bucketed."""
    server = (snippets / "ssomw-server.conf").read_text()
    key = f'proxy_cache_key "$cookie_{cookie}|$host|$ssomw_cache_scope";'
    ignore = "proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;"
    assert key in server and ignore in server, "snippet changed: update the experiment"
    server = server.replace(key, key[:-2] + '|$ssomw_bucket";\n    proxy_cache_valid 200 1s;')
    server = server.replace(ignore, ignore[:-1] + " X-Accel-Expires;")
    include = f"    include {snippets}/ssomw-server.conf;"
    assert include in conf
    indented = "".join("    " + line if line.strip() else line
                       for line in server.splitlines(True))
    return bucket_maps(cookie) + conf.replace(include, indented)
