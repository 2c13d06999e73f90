"""``GET <prefix>/.well-known/jwks.json``: the gateway's public signing keys.

Apps verify the signed identity assertion (``headers.assertion``) against these; every
instance publishes the same set (the keys live in the store). With the assertion on, the
first key is made here if none exists yet, so an app can fetch the set before its first
request. A store outage answers 503 (the store-down page), like every page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from ssomw.views.common import runtime

bp = Blueprint("keys", __name__)
# Verifiers cache the set; a new key is also fetched by them on an unknown kid.
CACHE = "public, max-age=60"


@bp.get("/.well-known/jwks.json")
def jwks() -> Any:
    rt = runtime()
    if rt.config["headers"].get("assertion"):
        rt.keys.active()
    response = jsonify(rt.keys.jwks())
    response.headers["Cache-Control"] = CACHE
    response.headers["Access-Control-Allow-Origin"] = "*"  # public keys, for any verifier
    return response
