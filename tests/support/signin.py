"""Scripted sign-in and sign-out through the test provider's real pages (tests/oidc-provider).

The forms (tests/oidc-provider/pages.js, devInteractions' field names):
  login:   POST /interaction/<uid>  prompt=login, login=<account id or e-mail>, password=<...>
  consent: POST /interaction/<uid>  prompt=consent
  logout:  <form id="op.logoutForm" method=post action=/session/end/confirm> xsrf=<hidden>;
           the "Yes, sign me out" button adds logout=yes
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

MAX_FORMS = 6


class Form:
    """One HTML form: where it posts and its named fields (hidden values included)."""

    def __init__(self, action: str, method: str, form_id: str | None) -> None:
        self.action = action
        self.method = method.lower() or "get"
        self.id = form_id
        self.fields: dict[str, str] = {}


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._current: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get"), a.get("id"))
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and a.get("name"):
            self._current.fields[a["name"]] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def parse_forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def _prompt_form(response: requests.Response) -> Form | None:
    if "html" not in response.headers.get("Content-Type", ""):
        return None
    for form in parse_forms(response.text):
        if form.fields.get("prompt") in ("login", "consent"):
            return form
    return None


def _form_post_form(response: requests.Response) -> Form | None:
    """The provider's form_post page: a POST form carrying the authorization response."""
    if "html" not in response.headers.get("Content-Type", ""):
        return None
    for form in parse_forms(response.text):
        if form.method == "post" and "state" in form.fields and \
                ("code" in form.fields or "error" in form.fields):
            return form
    return None


def sign_in(
    session: requests.Session,
    start_url: str,
    username: str,
    password: str,
    *,
    timeout: float = 10.0,
) -> requests.Response:
    """Open start_url and complete the provider's login (and consent) forms.

    Follows every redirect and returns the last response: normally the protected app's page,
    or the provider's 401 "Invalid login or password" page when the credentials are refused.
    `response.trail` lists every URL visited, for assertion messages.
    """
    trail: list[str] = []
    response = session.get(start_url, timeout=timeout)
    trail += [r.url for r in response.history] + [response.url]
    for _ in range(MAX_FORMS):
        form = _prompt_form(response)
        if form is None and (posted := _form_post_form(response)) is not None:
            # response_mode=form_post: the provider's page would auto-submit this in a browser.
            response = session.post(posted.action, data=posted.fields, timeout=timeout)
            trail += [r.url for r in response.history] + [response.url]
            continue
        if form is None or response.status_code == 401:  # no form, or credentials refused
            break
        data = dict(form.fields)
        if data["prompt"] == "login":
            data.update(login=username, password=password)
        response = session.post(urljoin(response.url, form.action), data=data, timeout=timeout)
        trail += [r.url for r in response.history] + [response.url]
    else:
        raise RuntimeError(f"sign-in did not finish after {MAX_FORMS} forms: {trail}")
    response.trail = trail  # type: ignore[attr-defined]
    return response


def gateway_logout(http: Any, url: str, *, timeout: float = 10.0,
                   **kwargs: Any) -> requests.Response:
    """Sign out at the gateway as a user does: GET ``url`` (its /sso/logout, which only asks),
    then post the confirmation form it shows. ``http`` is a requests.Session or the requests
    module; ``kwargs`` (headers, allow_redirects, ...) go to both requests."""
    page = http.get(url, timeout=timeout, **{k: v for k, v in kwargs.items()
                                             if k != "allow_redirects"})
    assert page.status_code == 200, (page.status_code, page.text[:200])
    [form] = [f for f in parse_forms(page.text) if f.method == "post" and "csrf" in f.fields]
    return http.post(urljoin(page.url, form.action), data=form.fields, timeout=timeout,
                     **kwargs)


def provider_logout(
    session: requests.Session, start_url: str, *, confirm: bool = True, timeout: float = 10.0
) -> requests.Response:
    """Open start_url (e.g. the gateway's /sso/logout) and answer the provider's logout question.

    confirm=True presses "Yes, sign me out" (ends the provider session, back-channel logout to
    every client); False presses "No, stay signed in". Returns the last response.
    """
    response = session.get(start_url, timeout=timeout)
    if "html" in response.headers.get("Content-Type", ""):
        for form in parse_forms(response.text):
            if form.id == "op.logoutForm":
                data = dict(form.fields)
                if confirm:
                    data["logout"] = "yes"
                response = session.post(
                    urljoin(response.url, form.action), data=data, timeout=timeout
                )
                break
    return response
