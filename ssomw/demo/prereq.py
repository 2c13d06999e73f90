"""What the demo needs before it starts anything, each missing piece reported with its fix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

BOOTSTRAP = "bash tests/bootstrap.sh"


class DemoError(Exception):
    """A problem the user can fix; the message says how."""


def find_repo() -> Path:
    """The checkout holding tests/support and the provider script; on sys.path afterwards."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if ((root / "tests" / "support" / "oidc_provider.py").is_file()
                and (root / "tests" / "oidc-provider" / "provider.js").is_file()):
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return root
    raise DemoError(
        "ssomw demo runs from a source checkout: the local OpenID provider and directory it "
        "starts live under tests/, which this installation does not have.\n"
        f"  Fix: clone the repository, run `{BOOTSTRAP}` in it, then `.venv/bin/ssomw demo`.")


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _executable(path: str) -> bool:
    return os.access(path, os.X_OK)


def missing_prerequisites(repo: Path, port: int) -> list[str]:
    """Every reason the demo cannot start, each with its fix (all at once, not one per run)."""
    from tests.support.nginx import NGINX_BIN
    from tests.support.slapd import SLAPD

    problems = []
    if not _executable(NGINX_BIN):
        problems.append(f"nginx not found at {NGINX_BIN}.\n"
                        f"  Fix: `sudo apt-get install nginx` (or `{BOOTSTRAP}`).")
    else:
        version = subprocess.run([NGINX_BIN, "-V"], capture_output=True, text=True).stderr
        if "with-http_auth_request_module" not in version:
            problems.append("this nginx lacks the auth_request module.\n"
                            "  Fix: install Debian's `nginx` package.")
    if not _executable(SLAPD) or not _executable("/usr/bin/ldapadd"):
        problems.append("OpenLDAP (slapd, ldapadd) not found; the demo directory needs it.\n"
                        f"  Fix: `sudo apt-get install slapd ldap-utils` (or `{BOOTSTRAP}`).")
    node = shutil.which("node")
    if node is None:
        problems.append("Node.js (20 or later) not found; the local OpenID provider needs it.\n"
                        f"  Fix: `sudo apt-get install nodejs npm` (or `{BOOTSTRAP}`).")
    else:
        major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                               capture_output=True, text=True).stdout.strip()
        if not major.isdigit() or int(major) < 20:
            problems.append(f"Node.js 20 or later needed (found {major or 'unknown'}).")
    if not (repo / "tests" / "oidc-provider" / "node_modules" / "oidc-provider").is_dir():
        problems.append("the local OpenID provider's node modules are missing.\n"
                        f"  Fix: run `{BOOTSTRAP}` (or `npm ci` in tests/oidc-provider).")
    if not 0 < port < 65536:
        problems.append(f"--port {port} is not a TCP port.")
    elif not port_free(port):
        problems.append(f"port {port} on 127.0.0.1 is in use (or needs root).\n"
                        "  Fix: stop what uses it, or pick another: `ssomw demo --port 8081`.")
    return problems
