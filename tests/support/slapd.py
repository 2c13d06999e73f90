"""A throwaway OpenLDAP ``slapd`` on loopback for tests: own config, own data, free port.

    with Slapd(tmp_path, ldif=[BASE_LDIF]) as slapd:
        directory = Directory({"url": slapd.url, "bind_dn": SERVICE_DN, ...})
        slapd.freeze()   # SIGSTOP: connections are accepted, nothing answers
        slapd.thaw()
        slapd.stop()     # outage; start() again serves the same data on the same port

Never the system instance: the config is a ``slapd.conf`` written into ``workdir`` (mdb
database under ``workdir/data``, suffix ``dc=example,dc=com``, the ``memberof`` overlay so
users and nested groups get ``memberOf``), and slapd runs in the foreground (``-d 0``) as a
:class:`~tests.support.process.Component`. LDIF given to the constructor is loaded with
``ldapadd`` on the first start, through the running server, so the overlay sees it;
:meth:`slapadd` loads big files offline before the first start (fast, but without
``memberOf``).

``tls=True`` makes a throwaway CA and server certificate (openssl) and also listens on
``ldaps://`` (:attr:`ldaps_url`); StartTLS works on :attr:`url`; trust :attr:`ca_file`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.net import free_port, port_open
from tests.support.patience import STARTUP
from tests.support.process import Component

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "ldap"
BASE_LDIF = DATA_DIR / "base.ldif"
# What tests/data/ldap/base.ldif contains: the service account and every user's password.
SERVICE_DN = f"cn=ssomw,{SUFFIX}"
SERVICE_PASSWORD = "service-secret"
TEST_PASSWORD = "test-password"  # same as the test OIDC provider's, so demo users share it

_SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
_CLIENT_ENV = {"LDAPNOINIT": "1"}  # ignore /etc/ldap/ldap.conf and ~/.ldaprc


def directory_settings(slapd: Slapd, **overrides: object) -> dict:
    """The ``directory.ldap`` settings for base.ldif on this server (OpenLDAP style)."""
    settings: dict = {
        "url": slapd.url,
        "bind_dn": SERVICE_DN,
        "bind_password": SERVICE_PASSWORD,
        "user_base": f"ou=people,{SUFFIX}",
        "user_filter": "(objectClass=inetOrgPerson)",
        "username_attr": "uid",
        "email_attr": "mail",
        "group_base": f"ou=groups,{SUFFIX}",
        "group_filter": "(objectClass=groupOfNames)",
        "group_name_attr": "cn",
        "group_member_attr": "member",
        "member_of": False,
        "nested": True,
        "page_size": 500,
        "timeout": 3,
        "pool_size": 4,
        "attributes": ["departmentNumber", "telephoneNumber", "l", "manager"],
    }
    settings.update(overrides)
    return settings


class Slapd(Component):
    """One slapd process with its own config and database; restartable on the same port."""

    name = "slapd"
    log_name = "slapd.log"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        ldif: list[Path] | None = None,
        *,
        tls: bool = False,
        memberof: bool = True,
        size_limit: int | None = None,
        startup_timeout: float = STARTUP,
    ) -> None:
        super().__init__(workdir, port or free_port())
        self.tls = tls
        self.ldaps_port = free_port() if tls else None
        self.memberof = memberof
        self.size_limit = size_limit
        self.start_timeout = startup_timeout
        self.bind_dn = ADMIN_DN
        self.bind_password = ADMIN_PASSWORD
        self.suffix = SUFFIX
        self._pending_ldif = list(ldif or [])
        self.conf_path = self.workdir / "slapd.conf"
        self._configured = False

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        if self.ldaps_port is None:
            raise ValueError("started without tls=True")
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "tls" / "ca.pem"

    # -- config ------------------------------------------------------------------------------
    def _configure(self) -> None:
        if self._configured:
            return
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        lines = [f"include /etc/ldap/schema/{name}.schema" for name in _SCHEMAS]
        lines += [
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            f"pidfile {self.workdir / 'slapd.pid'}",
            f"argsfile {self.workdir / 'slapd.args'}",
            f"sizelimit {self.size_limit if self.size_limit is not None else 'unlimited'}",
        ]
        if self.memberof:
            lines.append("moduleload memberof")
        if self.tls:
            tls_dir = self._make_certificates()
            lines += [
                f"TLSCACertificateFile {tls_dir / 'ca.pem'}",
                f"TLSCertificateFile {tls_dir / 'server.pem'}",
                f"TLSCertificateKeyFile {tls_dir / 'server.key'}",
            ]
        lines += [
            "database mdb",
            "maxsize 1073741824",
            f'suffix "{SUFFIX}"',
            f'rootdn "{ADMIN_DN}"',
            f"rootpw {ADMIN_PASSWORD}",
            f"directory {data}",
            "dbnosync",
            "index objectClass eq",
            "index uid,mail,member,memberUid eq",
            # Passwords are for binding only; everything else only for signed-in clients, so a
            # wrong service password really is refused rather than silently anonymous.
            "access to attrs=userPassword by self write by anonymous auth by * none",
            "access to * by users read by * none",
        ]
        if self.memberof:
            lines += [
                "overlay memberof",
                "memberof-group-oc groupOfNames",
                "memberof-member-ad member",
                "memberof-memberof-ad memberOf",
                "memberof-refint true",
            ]
        self.conf_path.write_text("\n".join(lines) + "\n")
        self._configured = True

    def _make_certificates(self) -> Path:
        tls_dir = self.workdir / "tls"
        tls_dir.mkdir(exist_ok=True)
        ext = tls_dir / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        steps = [
            ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=ssomw test CA"],
            ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
        ]  # fmt: skip
        for step in steps:
            subprocess.run(["openssl", *step], cwd=tls_dir, check=True, capture_output=True)
        return tls_dir

    # -- lifecycle ---------------------------------------------------------------------------
    def launch(self) -> None:
        self._configure()
        listen = self.url + "/" + (f" {self.ldaps_url}/" if self.tls else "")
        self.process.start([SLAPD, "-f", str(self.conf_path), "-h", listen, "-d", "0"])

    def wait_ready(self, timeout: float) -> None:
        self.wait_for(lambda: port_open(self.port), timeout, f"not listening on {self.port}")

    def on_ready(self) -> None:
        """The LDIF given to the constructor, loaded once through the running server."""
        pending, self._pending_ldif = self._pending_ldif, []
        for path in pending:
            self.add(Path(path).read_text())

    # -- data --------------------------------------------------------------------------------
    def _client(self, tool: str, ldif_text: str, extra: tuple[str, ...] = ()) -> None:
        result = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password, *extra],
            input=ldif_text.encode(), capture_output=True, env={**os.environ, **_CLIENT_ENV},
            timeout=120,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.decode()}")

    def add(self, ldif_text: str) -> None:
        """Add entries (LDIF without changetype) through the running server, as admin."""
        self._client("/usr/bin/ldapadd", ldif_text)

    def modify(self, ldif_text: str) -> None:
        """Apply an LDIF change record (changetype: modify/add/delete/modrdn)."""
        self._client("/usr/bin/ldapmodify", ldif_text)

    def slapadd(self, ldif_path: Path) -> None:
        """Bulk-load an LDIF offline, before the first start (overlays do not run: no memberOf)."""
        if self.process.running:
            raise RuntimeError("slapadd needs the server stopped")
        self._configure()
        result = subprocess.run(
            ["/usr/sbin/slapadd", "-f", str(self.conf_path), "-q", "-l", str(ldif_path)],
            capture_output=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"slapadd failed: {result.stderr.decode()}")

    def __repr__(self) -> str:
        return f"<Slapd {self.url} pid={self.pid}>"
