"""Loopback sites for the crawl tests, hostile ones included, and a way to crawl them.

``HostileSite`` is a ``SiteServer`` that can also stream a body chunk by chunk without a
Content-Length (a 200 MB page, a server sending one byte per second). ``CrawlHarness``
writes a config for some sources, opens the App (migrations, source sync) and crawls
them through the real child process, as the daemon does, so a test sees what a user
would: the database rows, the source's status and the servers' request logs.
Several loopback addresses (127.0.0.2, 127.0.0.3) act as separate sites.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from servers import LoggedRequest, SiteServer, _Handler
from sqlalchemy import select

from crawler.models import Article, ArticleVersion, Source
from crawler.process import CrawlOutcome
from scheduler.app import App, SourceProblem
from scheduler.config import load_config

EMPTY_SITE = Path(__file__).resolve().parent / "__no_such_dir__"


Answer = tuple[int, dict[str, str], Callable[[], Iterable[bytes]]]


class HostileSite(SiteServer):
    """A SiteServer (by default with no files) that can also stream endless bodies and
    answer whole path prefixes from a function."""

    def __init__(self, host: str = "127.0.0.1", root: Path = EMPTY_SITE, **kwargs: Any) -> None:
        super().__init__(root, host, rewrite_from=None, **kwargs)
        self._streams: dict[str, Answer] = {}
        self._prefixes: dict[str, Callable[[str], Answer]] = {}

    def stream_route(
        self, path: str, chunks: Callable[[], Iterable[bytes]], status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `path` with the chunks `chunks()` yields, without a Content-Length."""
        with self._lock:
            self._streams[path] = (status, {"Content-Type": "text/html", **(headers or {})},
                                   chunks)

    def prefix_route(self, prefix: str, answer: Callable[[str], Answer]) -> None:
        """Answer every path under `prefix` with `answer(path)`."""
        with self._lock:
            self._prefixes[prefix] = answer

    def _handle(self, request: _Handler) -> None:
        path = urlsplit(request.path).path
        with self._lock:
            stream = self._streams.get(path)
            for prefix, answer in self._prefixes.items():
                if path.startswith(prefix):
                    stream = answer(path)
        if stream is None:
            super()._handle(request)
            return
        status, headers, chunks = stream
        with self._lock:
            self._log.append(LoggedRequest(request.command, request.path,
                                           dict(request.headers.items()), status))
        request.close_connection = True
        try:
            request.send_response(status)
            for name, value in headers.items():
                request.send_header(name, value)
            request.send_header("Connection", "close")
            request.end_headers()
            for chunk in chunks():
                request.wfile.write(chunk)
                request.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


def endless(chunk: bytes, total: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < total:
            yield chunk
            sent += len(chunk)
    return chunks


def drip(data: bytes, seconds_per_byte: float = 1.0) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        for byte in data:
            time.sleep(seconds_per_byte)
            yield bytes([byte])
    return chunks


# --- content ---------------------------------------------------------------------------


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def article_html(title: str, published: datetime | None = None, paragraph: str = "",
                 extra_head: str = "", charset: str | None = "utf-8") -> str:
    """An article page the extractor reads: headline, publish time, two paragraphs."""
    published = published or ago(hours=1)
    text = paragraph or (f"{title} was reported on by our correspondents today. " * 3)
    meta_charset = f'<meta charset="{charset}">' if charset else ""
    return f"""<!DOCTYPE html><html><head>{meta_charset}<title>{title} - Example</title>
<meta property="article:published_time" content="{published.isoformat()}">{extra_head}
</head><body><nav><a href="/">Home</a> <a href="/world/">World</a></nav>
<article><h1>{title}</h1><p>{text}</p>
<p>Officials said more details would follow later in the day, and that residents should
keep following the news for updates on what happens next in the region.</p></article>
</body></html>"""


def rss(items: Iterable[tuple[str, str, datetime]], title: str = "Example feed",
        updated: dict[str, datetime] | None = None) -> str:
    """An RSS 2.0 feed of (title, link, published) items."""
    updated = updated or {}
    parts = []
    for name, link, published in items:
        extra = ""
        if link in updated:
            extra = f"<atom:updated>{updated[link].isoformat()}</atom:updated>"
        parts.append(
            f"<item><title>{name}</title><link>{link}</link>"
            f"<pubDate>{format_datetime(published)}</pubDate>"
            f"<description>Summary of {name}.</description>{extra}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"{''.join(parts)}</channel></rss>"
    )


# --- crawling through the App ----------------------------------------------------------


@dataclass
class CrawlResult:
    outcome: CrawlOutcome
    problems: list[SourceProblem]
    seconds: float


class CrawlHarness:
    """A config file and database in `folder`; `crawl()` runs one real crawl of them."""

    def __init__(self, folder: Path, sources: str, database_url: str | None = None,
                 **crawler: Any) -> None:
        self.folder = folder
        self.database_url = database_url or f"sqlite:///{folder / 'crawl.db'}"
        self.config = folder / "config.toml"
        self.write(sources, **crawler)

    def write(self, sources: str, **crawler: Any) -> None:
        """The config: these sources, and [crawler] keys (tests default to no delay)."""
        settings = {"download_delay": "0s", "download_timeout": "5s",
                    "crawl_time_limit": "2m", **crawler}
        lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
        self.config.write_text(
            f"[storage]\nurl = {json.dumps(self.database_url)}\n\n[crawler]\n{lines}\n\n"
            f"{sources}\n",
            encoding="utf-8",
        )

    def app(self) -> App:
        app = App(load_config(self.config))
        app.open()
        return app

    def crawl(self, names: list[str] | None = None) -> CrawlResult:
        app = self.app()
        try:
            started = time.monotonic()
            outcome, problems = app.crawl(names)
            return CrawlResult(outcome, problems, time.monotonic() - started)
        finally:
            app.close()

    def query(self, statement: Any) -> list[Any]:
        app = App(load_config(self.config))
        try:
            with app.sessions() as session:
                return list(session.scalars(statement))
        finally:
            app.close()

    def articles(self) -> dict[str, Article]:
        return {article.url: article for article in self.query(select(Article))}

    def source(self, name: str) -> Source:
        [source] = self.query(select(Source).where(Source.name == name))
        return source

    def versions(self) -> list[ArticleVersion]:
        return self.query(select(ArticleVersion).order_by(ArticleVersion.id))


def source_toml(name: str, url: str, **options: Any) -> str:
    lines = ["[[sources]]", f"name = {json.dumps(name)}", f"url = {json.dumps(url)}"]
    for key, value in options.items():
        if isinstance(value, dict):
            pairs = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {pairs} }}")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def article_requests(site: SiteServer, prefix: str = "/news/") -> list[str]:
    return [path for path in site.paths() if path.startswith(prefix)]


# --- TLS -------------------------------------------------------------------------------


def make_certificates(folder: Path, ip: str) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate it signs for `ip`: (ca.pem, cert, key)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("newswatch test CA"))
        .issuer_name(name("newswatch test CA")).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder().subject_name(name(ip)).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return paths


class TLSSite(HostileSite):
    """A HostileSite over HTTPS with the given certificate and key."""

    def __init__(self, host: str, cert: Path, key: Path, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.cert, self.key = cert, key

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self) -> TLSSite:
        import ssl

        super().start()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        assert self._httpd is not None
        # Wrapped before any client exists: serve_forever accepts on the wrapped socket.
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        return self
