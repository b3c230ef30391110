"""The pages: server-rendered HTML (Jinja2, autoescaped) with htmx for the live parts
(rule preview, source preview, channel test). Every page needs a login; every POST
carries the session's CSRF token (a hidden form field, or the X-CSRF-Token header htmx
sends from the <body>'s hx-headers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import Field

from alerts.history import STATUSES
from alerts.query import QueryError
from crawler.models import utcnow
from scheduler.config import ConfigError
from scheduler.lock import latest_run
from scheduler.status import describe_daemon
from scheduler.web import security
from scheduler.web.csrf import csrf_ok, csrf_token
from scheduler.web.feeds import feed_path
from scheduler.web.service import NotFound, Service

HERE = Path(__file__).parent
templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))


class LoginRequired(Exception):
    """The request has no logged-in session: off to the login page."""


def highlighted(text: str, spans: list[list[int]]) -> Markup:
    """`text` escaped, with each (start, end) span in <mark>."""
    parts, cursor = [], 0
    for start, end in spans:
        parts += [escape(text[cursor:start]), Markup("<mark>"), escape(text[start:end]),
                  Markup("</mark>")]
        cursor = end
    parts.append(escape(text[cursor:]))
    return Markup("").join(parts)


templates.filters["highlighted"] = highlighted
templates.filters["when"] = lambda iso: (iso or "")[:16].replace("T", " ") or "–"


def render(request: Request, name: str, status_code: int = 200,
           headers: Any = None, **context: Any) -> HTMLResponse:
    page = templates.get_template(name).render(
        request=request, csrf=csrf_token(request),
        user=request.session.get("user") if name != "login.html" else None,
        flash=request.session.pop("flash", None), path=request.url.path, **context)
    return HTMLResponse(page, status_code, headers=headers)


def error_page(request: Request, status_code: int, message: str,
               headers: Any = None) -> HTMLResponse:
    return render(request, "error.html", status_code, headers, message=message)


def redirect_to_login(request: Request) -> Response:
    target = "/login?next=" + quote(request.url.path)
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, 303)


def logged_in(request: Request) -> str:
    user = security.session_user(service_of(request).app.sessions, request.session)
    if not user:
        request.session.pop("user", None)
        raise LoginRequired()
    return user


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse a state change whose CSRF token is missing or wrong, or that another site
    sent (its Origin names another host)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc not in _own_hosts(request):
        raise HTTPException(403, "cross-site request refused")
    if not csrf_ok(request, sent or request.headers.get("x-csrf-token")):
        raise HTTPException(403, "the form has expired or came from another site: reload the "
                                 "page and try again")


def _own_hosts(request: Request) -> set[str]:
    """The app's own host: as the request names it, and as `[web] base_url` does (behind a
    reverse proxy the Host header may name the proxy's upstream instead)."""
    hosts = {request.headers.get("host", "")}
    base_url = service_of(request).loaded.config.web.base_url
    if base_url:
        hosts.add(urlsplit(base_url).netloc)
    return hosts


def service_of(request: Request) -> Service:
    return request.app.state.service


Csrf = Annotated[str | None, Form(alias="csrf_token")]
DbId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
router = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, dependencies=[Depends(logged_in)])


# -- login -------------------------------------------------------------------------------

@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=_local(next), error=None)


@router.post("/login")
def login(request: Request, password: Annotated[str, Form(max_length=1000)] = "",
          csrf_token: Csrf = None, next: Annotated[str, Form()] = "/") -> Response:
    check_csrf(request, csrf_token)
    limiter: security.LoginLimiter = request.app.state.limiter
    client = request.client.host if request.client else "unknown"
    wait = limiter.retry_after(client)
    if wait:
        return render(request, "login.html", 429, {"Retry-After": str(wait)}, next=_local(next),
                      error=f"Too many failed logins: try again in {wait} s.")
    service = service_of(request)
    if not security.has_password(service.app.sessions):
        return render(request, "login.html", 403, next=_local(next),
                      error="No password is set: run `newswatch web set-password` first.")
    if not security.check_password(service.app.sessions, password):
        limiter.failed(client)
        return render(request, "login.html", 401, next=_local(next),
                      error="Wrong password.")
    limiter.succeeded(client)
    request.session.clear()  # a fresh session (and CSRF token) at every login
    request.session["user"] = "admin"
    request.session["pw"] = security.password_generation(service.app.sessions)
    return RedirectResponse(_local(next), 303)


