"""Debian's Apache 2.4 with mod_auth_openidc (an OpenID-Certified relying party) as a real
client of the broker: its own ServerRoot in a temp dir, a free loopback port, foreground.

``/protected/`` needs any signed-in user and proxies to an echo app, which shows the claims
mod_auth_openidc passes on as ``OIDC_CLAIM_*`` headers; ``/signed-out`` (where a logout
ends) goes to the same echo app unprotected. Nothing is served from files: when run as root,
Apache's children run as ``nobody``, who cannot read pytest's temp dirs. The redirect URI is
``/protected/redirect_uri``; mod_auth_openidc also serves RP-initiated logout there
(``?logout=<return URL>``) and back-channel logout (``?logout=backchannel``, POST).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.net import free_port, probe_http
from tests.support.process import Component

APACHE_BIN = "/usr/sbin/apache2"
MODULES = Path("/usr/lib/apache2/modules")
LOADED = ["mpm_event", "authn_core", "authz_core", "authz_user", "auth_openidc", "proxy",
          "proxy_http", "mime"]  # unixd is built in


class ApacheRP(Component):
    """``ApacheRP(workdir, host, issuer, client_id, secret, upstream).start()``."""

    name = "apache2 + mod_auth_openidc"
    log_name = "apache.out"

    def __init__(self, workdir: Path, *, host: str, issuer: str, client_id: str,
                 client_secret: str, upstream: str, scopes: str = "openid email profile groups"
                 ) -> None:
        super().__init__(workdir, free_port())
        self.host = host
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.upstream = upstream.rstrip("/")
        self.scopes = scopes
        self.conf_path = self.workdir / "httpd.conf"
        self.error_log = self.workdir / "error.log"

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base}/protected/redirect_uri"

    @property
    def backchannel_uri(self) -> str:
        """What the broker posts to: by address, since the gateway process resolves no
        ``*.localhost`` names (Apache has one virtual host, so any Host reaches it)."""
        return f"http://127.0.0.1:{self.port}/protected/redirect_uri?logout=backchannel"

    @property
    def logged_out_url(self) -> str:
        """Where Apache sends the browser after logout (the echo app, unprotected)."""
        return f"{self.base}/signed-out"

    def config(self) -> str:
        w = self.workdir
        modules = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED)
        user = "User nobody\nGroup nogroup\n" if os.geteuid() == 0 else ""
        return f"""{modules}
ServerRoot {w}
ServerName {self.host}
Listen 127.0.0.1:{self.port}
PidFile {w}/httpd.pid
ErrorLog {self.error_log}
LogLevel warn auth_openidc:info
DefaultRuntimeDir {w}
{user}TypesConfig /etc/mime.types
<Directory />
    AllowOverride None
    Require all denied
</Directory>
ProxyPass /signed-out {self.upstream}/signed-out

OIDCProviderMetadataURL {self.issuer}/.well-known/openid-configuration
OIDCClientID {self.client_id}
OIDCClientSecret {self.client_secret}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI {self.redirect_uri}
OIDCCryptoPassphrase {os.urandom(16).hex()}
OIDCScope "{self.scopes}"
OIDCPKCEMethod S256
OIDCSSLValidateServer Off
OIDCRemoteUserClaim sub
OIDCPassClaimsAs headers
OIDCDefaultLoggedOutURL {self.logged_out_url}
OIDCCacheType shm

<Location /protected/>
    AuthType openid-connect
    Require valid-user
    ProxyPass {self.upstream}/
</Location>
"""

    def launch(self) -> None:
        self.conf_path.write_text(self.config())
        env = {**os.environ, "APACHE_RUN_DIR": str(self.workdir),
               "APACHE_LOG_DIR": str(self.workdir)}
        self.process.start([APACHE_BIN, "-f", str(self.conf_path), "-DFOREGROUND"], env=env)

    def wait_ready(self, timeout: float) -> None:
        url = f"http://127.0.0.1:{self.port}/signed-out"
        self.wait_for(lambda: probe_http(url, 200)[0] is not None, timeout,
                      f"not answering at {url}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        return "\n".join(text.splitlines()[-lines:]) + "\n" + self.process.log_tail(10)
