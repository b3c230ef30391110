"""CSRF tokens: one per session, sent back by every state-changing request (a hidden
form field, or the X-CSRF-Token header that htmx adds from the page's <body>)."""

from __future__ import annotations

import secrets

from starlette.requests import Request


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use), for forms and htmx headers."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, sent: str | None) -> bool:
    expected = request.session.get("csrf")
    return bool(expected and sent and secrets.compare_digest(expected, sent))
