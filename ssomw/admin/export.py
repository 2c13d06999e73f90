"""Secrets in configuration documents: redaction, restoring redacted values, encrypted backups.

Redaction replaces the value of every key in ``SECRET_KEYS`` (``client_secret``,
``secret_keys``, ``bind_password``, ``password``, ``hash``) with ``"***"``; a list under such
a key becomes a list of ``"***"``. Every other string that is a URL has its credentials (the
userinfo password, password-like query parameters) replaced by ``***`` in place
(:mod:`ssomw.core.url_secrets`): ``redis://:***@cache:6379/0``. A value that is only an
environment reference (``${OIDC_SECRET}``) is left visible: it holds no secret, and each
instance resolves it itself.

Writing a redacted document back (PUT, merge patch, redacted import) means "keep the current
value" wherever a secret key holds ``"***"``, or a URL holds ``***`` as a credential: the
counterpart is found by path, list items of objects by their ``id``/``name``/``username``
(else by position), list items of strings by position. A ``"***"`` with no current value is
an error with its path.

Encrypted backups are a JWE (RFC 7516) made by joserfc with a password-based key:
``PBES2-HS512+A256KW`` (PBKDF2-HMAC-SHA512, :data:`ITERATIONS` rounds, random salt) and
``A256GCM`` for the content. joserfc refuses ``p2c`` above 300 000 as a guard against hostile
files; this module raises that ceiling to :data:`MAX_ITERATIONS` for its own registry only, so
our backups use 600 000 rounds while a crafted file still cannot make a worker spin for long.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
import warnings
from collections.abc import Mapping
from typing import Any

from joserfc import jwe
from joserfc.errors import DecodeError, JoseError
from joserfc.jwk import OctKey
from joserfc.registry import HeaderParameter

from ssomw.config.errors import ConfigError
from ssomw.config.schema import SECRET_KEYS
from ssomw.core.url_secrets import has_redacted_credential, redact_url, restore_url, url_secrets

REDACTED = "***"
FORMAT = "ssomw-config"
ALG, ENC = "PBES2-HS512+A256KW", "A256GCM"
ITERATIONS = 600_000
MAX_ITERATIONS = 2_000_000
MIN_PASSPHRASE = 12
IDENTITY_KEYS = ("id", "name", "username")
ENV_ONLY = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")
NOTHING_TO_KEEP = "is redacted ('***') but there is no current value to keep; give the value"


class ExportError(ValueError):
    """A backup that cannot be read or written: ``code`` is the API error code."""

    def __init__(self, code: str, message: str):
        self.code = code
        super().__init__(message)


# --- redaction --------------------------------------------------------------------------

def _hide(value: Any) -> Any:
    if isinstance(value, list):
        return [_hide(item) for item in value]
    if isinstance(value, str) and ENV_ONLY.match(value):
        return value
    if isinstance(value, (dict, str, int, float, bool)):
        return REDACTED
    return value


def redact(data: Any) -> Any:
    """A copy of ``data`` with every secret value, and every credential in a URL, hidden."""
    if isinstance(data, Mapping):
        return {k: _hide(v) if k in SECRET_KEYS else redact(v) for k, v in data.items()}
    if isinstance(data, list):
        return [redact(item) for item in data]
    if isinstance(data, str):
        return redact_url(data)
    return data


def redact_diff(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A diff from :func:`ssomw.config.versions.diff` with secrets redacted (for audit/API)."""
    out = []
    for change in changes:
        leaf = re.sub(r"\[\d+\]$", "", change.get("path", "")).rsplit(".", 1)[-1]
        secret = leaf in SECRET_KEYS
        out.append({k: (_hide(v) if secret else redact(v)) if k in ("value", "from", "to")
                    else v for k, v in change.items()})
    return out


def secret_values(data: Any) -> set[str]:
    """Every string under a secret key, and every credential in a URL: scrubbed from error
    messages before they are shown."""
    found: set[str] = set()

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, secret or key in SECRET_KEYS)
        elif isinstance(node, list):
            for item in node:
                walk(item, secret)
        elif secret and isinstance(node, str) and len(node) >= 4:
            found.add(node)
        elif isinstance(node, str):
            found.update(value for value in url_secrets(node) if len(value) >= 4)

    walk(data, False)
    return found


