"""``GET {prefix}/metrics``: Prometheus text format, for the ``metrics.allow_from`` networks only.

Counts of users, apps and failures are not for the public: anyone else gets a 403. With
``metrics.enabled: false`` the path is a plain 404, like any unknown page. The client address
is ``request.remote_addr``, already resolved from ``X-Forwarded-For`` by the trusted-proxy
middleware, so a client cannot claim an allowed address. The store is never touched, so the
scrape keeps working (and shows the store errors) while the store is down.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, request

from ssomw.core.networks import in_networks, parse_address, parse_networks
from ssomw.telemetry import metrics
from ssomw.views.common import runtime

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    settings = runtime().config["metrics"]
    if not settings["enabled"]:
        abort(404)
    address = parse_address(request.remote_addr or "")
    if address is None or not in_networks(address, parse_networks(settings["allow_from"])):
        return Response("forbidden\n", 403, mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})
    body, content_type = metrics.render()
    return Response(body, 200, content_type=content_type, headers={"Cache-Control": "no-store"})
