"""What to register at each provider: the gateway's redirect and logout URIs.

Printed by ``ssomw check`` so an operator can configure the client at the provider (this is how
the back-channel and front-channel logout endpoints are advertised).
"""

from __future__ import annotations

from typing import Any

from ssomw.config import Config


def base_urls(config: Config) -> list[str]:
    """``server.public_url``, else ``https://<host>`` for every exact app host."""
    public = config["server"].get("public_url")
    if public:
        return [public.rstrip("/")]
    hosts = [h for app in config["apps"] if app["sso"] for h in app["hosts"]
             if not h.startswith("*.")]
    return [f"https://{h}" for h in dict.fromkeys(hosts)]


def registration(config: Config) -> dict[str, dict[str, Any]]:
    prefix = config.prefix
    bases = base_urls(config)
    out = {}
    for provider in config["providers"]:
        logout = provider["logout"]
        entry: dict[str, Any] = {
            "client_id": provider["client_id"],
            "redirect_uris": [f"{b}{prefix}/callback" for b in bases],
            "post_logout_redirect_uris": [f"{b}{prefix}/logged-out" for b in bases],
            "token_endpoint_auth_method": provider["token_auth"],
        }
        if logout["backchannel"] and bases:
            entry["backchannel_logout_uri"] = f"{bases[0]}{prefix}/backchannel-logout"
            entry["backchannel_logout_session_required"] = True
        if logout["frontchannel"] and bases:
            entry["frontchannel_logout_uri"] = f"{bases[0]}{prefix}/frontchannel-logout"
            entry["frontchannel_logout_session_required"] = True
        out[provider["id"]] = entry
    return out
