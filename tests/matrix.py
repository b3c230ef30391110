"""A real Matrix homeserver (Synapse) on loopback, with a bot, a reader and a room.

Synapse lives in its own virtualenv, ``.venv-synapse`` (``make test`` creates it), since
its pins may clash with Scrapy's Twisted. ``Synapse`` writes a minimal config (SQLite,
one client listener on 127.0.0.1, no federation, registration only through the shared
secret, rate limits out of the way), starts the server as a subprocess, waits for
``/_matrix/client/versions``, registers ``bot`` (who sends the alerts) and ``reader``
(who owns the room and reads it back through the client API) and creates the room.

Apprise reaches it with (see ``apprise_url``)::

    matrix://bot:PASSWORD@127.0.0.1:PORT/%21ROOM_ID?discovery=no&hsreq=no

``discovery=no`` skips .well-known lookups; ``hsreq=no`` keeps Apprise from appending a
server name to the room id (newer room versions have none).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from servers import free_port

ROOT = Path(__file__).resolve().parents[1]
SYNAPSE_PYTHON = ROOT / ".venv-synapse" / "bin" / "python"
SERVER_NAME = "localhost"
STARTUP_TIMEOUT = 90.0

CONFIG = """\
server_name: "{server_name}"
pid_file: {data}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {data}/homeserver.db
media_store_path: {data}/media
signing_key_path: {data}/signing.key
registration_shared_secret: "{shared_secret}"
macaroon_secret_key: "{macaroon_secret}"
form_secret: "{form_secret}"
report_stats: false
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
presence:
  enabled: false
url_preview_enabled: false
bcrypt_rounds: 4
rc_message: {{per_second: 1000, burst_count: 1000}}
rc_login:
  address: {{per_second: 1000, burst_count: 1000}}
  account: {{per_second: 1000, burst_count: 1000}}
  failed_attempts: {{per_second: 1000, burst_count: 1000}}
rc_joins:
  local: {{per_second: 1000, burst_count: 1000}}
rc_registration: {{per_second: 1000, burst_count: 1000}}
"""


class SynapseUnavailable(RuntimeError):
    pass


class Synapse:
    """A throwaway Synapse in ``data``; ``messages()`` reads the room as the reader."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = 0
        self.bot = "bot"
        self.bot_password = secrets.token_urlsafe(12)
        self.room_id = ""
        self.startup_seconds = 0.0
        self._reader_token = ""
        self._shared_secret = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def apprise_url(self) -> str:
        room = quote(self.room_id, safe="")
        return (f"matrix://{self.bot}:{self.bot_password}@127.0.0.1:{self.port}/{room}"
                "?discovery=no&hsreq=no")

    # -- lifecycle
    def start(self) -> Self:
        if not SYNAPSE_PYTHON.exists():
            raise SynapseUnavailable(
                f"{SYNAPSE_PYTHON} is missing: `make test` creates it "
                "(python3 -m venv .venv-synapse && .venv-synapse/bin/pip install matrix-synapse)"
            )
        started = time.monotonic()
        self.data.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = self.data / "homeserver.yaml"
        config.write_text(CONFIG.format(
            server_name=SERVER_NAME, data=self.data, port=self.port,
            shared_secret=self._shared_secret, macaroon_secret=secrets.token_hex(16),
            form_secret=secrets.token_hex(16),
        ), encoding="utf-8")
        (self.data / "signing.key").write_text(_signing_key(), encoding="utf-8")
        log = (self.data / "synapse.log").open("wb")
        self._process = subprocess.Popen(
            [str(SYNAPSE_PYTHON), "-m", "synapse.app.homeserver", "-c", str(config)],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.data,
        )
        self._wait_until_up(started)
        bot = self._register(self.bot, self.bot_password)
        reader = self._register("reader", secrets.token_urlsafe(12))
        self._reader_token = reader["access_token"]
        room = self._call("POST", "/_matrix/client/v3/createRoom",
                          {"preset": "private_chat", "name": "newswatch alerts",
                           "invite": [bot["user_id"]]}, self._reader_token)
        self.room_id = room["room_id"]
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- reading the room
    def messages(self) -> list[dict[str, Any]]:
        """The content of every m.room.message in the room, oldest first."""
        event_filter = quote(json.dumps({"types": ["m.room.message"]}))
        room = quote(self.room_id, safe="")
        answer = self._call(
            "GET", f"/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100"
                   f"&filter={event_filter}",
            token=self._reader_token,
        )
        return [event["content"] for event in reversed(answer["chunk"])]

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages()
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    # -- helpers
    def _wait_until_up(self, started: float) -> None:
        assert self._process is not None
        while time.monotonic() - started < STARTUP_TIMEOUT:
            if self._process.poll() is not None:
                raise SynapseUnavailable(f"Synapse exited at start:\n{self._log_tail()}")
            try:
                self._call("GET", "/_matrix/client/versions")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        self.stop()
        raise SynapseUnavailable(f"Synapse did not answer within {STARTUP_TIMEOUT}s:\n"
                                 f"{self._log_tail()}")

    def _register(self, user: str, password: str) -> dict[str, Any]:
        """Register through the shared-secret admin API (no open registration)."""
        nonce = self._call("GET", "/_synapse/admin/v1/register")["nonce"]
        mac = hmac.new(self._shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce.encode(), user.encode(), password.encode(), b"notadmin"]))
        return self._call("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce, "username": user, "password": password, "admin": False,
            "mac": mac.hexdigest(),
        })

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              token: str | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path, method=method, headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def _log_tail(self, lines: int = 30) -> str:
        log = self.data / "synapse.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _signing_key() -> str:
    """A Synapse signing key file: an ed25519 seed, written without Synapse's tools."""
    seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return f"ed25519 a_{secrets.token_hex(2)} {seed}\n"
