"""The REST API under /api/v1: the same operations as the pages (scheduler.web.service),
as JSON, for a bearer token or a logged-in browser session (with its CSRF header)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from alerts.history import STATUSES
from alerts.query import QueryError
from scheduler.config import ConfigError
from scheduler.web import security
from scheduler.web.csrf import csrf_ok
from scheduler.web.service import NotFound, Service

bearer = HTTPBearer(auto_error=False, description="An API token from "
                                                  "`newswatch web token create NAME`.")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
Name = Annotated[str, Path(min_length=1, max_length=200)]
DbId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Since = Annotated[str, Query(max_length=20, description="e.g. 24h, 7d")]
Limit = Annotated[int, Query(ge=1, le=500)]


def service_of(request: Request) -> Service:
    return request.app.state.service


def api_client(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who calls: a valid bearer token, or a logged-in session (with the CSRF token in
    `X-CSRF-Token` for changes). 401 otherwise."""
    if request.headers.get("authorization"):
        if credentials is not None and credentials.scheme.lower() == "bearer":
            owner = security.token_owner(service_of(request).app.sessions,
                                         credentials.credentials)
            if owner is not None:
                return f"token {owner}"
        raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
    if security.session_user(service_of(request).app.sessions, request.session):
        if request.method in UNSAFE_METHODS and not csrf_ok(
                request, request.headers.get("x-csrf-token")):
            raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token header)")
        return "session"
    raise HTTPException(401, "an API token is needed: Authorization: Bearer <token>",
                        headers={"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/api/v1", dependencies=[Depends(api_client)], tags=["api"])
ServiceDep = Annotated[Service, Depends(service_of)]


@contextmanager
def _answers() -> Iterator[None]:
    """Turn the service's errors into HTTP answers: 404, or 422 with the same problem
    lines as `config check`."""
    try:
        yield
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
    except ConfigError as error:
        raise HTTPException(422, {"message": "the config would be invalid",
                                  "problems": error.problems}) from None
    except QueryError as error:
        raise HTTPException(422, {"message": f"invalid query: {error}",
                                  "position": error.position}) from None
    except ValueError as error:
        raise HTTPException(422, str(error)) from None


def _call(action: Callable[..., Any], *args: Any) -> Any:
    with _answers():
        return action(*args)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=4000)
    kind: Literal["auto", "feed", "sitemap", "page"] = "auto"
    interval: str | None = Field(default=None, max_length=20, examples=["15m"])


class SourceChanges(_Body):
    url: str | None = Field(default=None, min_length=1, max_length=4000)
    kind: Literal["auto", "feed", "sitemap", "page"] | None = None
    interval: str | None = Field(default=None, max_length=20)


class SourcePreviewIn(_Body):
    url: str = Field(min_length=1, max_length=4000)
    kind: Literal["auto", "feed", "sitemap", "page"] = "auto"


class RuleIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=4000)
    channels: list[str] = Field(min_length=1, max_length=50)
    sources: list[str] | None = Field(default=None, max_length=200)
    languages: list[str] | None = Field(default=None, max_length=50)
    min_outlets: int | None = Field(default=None, ge=1, le=100)


class RuleChanges(_Body):
    """Only the keys given change; `name` renames the rule."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    query: str | None = Field(default=None, min_length=1, max_length=4000)
    channels: list[str] | None = Field(default=None, min_length=1, max_length=50)
    sources: list[str] | None = Field(default=None, max_length=200)
    languages: list[str] | None = Field(default=None, max_length=50)
    min_outlets: int | None = Field(default=None, ge=1, le=100)


class ChannelChanges(_Body):
    """Only the keys given change (URLs are write-only: they are never shown back)."""

    urls: list[str] | None = Field(default=None, min_length=1, max_length=20)
    format: Literal["text", "markdown", "html"] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    digest: str | None = Field(default=None, max_length=100)
    rate_limit: str | None = Field(default=None, max_length=100)
    quiet_hours: str | None = Field(default=None, max_length=100)


class ChannelIn(_Body):
    name: str = Field(min_length=1, max_length=200)
    urls: list[str] = Field(min_length=1, max_length=20)
    format: Literal["text", "markdown", "html"] = "text"
    timezone: str | None = Field(default=None, max_length=64)
    digest: str | None = Field(default=None, max_length=100)


class RetryIn(_Body):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(default=[], max_length=1000)
    failed: bool = Field(default=False, description="Requeue every failed alert.")


def _changes(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/status", summary="Daemon, sources' health, last 24 h, pending/failed alerts")
def get_status(service: ServiceDep) -> dict[str, Any]:
    return _call(service.status)


@router.get("/sources", summary="Configured sources with their health and next poll")
def get_sources(service: ServiceDep) -> list[dict[str, Any]]:
    return _call(service.sources)


@router.post("/sources", status_code=201, summary="Add a source to config.toml")
def post_source(body: SourceIn, service: ServiceDep) -> dict[str, Any]:
    return _call(service.add_source, body.model_dump()).as_json()


@router.post("/sources/preview", summary="Fetch a URL once and say what it is (no change)")
def preview_source(body: SourcePreviewIn, service: ServiceDep) -> dict[str, Any]:
    return _call(service.preview_source, body.url, body.kind)


@router.patch("/sources/{name}", summary="Change a source in config.toml")
def patch_source(name: Name, body: SourceChanges, service: ServiceDep) -> dict[str, Any]:
    return _call(service.update_source, name, _changes(body)).as_json()


@router.delete("/sources/{name}", summary="Remove a source from config.toml")
def delete_source(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.remove_source, name).as_json()


@router.post("/sources/{name}/pause", summary="Pause a source (`paused = true`)")
def pause_source(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.set_paused, "sources", name, True).as_json()


@router.post("/sources/{name}/resume", summary="Resume a paused source")
def resume_source(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.set_paused, "sources", name, False).as_json()


@router.post("/rules/{name}/pause", summary="Pause a rule (`paused = true`)")
def pause_rule(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.set_paused, "rules", name, True).as_json()


@router.post("/rules/{name}/resume", summary="Resume a paused rule")
def resume_rule(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.set_paused, "rules", name, False).as_json()


@router.get("/rules", summary="The rules in config.toml")
def get_rules(service: ServiceDep) -> list[dict[str, Any]]:
    return _call(service.rules)


@router.get("/rules/preview",
            summary="The stories a query would have alerted on, matched words highlighted")
def get_rule_preview(service: ServiceDep,
                     query: Annotated[str, Query(min_length=1, max_length=4000)],
                     since: Since = "30d", limit: Limit = 50,
                     source: Annotated[list[str] | None, Query(max_length=200)] = None,
                     language: Annotated[list[str] | None, Query(max_length=3)] = None,
                     ) -> list[dict[str, Any]]:
    """`source` and `language` (repeatable) filter like a rule's `sources`/`languages`."""
    return _call(service.preview, query, since, limit, source, language)


