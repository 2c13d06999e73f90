"""Rendering the gateway's own pages (error, logout) and finding the runtime from a view."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template, request

from ..runtime import Runtime

# Shown to users; details stay in the log (with the request id to find them).
MESSAGES = {
    "PROVIDER_UNAVAILABLE": "The sign-in service cannot be reached right now. Please try again "
                            "in a few minutes.",
    "INVALID_RESPONSE": "The sign-in service sent a response that could not be verified, so "
                        "you were not signed in.",
    "SESSION_EXPIRED": "Your sign-in took too long or was started in another window. Please "
                       "start again.",
    "ACCESS_DENIED": "Sign-in was cancelled or refused by the sign-in service.",
    "DOMAIN_NOT_ALLOWED": "Accounts from your e-mail domain cannot sign in here.",
    "AUTH_LEVEL_NOT_MET": "Your sign-in did not meet the security level this application "
                          "requires. Please sign in again using the stronger method.",
    "USER_NOT_ALLOWED": "You are signed in, but your account is not allowed to use this "
                        "application.",
    "BAD_REQUEST": "The request was not understood.",
    "SERVICE_UNAVAILABLE": "The sign-in gateway is temporarily unavailable.",
    "NOT_FOUND": "There is nothing here.",
    "INTERNAL_ERROR": "Something went wrong on our side.",
}


def runtime() -> Runtime:
    return current_app.extensions["ssomw"]


def error_page(code: str, status: int, **context: Any) -> tuple[str, int]:
    message = MESSAGES.get(code, MESSAGES["INTERNAL_ERROR"])
    html = render_template(
        "error.html", code=code, message=message, status=status,
        request_id=g.get("request_id") or request.environ.get("ssomw.request_id", ""),
        **context,
    )
    return html, status


bp = Blueprint("pages", __name__)


@bp.get("/forbidden")
def forbidden() -> tuple[str, int]:
    """The page nginx shows (keeping the 403) when the gateway refuses a signed-in user."""
    return error_page("USER_NOT_ALLOWED", 403)
