"""Feeds out: each rule's and each channel's alerts as Atom and JSON Feed.

A feed's address holds its own secret token (an HMAC of the feed's kind and name, keyed
by a secret in the database), so any feed reader can subscribe without a password and
the address of one feed tells nothing of another. The headline and snippet are plain
text (Atom `type="text"`, JSON Feed `content_text`): markup in a headline stays text.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from feedgen.feed import FeedGenerator

from crawler.models import utcnow
from scheduler.web import security
from scheduler.web.service import Service

FEED_LENGTH = 50
router = APIRouter(prefix="/feeds", include_in_schema=False)


def feed_path(request: Request, kind: str, name: str, extension: str) -> str:
    """The address of the `kind` ("rule" or "channel") feed called `name`."""
    token = security.feed_token(request.app.state.feed_key, kind, name)
    base = request.app.state.service.loaded.config.web.base_url
    root = base.rstrip("/") if base else str(request.base_url).rstrip("/")
    return f"{root}/feeds/{token}.{extension}"


def _feed_named_by(request: Request, token: str) -> tuple[str, str]:
    service: Service = request.app.state.service
    config = service.loaded.config
    key = request.app.state.feed_key
    candidates = [("rule", rule.name) for rule in config.rules]
    candidates += [("channel", name) for name in config.channels]
    for kind, name in candidates:
        if hmac.compare_digest(security.feed_token(key, kind, name), token):
            return kind, name
    raise HTTPException(404, "no such feed")


def _entries(service: Service, kind: str, name: str) -> list[dict[str, Any]]:
    alerts = (service.alerts(rule=name, limit=FEED_LENGTH * 4) if kind == "rule"
              else service.alerts(channel=name, limit=FEED_LENGTH))
    seen: set[str] = set()
    entries = []
    for alert in alerts:  # a rule's alert went to several channels: one entry per story
        if alert["link"] in seen:
            continue
        seen.add(alert["link"])
        entries.append(alert)
    return entries[:FEED_LENGTH]


@router.get("/{token}.atom")
def atom_feed(token: str, request: Request) -> Response:
    kind, name = _feed_named_by(request, token)
    entries = _entries(request.app.state.service, kind, name)
    feed = FeedGenerator()
    feed.id(f"urn:newswatch:{kind}:{token}")
    feed.title(f"newswatch {kind}: {name}")
    feed.link(href=feed_path(request, kind, name, "atom"), rel="self")
    feed.generator("newswatch")
    if not entries:
        feed.updated(utcnow())
    for alert in reversed(entries):  # feedgen prepends: add oldest first
        entry = feed.add_entry()
        entry.id(f"urn:newswatch:alert:{alert['id']}")
        entry.title(alert["headline"] or "(no headline)")
        entry.link(href=alert["link"])
        entry.updated(alert["created_at"])
        entry.summary(f"{alert['rule']} → {alert['channel']}: {alert['status']}", type="text")
    return Response(feed.atom_str(pretty=True), media_type="application/atom+xml")


@router.get("/{token}.json")
def json_feed(token: str, request: Request) -> JSONResponse:
    kind, name = _feed_named_by(request, token)
    entries = _entries(request.app.state.service, kind, name)
    return JSONResponse({
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"newswatch {kind}: {name}",
        "feed_url": feed_path(request, kind, name, "json"),
        "items": [
            {"id": f"urn:newswatch:alert:{alert['id']}", "url": alert["link"],
             "title": alert["headline"] or "(no headline)",
             "content_text": f"{alert['rule']} → {alert['channel']}: {alert['status']}",
             "date_published": alert["created_at"]}
            for alert in entries
        ],
    }, media_type="application/feed+json")

