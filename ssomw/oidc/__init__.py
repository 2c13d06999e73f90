"""OpenID Connect, as a relying party: providers and their keys, the code flow, token rules,
refresh and every kind of logout.

Rule: each protocol rule is one small validator quoting the spec (``tokens.py``,
``logout_token.py``); flows take what they need from the process (:class:`RuntimeParts`)
rather than importing the gateway's runtime, so nothing here runs back up the layers.
"""

from __future__ import annotations

from typing import Protocol

from ssomw.oidc.provider import Providers
from ssomw.session.manager import Sessions
from ssomw.store.base import Store


class RuntimeParts(Protocol):
    """What refresh and logout need of the running process (the gateway's runtime has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def providers(self) -> Providers: ...

    @property
    def sessions(self) -> Sessions: ...
