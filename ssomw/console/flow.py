"""The one way the console changes the configuration: propose, review (diff and impact),
apply. Views build the whole new configuration and call :func:`propose`; the review page is
the confirmation, and only its POST changes anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, redirect, request

from ssomw.admin.readable import diff_lines
from ssomw.admin.service import AdminError, ConfigService
from ssomw.console import bp, proposals
from ssomw.console.gate import admin
from ssomw.console.proposals import Proposal
from ssomw.console.render import base, notify, page, refused
from ssomw.views.common import runtime


def service() -> ConfigService:
    rt = runtime()
    return ConfigService.for_config(rt.config, rt.store, via="console")


def propose(title: str, back: str, *, data: dict[str, Any] | None = None,
            keep_redacted: bool = True, rollback: int | None = None, base_version: int | None,
            invalid: Callable[[AdminError], Response]) -> Response:
    """Validate the change (every error: ``invalid`` re-renders the form with them), keep it
    as a proposal and show its review page."""
    svc = service()
    proposal = Proposal(id="", user=admin().user, title=title, base=base_version, data=data,
                        keep_redacted=keep_redacted, rollback=rollback, back=back)
    try:
        proposal.preview(svc)
    except AdminError as exc:
        if exc.status == 422:
            return invalid(exc)
        return refused(exc.message, exc.status if exc.status >= 400 else 400)
    made = proposals.save(runtime().store, proposal)
    return redirect(f"{base()}/review/{made.id}", 303)


@bp.get("/admin/review/<proposal_id>")
def review(proposal_id: str) -> Response:
    rt = runtime()
    proposal = proposals.load(rt.store, proposal_id, admin().user)
    if proposal is None:
        return refused("This change is no longer waiting for review (it was applied, or "
                       "30 minutes passed). Nothing was changed.", 404)
    svc = service()
    try:
        found = proposal.preview(svc)
    except AdminError as exc:
        return refused(exc.message, 409)
    body = found.body()
    return page("review.html", section="", title=proposal.title, back=proposal.back,
                action=f"{base()}/review/{proposal.id}", base_version=proposal.base,
                active=found.version, stale=found.version != proposal.base,
                lines=diff_lines(found.diff), impact=body,
                file_mode=svc.file_mode)


@bp.post("/admin/review/<proposal_id>")
def apply(proposal_id: str) -> Response:
    rt = runtime()
    proposal = proposals.load(rt.store, proposal_id, admin().user)
    if proposal is None or request.form.get("confirm") != "apply":
        return refused("This change is no longer waiting for review. Nothing was changed.",
                       404)
    try:
        change = proposal.apply(service(), admin().author)
    except AdminError as exc:
        if exc.status == 412:
            return refused("The configuration was changed by someone else since you made "
                           "this change (it is now version "
                           f"{exc.headers.get('ETag', '?').strip(chr(34))}). Nothing was "
                           "changed: make your change again on the current version.", 412)
        return refused(exc.message, exc.status)
    proposals.drop(rt.store, proposal.id)
    notify(f"Version {change.version} is active: {proposal.title}. Every gateway instance "
           "applies it within 2 seconds.")
    return redirect(proposal.back or f"{base()}/", 303)


@bp.errorhandler(AdminError)
def admin_error(exc: AdminError) -> Response:
    """A service's refusal that no view words itself: its message, on a console page."""
    return refused(exc.message, exc.status if 400 <= exc.status < 600 else 400)