@router.get("/rules/{name}", summary="One rule")
def get_rule(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.rule, name)


@router.get("/rules/{name}/preview", summary="What a saved rule would have alerted on")
def get_saved_rule_preview(name: Name, service: ServiceDep, since: Since = "30d",
                           limit: Limit = 50) -> list[dict[str, Any]]:
    rule = _call(service.rule, name)
    return _call(service.preview, rule["query"], since, limit, rule["sources"],
                 rule["languages"])


@router.post("/rules", status_code=201, summary="Add a rule to config.toml")
def post_rule(body: RuleIn, service: ServiceDep) -> dict[str, Any]:
    return _call(service.add_rule, body.model_dump()).as_json()


@router.patch("/rules/{name}", summary="Change (or rename) a rule in config.toml")
def patch_rule(name: Name, body: RuleChanges, service: ServiceDep) -> dict[str, Any]:
    return _call(service.update_rule, name, _changes(body)).as_json()


@router.delete("/rules/{name}", summary="Remove a rule from config.toml")
def delete_rule(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.remove_rule, name).as_json()


@router.get("/stories", summary="Stories first seen within `since`")
def get_stories(service: ServiceDep, since: Since = "24h",
                rule: Annotated[str | None, Query(max_length=200)] = None
                ) -> list[dict[str, Any]]:
    return _call(service.stories, since, rule)


@router.get("/stories/{story_id}", summary="One story: outlets and articles")
def get_story(story_id: DbId, service: ServiceDep) -> dict[str, Any]:
    return _call(service.story, story_id)


@router.get("/articles", summary="Articles first seen within `since`, newest first")
def get_articles(service: ServiceDep, since: Since = "24h",
                 limit: Limit = 50) -> list[dict[str, Any]]:
    return _call(service.articles, since, limit)


@router.get("/articles/{article_id}", summary="One article with its extracted text")
def get_article(article_id: DbId, service: ServiceDep) -> dict[str, Any]:
    return _call(service.article, article_id)


@router.get("/alerts", summary="Alert history with every delivery attempt per URL")
def get_alerts(service: ServiceDep,
               status: Annotated[Literal[STATUSES] | None, Query()] = None,  # type: ignore[valid-type]
               channel: Annotated[str | None, Query(max_length=200)] = None,
               rule: Annotated[str | None, Query(max_length=200)] = None,
               limit: Limit = 50) -> list[dict[str, Any]]:
    return _call(service.alerts, status, channel, rule, limit)


@router.post("/alerts/retry", summary="Requeue failed alerts (by id, or all)")
def retry_alerts(body: RetryIn, service: ServiceDep) -> dict[str, list[int]]:
    if bool(body.ids) == body.failed:
        raise HTTPException(422, "give alert ids or failed=true (not both)")
    return _call(service.retry, None if body.failed else body.ids)


@router.get("/channels", summary="Channels, their Apprise URLs masked")
def get_channels(service: ServiceDep) -> list[dict[str, Any]]:
    return _call(service.channels)


@router.post("/channels", status_code=201, summary="Add a channel to config.toml")
def post_channel(body: ChannelIn, service: ServiceDep) -> dict[str, Any]:
    settings = body.model_dump(exclude={"name"})
    return _call(service.add_channel, body.name, settings).as_json()


@router.delete("/channels/{name}", summary="Remove a channel from config.toml")
def delete_channel(name: Name, service: ServiceDep) -> dict[str, Any]:
    return _call(service.remove_channel, name).as_json()


@router.patch("/channels/{name}", summary="Change a channel in config.toml")
def patch_channel(name: Name, body: ChannelChanges, service: ServiceDep) -> dict[str, Any]:
    return _call(service.update_channel, name, _changes(body)).as_json()


@router.post("/channels/{name}/test", summary="Send a sample alert to each URL")
def test_channel(name: Name, service: ServiceDep) -> list[dict[str, Any]]:
    return _call(service.test_channel, name)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()
