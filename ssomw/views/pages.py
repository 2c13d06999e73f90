"""``/forbidden``: the page nginx shows, keeping the 403, when the gateway refuses a user."""

from __future__ import annotations

from flask import Blueprint

from ssomw.views.common import error_page

bp = Blueprint("pages", __name__)


@bp.get("/forbidden")
def forbidden() -> tuple[str, int, dict[str, str]]:
    """The page nginx shows (keeping the 403) when the gateway refuses a signed-in user."""
    return error_page("USER_NOT_ALLOWED", 403)
