"""Real servers on loopback for newswatch's tests: a news site, an SMTP server, a webhook.

Each server binds port 0 on a loopback address, runs in a daemon thread and is a
context manager (``with SiteServer(SEED_SITE) as site: ...``); ``tests/conftest.py``
exposes them as fixtures. ``create_postgres_database()`` gives a throwaway database
on the local PostgreSQL.

How Apprise (2.3) reaches these servers (checked by ``tests/test_servers.py``):

* Email, plain SMTP without TLS and without login, to ``SMTPServer``::

      mailto://127.0.0.1:{port}?from=newswatch@example.org&to=desk@example.org

  ``mailto://`` (unlike ``mailtos://``) defaults to ``mode=insecure``; adding
  ``&mode=insecure`` says so explicitly and is accepted too. With no user in the URL
  Apprise never logs in. Each recipient gets its own mail (``to=a@x,b@x`` makes two),
  a ``multipart/alternative`` with a text/plain and a text/html part (read it with
  ``message.get_body(("plain",))``); ``Subject`` is the title, ``From`` the ``from=``
  address, plus an ``X-Application: Apprise`` header.

* JSON webhook to ``WebhookReceiver``: ``json://127.0.0.1:{port}/path`` makes one
  ``POST /path`` (``Content-Type: application/json``, ``User-Agent: Apprise``) with::

      {"version": "1.0", "title": "...", "message": "...", "attachments": [],
       "type": "info"}

  (``type`` is the notify type: info, success, warning or failure). A status outside
  2xx is a failed delivery, not retried. ``Apprise.notify()`` returns an
  ``AppriseResult``, falsy on failure, rather than a bool.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from functools import lru_cache, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import unquote, urlsplit

import psycopg
from aiosmtpd.controller import Controller
from psycopg import sql

SEED_SITE = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "seed-site"
SEED_HOST = "http://news.example.test"
SEED_DATE = date(2024, 6, 18)

# English names, whatever the locale
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# --- fresh dates -------------------------------------------------------------------


@lru_cache
def _date_pattern(old: date) -> re.Pattern[str]:
    iso = re.escape(old.isoformat())
    return re.compile(
        # 2024-06-18T09:41:00+00:00 (never /2024/06/18/: URL paths use slashes)
        rf"(?<![\w/.-])(?P<iso>{iso}"
        r"(?P<iso_rest>T\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)?)(?!\d)"
        # Tue, 18 Jun 2024 21:05:00 +0000
        rf"|(?P<rfc>[A-Z][a-z]{{2}}, 0?{old.day} {_MONTHS[old.month - 1][:3]} {old.year}"
        rf"(?P<rfc_rest> \d\d:\d\d(?::\d\d)? (?:[+-]\d{{4}}|GMT|UTC?)))"
        # Tuesday, June 18, 2024 / June 18, 2024
        rf"|(?P<text>(?P<weekday>(?:{'|'.join(_DAYS)}), )?"
        rf"{_MONTHS[old.month - 1]} {old.day}, {old.year})"
    )


def _latest_past(stamp: datetime, now: datetime) -> date:
    """The date on which ``stamp``'s time of day was last reached at ``now``."""
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    local_now = now.astimezone(stamp.tzinfo)
    fresh = datetime.combine(local_now.date(), stamp.timetz())
    return local_now.date() if fresh <= local_now else local_now.date() - timedelta(days=1)


def freshen_dates(text: str, now: datetime | None = None, old: date = SEED_DATE) -> str:
    """Re-date ``old`` in ``text`` so it reads as the last 24 hours' news.

    Each timestamp (ISO 8601 or RFC 822) keeps its time of day and gets today's date,
    or yesterday's if that time has not come yet today: nothing is ever dated in the
    future. Dates without a time ("June 18, 2024", "Tuesday, June 18, 2024") take the
    new date of the text's first timestamp (an article page's publish time), or today.
    URL paths such as ``/2024/06/18/`` are left alone.
    """
    now = now or datetime.now(UTC)
    pattern = _date_pattern(old)

    def new_date(match: re.Match[str]) -> date:
        if match["iso_rest"]:
            return _latest_past(datetime.fromisoformat(match["iso"]), now)
        if match["rfc"]:
            return _latest_past(email.utils.parsedate_to_datetime(match["rfc"]), now)
        return now.date()

    stamps = (m for m in pattern.finditer(text) if m["iso_rest"] or m["rfc"])
    first = next(stamps, None)
    page_date = new_date(first) if first else now.date()

    def replace(match: re.Match[str]) -> str:
        if match["iso"]:
            day = new_date(match) if match["iso_rest"] else page_date
            return day.isoformat() + (match["iso_rest"] or "")
        if match["rfc"]:
            day = new_date(match)
            return (
                f"{_DAYS[day.weekday()][:3]}, {day.day:02d} "
                f"{_MONTHS[day.month - 1][:3]} {day.year}{match['rfc_rest']}"
            )
        weekday = f"{_DAYS[page_date.weekday()]}, " if match["weekday"] else ""
        return f"{weekday}{_MONTHS[page_date.month - 1]} {page_date.day}, {page_date.year}"

    return pattern.sub(replace, text)


