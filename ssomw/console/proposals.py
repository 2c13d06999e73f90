"""Configuration changes waiting for their review: every change the console makes is first
a proposal, shown with its diff and impact preview, and applied only from that page.

A proposal is kept in the store (``console-proposals``, 30 minutes), bound to the person who
made it and to the version it was made from: applying it is ``ConfigService.apply`` with
``expected`` = that version, so a change made meanwhile by anyone is a conflict (412), never
silently overwritten. The page carries only the proposal's random id — never the document,
which may hold secrets.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from ssomw.admin.service import AdminError, Change, ConfigService, Preview
from ssomw.store.base import Store

NAMESPACE = "console-proposals"
LIFETIME = 1800.0


@dataclass(frozen=True)
class Proposal:
    id: str
    user: str
    title: str                 # what the person asked for, in words
    base: int | None           # the version it was made from
    data: dict[str, Any] | None = None   # the whole new configuration
    keep_redacted: bool = True
    rollback: int | None = None          # or: roll back to this version
    back: str = ""             # where "cancel" leads

    def preview(self, svc: ConfigService) -> Preview:
        if self.rollback is not None:
            old = svc.versions.get(self.rollback)
            if old is None:
                raise AdminError(404, "not_found", f"there is no version {self.rollback}")
            return svc.preview(old.data, keep_redacted=False)
        return svc.preview(self.data, keep_redacted=self.keep_redacted)

    def apply(self, svc: ConfigService, author: str) -> Change:
        if self.rollback is not None:
            return svc.rollback(self.rollback, author=author, expected=self.base)
        return svc.apply(self.data, author=author, comment=self.title[:200],
                         expected=self.base, keep_redacted=self.keep_redacted)


def save(store: Store, proposal: Proposal) -> Proposal:
    made = Proposal(**{**asdict(proposal), "id": secrets.token_urlsafe(18)})
    store.kv_set(NAMESPACE, made.id, json.dumps(asdict(made)).encode(), LIFETIME)
    return made


def load(store: Store, proposal_id: str, user: str) -> Proposal | None:
    """The proposal, if it exists, is not expired and is this person's."""
    if not proposal_id or len(proposal_id) > 64:
        return None
    raw = store.kv_get(NAMESPACE, proposal_id)
    if raw is None:
        return None
    proposal = Proposal(**json.loads(raw))
    return proposal if proposal.user == user else None


def drop(store: Store, proposal_id: str) -> None:
    store.kv_delete(NAMESPACE, proposal_id)
