"""Opaque bearer tokens, asked about at the provider (RFC 7662 Token Introspection).

The gateway authenticates as its own client (the provider's ``token_auth``) through Authlib's
OAuth 2.0 client; the answer is judged by ``access_tokens.check_introspection``. A provider that
does not answer is an outage (the caller answers 503, never allow), not a bad token.
"""

from __future__ import annotations

from typing import Any

import requests

from ssomw.oidc.client import oauth_session
from ssomw.oidc.provider import Provider, ProviderUnavailable


def introspect(provider: Provider, token: str) -> dict[str, Any]:
    """The provider's introspection answer (a JSON object); raises ProviderUnavailable when the
    endpoint is missing, unreachable or answers with anything but a JSON object."""
    endpoint = provider.endpoint("introspection_endpoint")
    if not endpoint:
        raise ProviderUnavailable(f"provider {provider.id} publishes no introspection_endpoint")
    client = oauth_session(provider, redirect_uri="")
    try:
        response = client.introspect_token(endpoint, token=token,
                                           token_type_hint="access_token")
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"introspection: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise ProviderUnavailable(f"introspection answered {response.status_code}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise ProviderUnavailable("introspection answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise ProviderUnavailable("introspection answer is not a JSON object")
    return answer
