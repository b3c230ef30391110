"""Who may use the web app: the password (scrypt), API tokens (stored as SHA-256), the
keys that sign session cookies and feed tokens, and the login rate limit.

All of it lives in the database (tables `web_settings` and `api_tokens`), so a daemon
and a `newswatch serve` on the same database share one password and one set of tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from crawler.models import utcnow
from scheduler.models import ApiToken, WebSetting

# One of OWASP's equivalent scrypt settings for passwords (N=2**15, r=8, p=3: 32 MiB and
# a fraction of a second per guess). Logins are rare and rate-limited, so the cost falls
# on guessing; at most two run at once, so a burst of logins cannot exhaust memory.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
_KDF_SLOTS = threading.BoundedSemaphore(2)
PASSWORD_KEY = "password_hash"
SESSION_KEY = "session_secret"
FEED_KEY = "feed_secret"
TOKEN_PREFIX = "nw_"
TOKEN_USE_PRECISION = timedelta(minutes=1)  # how exactly a token's last use is kept
MIN_PASSWORD_LENGTH = 8


def hash_password(password: str) -> str:
    """An scrypt hash of `password` with a random salt, as `scrypt$N$r$p$salt$hash`."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    with _KDF_SLOTS:
        return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                              maxmem=256 * 1024 * 1024, dklen=32)


def token_digest(token: str) -> str:
    """What is stored of a token: it is random and long, so a fast hash cannot be
    reversed by guessing."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def get_setting(session: Session, key: str) -> str | None:
    row = session.get(WebSetting, key)
    return row.value if row else None


def set_setting(session: Session, key: str, value: str) -> None:
    row = session.get(WebSetting, key)
    if row is None:
        session.add(WebSetting(key=key, value=value, updated_at=utcnow()))
    else:
        row.value, row.updated_at = value, utcnow()


def set_password(sessions: sessionmaker, password: str) -> None:
    """Store the password's hash: every open session ends (see session_user)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    hashed = hash_password(password)
    with sessions.begin() as session:
        set_setting(session, PASSWORD_KEY, hashed)


def has_password(sessions: sessionmaker) -> bool:
    with sessions() as session:
        return get_setting(session, PASSWORD_KEY) is not None


def check_password(sessions: sessionmaker, password: str) -> bool:
    with sessions() as session:
        stored = get_setting(session, PASSWORD_KEY)
    return stored is not None and verify_password(password, stored)


def password_generation(sessions: sessionmaker) -> str | None:
    """A fingerprint of the stored password hash: a session remembers the one it logged
    in with, so setting a new password ends every open session at once."""
    with sessions() as session:
        stored = get_setting(session, PASSWORD_KEY)
    return hashlib.sha256(stored.encode()).hexdigest()[:16] if stored else None


def session_user(sessions: sessionmaker, cookie_session: dict) -> str | None:
    """Who a session cookie's session belongs to, if it is still valid."""
    user = cookie_session.get("user")
    if not user or cookie_session.get("pw") != password_generation(sessions):
        return None
    return user


def signing_key(sessions: sessionmaker, key: str) -> str:
    """The secret stored under `key` (SESSION_KEY, FEED_KEY), made on first use."""
    with sessions.begin() as session:
        value = get_setting(session, key)
        if value is None:
            value = secrets.token_urlsafe(32)
            set_setting(session, key, value)
        return value


def feed_token(feed_key: str, kind: str, name: str) -> str:
    """The secret part of a feed's address: an HMAC of what the feed shows, so a feed
    reader needs no password and one feed's address reveals no other."""
    message = f"{kind}\0{name}".encode()
    return hmac.new(feed_key.encode(), message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class TokenInfo:
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


def create_token(sessions: sessionmaker, name: str) -> str:
    """A new API token called `name`; returned once, stored hashed. ValueError if the
    name is taken."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with sessions.begin() as session:
        if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
            raise ValueError(f"a token named {name!r} exists already")
        session.add(ApiToken(name=name, token_hash=token_digest(token),
                             prefix=token[:8], created_at=utcnow()))
    return token


def list_tokens(sessions: sessionmaker) -> list[TokenInfo]:
    with sessions() as session:
        return [TokenInfo(t.name, t.prefix, t.created_at, t.last_used_at)
                for t in session.scalars(select(ApiToken).order_by(ApiToken.name))]


def revoke_token(sessions: sessionmaker, name: str) -> bool:
    with sessions.begin() as session:
        return bool(session.execute(delete(ApiToken).where(ApiToken.name == name)).rowcount)


def token_owner(sessions: sessionmaker, token: str) -> str | None:
    """The name of the token, if it is a valid one (and note its use)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with sessions() as session:  # a read: most requests write nothing
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
        if row is None:
            return None
        name, last_used_at = row.name, row.last_used_at
    now = utcnow()
    if last_used_at is None or last_used_at < now - TOKEN_USE_PRECISION:
        # At most a write a minute per token: an API client polling every second must not
        # contend with the daemon for SQLite's one writer.
        with sessions.begin() as session:
            session.execute(update(ApiToken).where(ApiToken.name == name)
                            .values(last_used_at=now))
    return name


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class LoginLimiter:
    """At most `attempts` failed logins per client address within `window` seconds, and
    `overall` failures from all addresses together (a spread-out guessing attack)."""

    def __init__(self, attempts: int = 5, window: float = 300.0, overall: int = 50) -> None:
        self.attempts, self.window, self.overall = attempts, window, overall
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        now = time.monotonic()
        with self._lock:
            mine = self._prune(self._failures.get(client, deque()), now)
            everyone = self._prune(self._all, now)
            waits = []
            if len(mine) >= self.attempts:
                waits.append(mine[0] + self.window - now)
            if len(everyone) >= self.overall:
                waits.append(everyone[0] + self.window - now)
            return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _prune(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.window:
            times.popleft()
        return times