# --- threaded HTTP servers ---------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to its owner's ``_handle``."""

    def __init__(self, owner: _LoopbackHTTPServer, *args: Any) -> None:
        self.owner = owner
        super().__init__(*args)

    def do_GET(self) -> None:
        self.owner._handle(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def respond(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


class _LoopbackHTTPServer:
    """A ``ThreadingHTTPServer`` on ``host``, port 0, served by a daemon thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._lock = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handle(self, request: _Handler) -> None:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._httpd = ThreadingHTTPServer((self.host, 0), partial(_Handler, self))
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None and self._thread is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    status: int


@dataclass(frozen=True)
class Route:
    status: int
    body: bytes
    headers: dict[str, str]


def _content_type(rel: str) -> str:
    if rel == "feed/index.xml" or rel.endswith("/feed/index.xml"):
        kind = "application/rss+xml"
    elif rel.endswith(".xml"):
        kind = "application/xml"
    elif rel.endswith(".txt"):
        kind = "text/plain"
    else:
        kind = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    textual = kind.startswith("text/") or kind.endswith(("xml", "json", "javascript"))
    return f"{kind}; charset=utf-8" if textual else kind


class SiteServer(_LoopbackHTTPServer):
    """Serves a directory like a news site: ``/x/`` is ``x/index.html`` (or ``index.xml``).

    Text files have ``rewrite_from`` replaced by ``base_url``; with ``fresh_dates`` the
    dates of ``SEED_DATE`` are moved to the last 24 hours (see ``freshen_dates``).
    Files carry ``ETag`` and ``Last-Modified`` and answer conditional GETs with 304.
    ``set_route`` overrides a path with any status and body; ``add_file`` publishes a
    page (or replaces a file) in memory. Every request is logged.
    """

    def __init__(
        self,
        root: Path | str = SEED_SITE,
        host: str = "127.0.0.1",
        *,
        rewrite_from: str | None = SEED_HOST,
        fresh_dates: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(host)
        self.root = Path(root).resolve()
        self.rewrite_from = rewrite_from
        self.fresh_dates = fresh_dates
        self.clock = clock
        self._log: list[LoggedRequest] = []
        self._routes: dict[str, Route] = {}
        self._files: dict[str, tuple[bytes, float]] = {}

    # -- test controls
    def set_route(
        self,
        path: str,
        status: int = 200,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "text/html; charset=utf-8",
    ) -> None:
        """Answer ``path`` (query ignored unless given) with this, served as is."""
        raw = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._routes[path] = Route(
                status, raw, {"Content-Type": content_type, **(headers or {})}
            )

    def clear_route(self, path: str) -> None:
        with self._lock:
            self._routes.pop(path, None)

    def add_file(self, path: str, text: bytes | str) -> None:
        """Serve ``text`` at ``path`` (``/a/b/`` means ``a/b/index.html``), rewritten."""
        raw = text.encode() if isinstance(text, str) else text
        with self._lock:
            self._files[self._relative(path)] = (raw, time.time())

    def read_text(self, path: str) -> str:
        """The source (unrewritten) text of a file, e.g. to edit and ``add_file`` it."""
        rel = self._relative(path)
        with self._lock:
            if rel in self._files:
                return self._files[rel][0].decode()
        return (self.root / rel).read_text(encoding="utf-8")

    @property
    def requests(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._log)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def count(self, path_prefix: str = "") -> int:
        return sum(r.path.startswith(path_prefix) for r in self.requests)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # -- serving
    @staticmethod
    def _relative(path: str) -> str:
        rel = unquote(urlsplit(path).path).lstrip("/")
        return rel + "index.html" if rel == "" or rel.endswith("/") else rel

    def _find(self, rel: str) -> tuple[bytes, float] | None:
        with self._lock:
            if rel in self._files:
                return self._files[rel]
        file = (self.root / rel).resolve()
        if file.is_relative_to(self.root) and file.is_file():
            return file.read_bytes(), file.stat().st_mtime
        return None

    def _is_directory(self, rel: str) -> bool:
        with self._lock:
            if any(name.startswith(rel + "/") for name in self._files):
                return True
        return (self.root / rel).resolve().is_relative_to(self.root) and (self.root / rel).is_dir()

    def _render(self, rel: str, raw: bytes) -> bytes:
        if not _content_type(rel).endswith("charset=utf-8"):
            return raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        if self.rewrite_from:
            text = text.replace(self.rewrite_from, self.base_url)
        if self.fresh_dates:
            text = freshen_dates(text, self.clock())
        return text.encode("utf-8")

    def _handle(self, request: _Handler) -> None:
        status, body, headers = self._answer(request)
        with self._lock:  # logged before answering: a client that got its answer sees it
            self._log.append(
                LoggedRequest(request.command, request.path, dict(request.headers.items()), status)
            )
        request.respond(status, body, headers)

    def _answer(self, request: _Handler) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(request.path)
        with self._lock:
            route = self._routes.get(request.path) or self._routes.get(url.path)
        if route:
            return route.status, route.body, route.headers
        if request.command not in ("GET", "HEAD"):
            return 405, b"", {"Allow": "GET, HEAD"}
        rel = self._relative(url.path)
        names = [rel, rel.removesuffix(".html") + ".xml"] if url.path.endswith("/") else [rel]
        for name in names:
            found = self._find(name)
            if found:
                break
        else:
            if not url.path.endswith("/") and self._is_directory(rel):
                query = f"?{url.query}" if url.query else ""
                return 301, b"", {"Location": f"{self.base_url}{url.path}/{query}"}
            return 404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"}
        body = self._render(name, found[0])
        headers = {
            "Content-Type": _content_type(name),
            "ETag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            "Last-Modified": email.utils.formatdate(found[1], usegmt=True),
        }
        return (304 if _not_modified(request, headers, found[1]) else 200), body, headers


def _not_modified(request: _Handler, headers: dict[str, str], mtime: float) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or headers["ETag"] in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since:
        try:
            since = email.utils.parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        return int(mtime) <= since.timestamp()
    return False


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # the parsed body, or None
    status: int  # what the receiver answered


class WebhookReceiver(_LoopbackHTTPServer):
    """Records every request and answers ``statuses`` in turn, then ``default_status``."""

    def __init__(
        self, host: str = "127.0.0.1", statuses: Iterable[int] = (), default_status: int = 200
    ) -> None:
        super().__init__(host)
        self.default_status = default_status
        self._statuses = list(statuses)
        self._requests: list[WebhookRequest] = []

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def requests(self) -> list[WebhookRequest]:
        with self._lock:
            return list(self._requests)

    def set_statuses(self, statuses: Iterable[int]) -> None:
        with self._lock:
            self._statuses = list(statuses)

    def wait_for(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` requests have arrived."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._requests) >= n, timeout)

    def _handle(self, request: _Handler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:  # recorded before answering: a client that got its answer sees it
            status = self._statuses.pop(0) if self._statuses else self.default_status
            self._requests.append(
                WebhookRequest(
                    request.command,
                    request.path,
                    dict(request.headers.items()),
                    body,
                    parsed,
                    status,
                )
            )
            self._lock.notify_all()
        request.respond(status, b"ok" if status < 400 else b"error", {"Content-Type": "text/plain"})


# --- SMTP --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio does
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class SMTPServer:
    """An aiosmtpd server (no auth, no TLS) keeping every mail it receives.

    ``stop()`` and ``start()`` can be called mid-test: the port stays the same, so a
    client configured with it sees the server go down and come back.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._controller: Controller | None = None
        self._received: list[ReceivedMail] = []
        self._lock = threading.Condition()

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.mails]

    @property
    def running(self) -> bool:
        return self._controller is not None

    def wait_for(self, n: int, timeout: float = 5.0) -> bool:
        """Wait until at least ``n`` mails have arrived."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._received) >= n, timeout)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parser = BytesParser(policy=policy.default)
        message = cast(EmailMessage, parser.parsebytes(envelope.content))
        with self._lock:
            self._received.append(
                ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message)
            )
            self._lock.notify_all()
        return "250 Message accepted for delivery"

    def start(self) -> Self:
        for _ in range(50):
            port = self.port or free_port(self.host)
            # Checked first: on a busy port the controller only fails after ready_timeout.
            if _bindable(self.host, port):
                controller = Controller(
                    self, hostname=self.host, port=port, ready_timeout=5, enable_SMTPUTF8=True
                )
                try:
                    controller.start()
                except OSError:
                    controller.stop(no_assert=True)
                else:
                    self.port, self._controller = port, controller
                    return self
            time.sleep(0.05)  # a fixed port still closing, or a lost race for a free one
        raise OSError(f"cannot start an SMTP server on {self.host}:{self.port}")

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- PostgreSQL --------------------------------------------------------------------


class PostgresUnavailable(RuntimeError):
    pass


@contextmanager
def create_postgres_database(
    host: str = "127.0.0.1", port: int = 5432, user: str = "postgres",
    template: str | None = None,
) -> Iterator[str]:
    """Create ``newswatch_test_<random>`` (a copy of database `template` if given: no
    session may be connected to it), yield its SQLAlchemy URL, then drop it."""
    name = f"newswatch_test_{secrets.token_hex(6)}"

    def admin() -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=host, port=port, user=user, dbname="postgres", autocommit=True, connect_timeout=5
        )

    try:
        connection = admin()
    except psycopg.OperationalError as exc:
        raise PostgresUnavailable(
            f"PostgreSQL at {host}:{port} as user {user!r} is unreachable ({exc}). "
            "Start it, or set NEWSWATCH_SKIP_POSTGRES=1 to skip the PostgreSQL tests."
        ) from exc
    with connection:
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        connection.execute(create)
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    finally:
        with admin() as connection:  # WITH (FORCE) ends the test's leftover sessions
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def skip_postgres() -> bool:
    """Whether an unreachable PostgreSQL should skip tests rather than fail them."""
    return os.environ.get("NEWSWATCH_SKIP_POSTGRES") == "1"
