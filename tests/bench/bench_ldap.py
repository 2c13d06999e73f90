"""Directory sync at scale: 10,000 users and 1,000 nested groups in a throwaway slapd.

    .venv/bin/python -m tests.bench.bench_ldap [--users 10000] [--groups 1000] [--member-of]

Generates the LDIF, loads it (slapadd before the first start; with --member-of through
ldapadd instead, so the memberof overlay writes memberOf), then runs two full syncs through
run_sync with an in-memory handler that diffs each user's groups against the previous run (the
first run adds everything, the second finds no change), and a batch of sign-in lookups.
``--pipeline`` uses the gateway's real handler instead (groups pipeline, user records in a
sqlite store: ``Identities.from_directory``), as ``ssomw ldap sync`` does.
Targets: full sync <= 30 s and <= 300 MB peak RSS; no-change resync <= 10 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ssomw.directory import Directory, DirectoryUser
from ssomw.directory.sync import run_sync
from ssomw.store.sqlite import SqliteStore
from tests.support.slapd import SERVICE_DN, SERVICE_PASSWORD, SUFFIX, Slapd, directory_settings

PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"


def user_dn(n: int) -> str:
    return f"uid=user{n:05d},{PEOPLE}"


def group_dn(n: int) -> str:
    return f"cn=group{n:04d},{GROUPS}"


def write_ldif(path: Path, users: int, groups: int, online: bool) -> None:
    """Each user in 3 groups; group i (i >= 10) inside group i // 10 (three levels deep), and
    one cycle (group 9 inside the last group, which is inside ... group 9).

    Groups are written children first: the memberof overlay (``online``) only records
    memberships of entries that already exist, so the cycle's last edge is a modify at the end.
    """
    members: dict[int, list[str]] = {g: [] for g in range(groups)}
    for u in range(users):
        for g in {(u * 7) % groups, (u * 13 + 1) % groups, (u * 31 + 2) % groups}:
            members[g].append(user_dn(u))
    for g in range(10, groups):
        members[g // 10].append(group_dn(g))
    cycle = (group_dn(groups - 1), group_dn(9))
    if not online:
        members[groups - 1].append(cycle[1])
    with path.open("w") as out:
        out.write(f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\n"
                  f"dc: example\no: Example\n\n"
                  f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\n"
                  f"objectClass: simpleSecurityObject\ncn: ssomw\n"
                  f"userPassword: {SERVICE_PASSWORD}\n\n")
        for ou in ("people", "groups"):
            out.write(f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n")
        for u in range(users):
            out.write(f"dn: {user_dn(u)}\nobjectClass: inetOrgPerson\nuid: user{u:05d}\n"
                      f"cn: User {u}\nsn: {u}\nmail: user{u:05d}@example.com\n"
                      f"departmentNumber: {u % 50}\ntelephoneNumber: +49 30 {u:07d}\n"
                      f"l: City {u % 20}\nmanager: {user_dn(u // 10)}\n"
                      f"userPassword: test-password\n\n")
        for g in reversed(range(groups)):
            lines = "".join(f"member: {m}\n" for m in members[g] or [SERVICE_DN])
            out.write(f"dn: {group_dn(g)}\nobjectClass: groupOfNames\ncn: group{g:04d}\n"
                      f"{lines}\n")
        if online:
            out.write(f"dn: {cycle[0]}\nchangetype: modify\nadd: member\nmember: {cycle[1]}\n\n")


def pipeline(slapd: Slapd, store: SqliteStore):
    """The gateway's own per-user sync step, configured like a minimal deployment."""
    import yaml

    from ssomw.config import from_text
    from ssomw.identity.users import Identities

    ldap = directory_settings(slapd)
    config = from_text(yaml.safe_dump({
        "session": {"secret_keys": ["k" * 40]},
        "providers": [{"id": "p", "issuer": "https://idp.example.com", "client_id": "c",
                       "client_secret": "s"}],
        "apps": [{"id": "a", "hosts": ["a.example.com"]}],
        "directory": {"ldap": ldap},
    }))
    return Identities(config.data, store)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--member-of", action="store_true", help="read memberOf (AD style)")
    parser.add_argument("--pipeline", action="store_true",
                        help="the real handler: groups pipeline + sqlite user records")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        work = Path(tmp)
        ldif = work / "bench.ldif"
        started = time.monotonic()
        write_ldif(ldif, args.users, args.groups, online=args.member_of)
        print(f"generated {args.users} users, {args.groups} groups "
              f"({ldif.stat().st_size / 1e6:.1f} MB LDIF) in {time.monotonic() - started:.1f} s")
        slapd = Slapd(work / "slapd", memberof=args.member_of)
        started = time.monotonic()
        if args.member_of:
            slapd.start()
            slapd.add(ldif.read_text())
        else:
            slapd.slapadd(ldif)
            slapd.start()
        print(f"loaded in {time.monotonic() - started:.1f} s "
              f"({'ldapadd, memberof overlay' if args.member_of else 'slapadd'})")
        try:
            return run(slapd, work, args)
        finally:
            slapd.stop()


def run(slapd: Slapd, work: Path, args: argparse.Namespace) -> int:
    directory = Directory(directory_settings(slapd, page_size=args.page_size,
                                             member_of=args.member_of))
    store = SqliteStore(str(work / "store.db"))
    known: dict[str, tuple[str, ...]] = {}
    identities = pipeline(slapd, store) if args.pipeline else None

    def handle(user: DirectoryUser) -> tuple[int, int]:
        before, after = set(known.get(user.username, ())), set(user.groups)
        known[user.username] = user.groups
        if identities is not None:
            return identities.from_directory(user)
        return len(after - before), len(before - after)

    print(f"peak RSS before sync: {peak_rss_mb():.0f} MB")
    results = []
    for label in ("full sync", "no-change resync"):
        report = run_sync(directory, store, handle, dry_run=False, progress=None, lock_ttl=600)
        results.append(report)
        print(f"{label}: {report.summary()}; peak RSS {peak_rss_mb():.0f} MB")
    sample = known[f"user{args.users - 1:05d}"]
    print(f"user{args.users - 1:05d} groups ({len(sample)}): {', '.join(sample)}")

    lookups = []
    for n in random.Random(1).sample(range(args.users), 200):
        started = time.monotonic()
        directory.find_user(username=f"user{n:05d}")
        lookups.append((time.monotonic() - started) * 1000)
    lookups.sort()
    print(f"find_user (sign-in) x200: median {statistics.median(lookups):.1f} ms, "
          f"p95 {lookups[189]:.1f} ms, max {lookups[-1]:.1f} ms")

    full, again = results
    ok = full.duration <= 30 and peak_rss_mb() <= 300 and again.duration <= 10
    ok = ok and full.users_seen == args.users and again.users_changed == 0
    print("targets (full <= 30 s, <= 300 MB, resync <= 10 s):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