@router.post("/logout")
def logout(request: Request, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    request.session.clear()
    return RedirectResponse("/login", 303)


def _local(target: str) -> str:
    """Only a path on this site (no open redirect)."""
    safe = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if safe and "\\" not in target else "/"


# -- dashboard -----------------------------------------------------------------------------

@pages.get("/")
def dashboard(request: Request) -> HTMLResponse:
    service = service_of(request)
    status = service.status()
    with service.app.sessions() as session:
        daemon = describe_daemon(latest_run(session), utcnow())
    sources = sorted(service.sources(), key=lambda s: (s["healthy"], s["name"]))
    return render(request, "dashboard.html", status=status, daemon=daemon, sources=sources,
                  stories=service.stories("24h"), failed=service.alerts("failed", limit=10))


# -- sources -------------------------------------------------------------------------------

@pages.get("/sources")
def sources_page(request: Request) -> HTMLResponse:
    return render(request, "sources.html", sources=service_of(request).sources(),
                  problems=[], form={})


@pages.post("/sources/preview")
def source_preview(request: Request, url: Annotated[str, Form(max_length=4000)],
                   kind: Annotated[str, Form()] = "auto", csrf_token: Csrf = None
                   ) -> HTMLResponse:
    check_csrf(request, csrf_token)
    try:
        preview = service_of(request).preview_source(url, kind)
    except ValueError as error:
        preview = {"ok": False, "error": str(error)}
    return render(request, "source_preview.html", preview=preview)


@pages.post("/sources")
def add_source(request: Request, name: Annotated[str, Form(max_length=200)],
               url: Annotated[str, Form(max_length=4000)],
               kind: Annotated[str, Form()] = "auto",
               interval: Annotated[str, Form(max_length=20)] = "",
               csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    service = service_of(request)
    entry = {"name": name.strip(), "url": url.strip(),
             "kind": None if kind == "auto" else kind, "interval": interval.strip() or None}
    try:
        applied = service.add_source(entry)
    except ConfigError as error:
        return render(request, "sources.html", 422, sources=service.sources(),
                      problems=error.problems, form=entry)
    return _back(request, "/sources", f"Added source {name!r}. {applied.reload}")


@pages.post("/sources/{name}/remove")
def remove_source(request: Request, name: str, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    return _change(request, "/sources", lambda s: s.remove_source(name),
                   f"Removed source {name!r}.")


# -- rules ---------------------------------------------------------------------------------

@pages.get("/rules")
def rules_page(request: Request) -> HTMLResponse:
    service = service_of(request)
    rules = service.rules()
    feeds = {rule["name"]: (feed_path(request, "rule", rule["name"], "atom"),
                            feed_path(request, "rule", rule["name"], "json"))
             for rule in rules}
    return render(request, "rules.html", rules=rules, feeds=feeds)


@pages.get("/rules/new")
def new_rule(request: Request) -> HTMLResponse:
    return _rule_form(request, None, {"channels": list(service_of(request).loaded.config
                                                        .channels)[:1]}, [])


@pages.get("/rules/preview")
def rule_preview(request: Request, query: str = "", since: str = "30d", sources: str = "",
                 languages: str = "") -> HTMLResponse:
    stories: list[dict[str, Any]] = []
    error = None
    if query.strip():
        try:
            stories = service_of(request).preview(query[:4000], since[:20], 50,
                                                  _listed(sources), _listed(languages))
        except QueryError as problem:
            error = f"Invalid query: {problem}"
        except ValueError as problem:
            error = str(problem)
    return render(request, "rule_preview.html", stories=stories, error=error,
                  query=query, since=since)


@pages.get("/rules/{name}/edit")
def edit_rule(request: Request, name: str) -> HTMLResponse:
    try:
        rule = service_of(request).rule(name)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return _rule_form(request, name, rule, [])


@pages.post("/rules")
def save_rule(request: Request, name: Annotated[str, Form(max_length=200)],
              query: Annotated[str, Form(max_length=4000)],
              channels: Annotated[list[str], Form()],
              sources: Annotated[str, Form(max_length=4000)] = "",
              languages: Annotated[str, Form(max_length=400)] = "",
              min_outlets: Annotated[int, Form(ge=1, le=100)] = 1,
              original: Annotated[str, Form(max_length=200)] = "",
              csrf_token: Csrf = None) -> Response:
    """Add a rule, or (with `original`) change the rule of that name."""
    check_csrf(request, csrf_token)
    service = service_of(request)
    entry: dict[str, Any] = {
        "name": name.strip(), "query": query, "channels": channels,
        "sources": _listed(sources), "languages": _listed(languages),
        "min_outlets": None if min_outlets == 1 else min_outlets,
    }
    try:
        applied = (service.update_rule(original, entry) if original
                   else service.add_rule(entry))
    except ConfigError as error:
        return _rule_form(request, original or None, entry, error.problems, 422)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return _back(request, "/rules", f"Saved rule {name!r}. {applied.reload}")


@pages.post("/rules/{name}/remove")
def remove_rule(request: Request, name: str, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    return _change(request, "/rules", lambda s: s.remove_rule(name), f"Removed rule {name!r}.")


def _rule_form(request: Request, original: str | None, rule: dict[str, Any],
               problems: list[str], status_code: int = 200) -> HTMLResponse:
    config = service_of(request).loaded.config
    return render(request, "rule_form.html", status_code, original=original, rule=rule,
                  problems=problems, channels=list(config.channels),
                  sources=[s.name for s in config.sources])


def _listed(text: str) -> list[str] | None:
    items = [item.strip() for item in text.split(",") if item.strip()]
    return items or None


# -- stories and articles --------------------------------------------------------------------

@pages.get("/stories")
def stories_page(request: Request, since: str = "24h", rule: str = "") -> HTMLResponse:
    try:
        stories = service_of(request).stories(since[:20], rule or None)
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    return render(request, "stories.html", stories=stories, since=since, rule=rule,
                  rules=[r.name for r in service_of(request).loaded.config.rules])


@pages.get("/stories/{story_id}")
def story_page(request: Request, story_id: DbId) -> HTMLResponse:
    try:
        story = service_of(request).story(story_id)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return render(request, "story.html", story=story)


@pages.get("/articles/{article_id}")
def article_page(request: Request, article_id: DbId) -> HTMLResponse:
    try:
        article = service_of(request).article(article_id)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return render(request, "article.html", article=article)


# -- alerts --------------------------------------------------------------------------------

@pages.get("/alerts")
def alerts_page(request: Request, status: str = "", channel: str = "",
                rule: str = "") -> HTMLResponse:
    service = service_of(request)
    alerts = service.alerts(status if status in STATUSES else None, channel or None,
                            rule or None, limit=100)
    return render(request, "alerts.html", alerts=alerts, status=status, channel=channel,
                  rule=rule, statuses=STATUSES, channels=list(service.loaded.config.channels))


@pages.post("/alerts/retry")
def retry_alerts(request: Request,
                 ids: Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]],
                                Form()] = [],  # noqa: B006
                 csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    if not ids:  # None would mean every failed alert, of every channel
        return _back(request, "/alerts", "No alert was checked: nothing requeued.")
    outcome = service_of(request).retry(ids)
    return _back(request, "/alerts", f"Requeued {len(outcome['requeued'])} alert(s).")


# -- channels ------------------------------------------------------------------------------

@pages.get("/channels")
def channels_page(request: Request) -> HTMLResponse:
    return _channels_page(request, [])


@pages.post("/channels")
def add_channel(request: Request, name: Annotated[str, Form(max_length=200)],
                url: Annotated[str, Form(max_length=4000)],
                format: Annotated[str, Form()] = "text", csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    service = service_of(request)
    try:
        applied = service.add_channel(name.strip(), {"urls": [url.strip()], "format": format})
    except ConfigError as error:
        return _channels_page(request, error.problems)
    except ValueError as error:
        return _channels_page(request, [str(error)])
    return _back(request, "/channels", f"Added channel {name.strip()!r}. {applied.reload}")


@pages.post("/channels/{name}/remove")
def remove_channel(request: Request, name: str, csrf_token: Csrf = None) -> Response:
    check_csrf(request, csrf_token)
    service = service_of(request)
    try:
        applied = service.remove_channel(name)
    except ConfigError as error:
        return _channels_page(request, error.problems)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return _back(request, "/channels", f"Removed channel {name!r}. {applied.reload}")


def _channels_page(request: Request, problems: list[str]) -> HTMLResponse:
    channels = service_of(request).channels()
    feeds = {c["name"]: (feed_path(request, "channel", c["name"], "atom"),
                         feed_path(request, "channel", c["name"], "json")) for c in channels}
    return render(request, "channels.html", 422 if problems else 200, channels=channels,
                  feeds=feeds, problems=problems)


@pages.post("/channels/{name}/test")
def test_channel(request: Request, name: str, csrf_token: Csrf = None) -> HTMLResponse:
    check_csrf(request, csrf_token)
    try:
        results = service_of(request).test_channel(name)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return render(request, "channel_test.html", results=results)


@pages.post("/channels/{name}")
def edit_channel(request: Request, name: str,
                 format: Annotated[str, Form()] = "text",
                 url: Annotated[str, Form(max_length=4000)] = "",
                 csrf_token: Csrf = None) -> Response:
    """Change a channel's format; a URL given replaces its URLs (they are write-only)."""
    check_csrf(request, csrf_token)
    service = service_of(request)
    changes: dict[str, Any] = {"format": format}
    if url.strip():
        changes["urls"] = [url.strip()]
    try:
        applied = service.update_channel(name, changes)
    except ConfigError as error:
        return _channels_page(request, error.problems)
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    return _back(request, "/channels", f"Saved channel {name!r}. {applied.reload}")


def _change(request: Request, back: str, action: Any, done: str) -> Response:
    try:
        applied = action(service_of(request))
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except ConfigError as error:
        raise HTTPException(422, "; ".join(error.problems)) from None
    return _back(request, back, f"{done} {applied.reload}")


def _back(request: Request, path: str, flash: str) -> Response:
    request.session["flash"] = flash
    return RedirectResponse(path, 303)


# Last: the other POST routes of the same shape (remove, test) must match first.
@pages.post("/{array}/{name}/{action}")
def pause_or_resume(request: Request, array: str, name: str, action: str,
                    csrf_token: Csrf = None) -> Response:
    if array not in ("sources", "rules") or action not in ("pause", "resume"):
        raise HTTPException(404, "no such page")
    check_csrf(request, csrf_token)
    return _change(request, f"/{array}",
                   lambda s: s.set_paused(array, name, action == "pause"),
                   f"{'Paused' if action == 'pause' else 'Resumed'} {name!r}.")


router.include_router(pages)