def scrub(message: str, secrets: set[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        message = message.replace(value, REDACTED)
    return message


def restore(new: Any, current: Any) -> tuple[Any, list[ConfigError]]:
    """``new`` with each ``"***"`` under a secret key, or as a URL credential, replaced by the
    current value."""
    errors: list[ConfigError] = []

    def counterpart(item: Any, index: int, old: Any) -> Any:
        if not isinstance(old, list):
            return None
        if isinstance(item, Mapping):
            for key in IDENTITY_KEYS:
                if key in item:
                    return next((o for o in old if isinstance(o, Mapping)
                                 and o.get(key) == item[key]), None)
        return old[index] if index < len(old) else None

    def walk(node: Any, old: Any, secret: bool, path: str) -> Any:
        if isinstance(node, Mapping):
            base = old if isinstance(old, Mapping) else {}
            return {k: walk(v, base.get(k), secret or k in SECRET_KEYS,
                            f"{path}.{k}" if path else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item, counterpart(item, i, old), secret, f"{path}[{i}]")
                    for i, item in enumerate(node)]
        if secret and node == REDACTED:
            if old is None or old == REDACTED:
                errors.append(ConfigError(path, NOTHING_TO_KEEP))
            return old
        if not secret and has_redacted_credential(node):
            kept = restore_url(node, old)
            if kept is None:
                errors.append(ConfigError(path, NOTHING_TO_KEEP))
            return kept if kept is not None else node
        return node

    return walk(new, current, False, ""), errors


# --- backup documents ---------------------------------------------------------------------

def document(data: Mapping[str, Any], version: int | None, mode: str,
             passphrase: str | None = None) -> dict[str, Any]:
    """The backup file: ``{format, version, exported_at, secrets, config | encrypted}``."""
    head = {"format": FORMAT, "version": version,
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if mode == "redact":
        return {**head, "secrets": "redacted", "config": redact(data)}
    if mode == "encrypt":
        if not passphrase or len(passphrase) < MIN_PASSPHRASE:
            raise ExportError("passphrase_required", "an encrypted export needs a passphrase "
                              f"of at least {MIN_PASSPHRASE} characters")
        return {**head, "secrets": "encrypted", "encrypted": encrypt(data, passphrase)}
    raise ExportError("bad_request", "secrets must be redact or encrypt")


def read_document(doc: Any, passphrase: str | None) -> tuple[Any, bool]:
    """(config data, whether it may hold ``"***"`` to restore) from a backup or a bare config.

    A mapping without ``format`` is taken as a configuration document itself.
    """
    if not isinstance(doc, Mapping):
        raise ExportError("bad_request", "expected a JSON object: a backup or a configuration")
    if "format" not in doc:
        return copy.deepcopy(dict(doc)), True
    if doc["format"] != FORMAT:
        raise ExportError("bad_request", f"format must be {FORMAT!r}")
    if "encrypted" in doc:
        if not passphrase:
            raise ExportError("passphrase_required", "this backup is encrypted: give the "
                              "passphrase (X-Export-Passphrase / $SSOMW_EXPORT_PASSPHRASE)")
        return decrypt(doc["encrypted"], passphrase), False
    if not isinstance(doc.get("config"), Mapping):
        raise ExportError("bad_request", "the backup has no config object")
    return copy.deepcopy(dict(doc["config"])), True


def _registry() -> jwe.JWERegistry:
    """joserfc's registry, allowing only our algorithms and our iteration ceiling."""
    base = jwe.JWERegistry.algorithms["alg"][ALG]
    alg = copy.copy(base)

    def bounded(value: Any) -> None:
        if not isinstance(value, int) or not 1000 <= value <= MAX_ITERATIONS:
            raise ValueError(f"must be an integer from 1000 to {MAX_ITERATIONS}")

    alg.more_header_registry = {**base.more_header_registry,
                                "p2c": HeaderParameter("PBES2 Count", bounded, True)}

    class Registry(jwe.JWERegistry):
        max_ciphertext_length = 8 * 1024 * 1024

        def get_alg(self, name: str) -> Any:
            super().get_alg(name)  # the allow-list check
            return alg

    return Registry(algorithms=[ALG, ENC])


def _key(passphrase: str) -> OctKey:
    with warnings.catch_warnings():  # joserfc warns about short keys; a passphrase is one
        warnings.simplefilter("ignore")
        return OctKey.import_key(passphrase.encode())


def encrypt(data: Mapping[str, Any], passphrase: str) -> str:
    plaintext = json.dumps(data, separators=(",", ":")).encode()
    return jwe.encrypt_compact({"alg": ALG, "enc": ENC, "p2c": ITERATIONS, "cty": "json"},
                               plaintext, _key(passphrase), registry=_registry())


def _header(token: str) -> dict[str, Any]:
    """The protected header, checked before any key derivation (a damaged or hostile file)."""
    try:
        head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    except (ValueError, TypeError) as exc:
        raise ExportError("bad_backup", "the encrypted backup is damaged (header)") from exc
    if not isinstance(head, dict) or head.get("alg") != ALG or head.get("enc") != ENC:
        raise ExportError("bad_backup", f"the encrypted backup must use {ALG} and {ENC}")
    return head


def decrypt(token: Any, passphrase: str) -> Any:
    if not isinstance(token, str) or token.count(".") != 4:
        raise ExportError("bad_backup", "the encrypted backup is damaged (not a JWE)")
    _header(token)
    try:
        result = jwe.decrypt_compact(token, _key(passphrase), registry=_registry())
    except DecodeError as exc:  # the key unwrap or the GCM tag failed
        raise ExportError("bad_passphrase", "the passphrase does not decrypt this backup "
                          "(wrong passphrase, or the file was changed)") from exc
    except JoseError as exc:
        raise ExportError("bad_backup", f"the encrypted backup is damaged: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ExportError("bad_backup", "the encrypted backup is damaged") from exc
    try:
        return json.loads(result.plaintext or b"")
    except ValueError as exc:
        raise ExportError("bad_backup", "the decrypted backup is not JSON") from exc
