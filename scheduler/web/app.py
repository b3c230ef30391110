"""The web app: FastAPI (the REST API and its OpenAPI document come from the same
typed functions) on Starlette, pages rendered by Jinja2 with autoescaping and made live
with htmx (one vendored file, no JavaScript build), served by uvicorn.

Who gets in:
* pages: a session cookie set at login (signed, HttpOnly, SameSite=Lax, Secure when the
  request came over https); every POST carries the session's CSRF token;
* /api/v1: `Authorization: Bearer nw_...` (see `newswatch web token create`), or the
  session cookie plus the CSRF token in an `X-CSRF-Token` header for changes;
* /feeds: a secret token per feed in its address, for feed readers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from scheduler.app import App
from scheduler.web import api, feeds, pages, security
from scheduler.web.service import Service, ask_daemon_to_reload

HERE = Path(__file__).parent
SESSION_COOKIE = "newswatch_session"
SESSION_MAX_AGE = 14 * 24 * 3600


class SessionsByScheme:
    """Starlette's SessionMiddleware, with the cookie marked Secure when the request came
    over TLS (directly, or through a proxy uvicorn trusts): one cookie policy per scheme."""

    def __init__(self, app: ASGIApp, secret_key: str) -> None:
        options = {"secret_key": secret_key, "session_cookie": SESSION_COOKIE,
                   "max_age": SESSION_MAX_AGE, "same_site": "lax"}
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.tls = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secure = scope.get("scheme") in ("https", "wss")
        await (self.tls if secure else self.plain)(scope, receive, send)


def create_app(app: App, config_file: Path | None = None, *,
               reloader: Callable[[App], str] = ask_daemon_to_reload,
               limiter: security.LoginLimiter | None = None) -> FastAPI:
    """The ASGI app on `app`'s database and config file (its tables must exist)."""
    service = Service(config_file or app.loaded.path, app, reloader)
    web = FastAPI(
        title="newswatch", version="1",
        description="Watch news sources and get one alert per story. Every endpoint "
                    "needs `Authorization: Bearer <token>` (`newswatch web token create`).",
        openapi_url=None, docs_url=None, redoc_url=None,
    )
    web.state.service = service
    web.state.limiter = limiter or security.LoginLimiter()
    web.state.feed_key = security.signing_key(app.sessions, security.FEED_KEY)
    web.include_router(api.router)
    web.include_router(feeds.router)
    web.include_router(pages.router)
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @web.exception_handler(pages.LoginRequired)
    async def _to_login(request: Request, _error: pages.LoginRequired) -> Any:
        return pages.redirect_to_login(request)

    @web.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> Any:
        if request.url.path.startswith(("/api/", "/feeds/")):
            return JSONResponse({"detail": error.detail}, error.status_code,
                                headers=error.headers)
        return pages.error_page(request, error.status_code, str(error.detail),
                                headers=error.headers)

    secret = security.signing_key(app.sessions, security.SESSION_KEY)
    web.add_middleware(SessionsByScheme, secret_key=secret)
    return web
