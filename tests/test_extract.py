"""What a user sees of article extraction: clean body, right metadata, no exceptions."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from crawler.extract import ExtractedArticle, extract_article
from scheduler.commands.extract import extract

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEED = SHARED / "fixtures" / "seed-site"
SEED_BASE = "http://news.example.test"

needs_shared = pytest.mark.skipif(not SEED.is_dir(), reason="../shared fixtures not present")


def _seed_articles() -> list[dict]:
    if not SEED.is_dir():
        return []
    return json.loads((SEED / "expected.json").read_text())["articles"]


def _extract_seed(article: dict) -> ExtractedArticle:
    page = SEED / article["path"].strip("/") / "index.html"
    return extract_article(page.read_bytes(), SEED_BASE + article["path"])


def _assert_in_order(body: str, paragraphs: list[str]) -> None:
    position = 0
    for paragraph in paragraphs:
        found = body.find(paragraph, position)
        assert found >= 0, f"missing or out of order: {paragraph[:60]!r}"
        position = found + len(paragraph)


@needs_shared
@pytest.mark.parametrize("article", _seed_articles(), ids=lambda a: a["path"].split("/")[-2])
def test_seed_article_body_is_clean_and_complete(article: dict) -> None:
    result = _extract_seed(article)

    assert result.error is None
    _assert_in_order(result.body, article["body_paragraphs"])
    for junk in article["must_not_contain"]:
        assert junk not in result.body


@needs_shared
@pytest.mark.parametrize("article", _seed_articles(), ids=lambda a: a["path"].split("/")[-2])
def test_seed_article_metadata(article: dict) -> None:
    result = _extract_seed(article)

    assert result.title == article["title"]
    assert result.authors == [article["author"]]
    assert result.published == datetime.fromisoformat(article["published"])
    assert result.published.tzinfo is not None
    assert result.language == "en"
    assert result.site_name == "The Daily Example"
    assert result.canonical_url == SEED_BASE + article["path"]
    assert result.image == SEED_BASE + "/wp-content/uploads/2024/06/lead.jpg"


# --- Synthetic pages: each shows one behaviour a user would notice -----------------

PARAGRAPHS = [
    "The city council voted on Monday to expand the tram network to the northern "
    "suburbs, a project that has been debated for more than a decade.",
    "Supporters said the new line would cut commuting times by half for thousands of "
    "residents who currently rely on crowded buses along the ring road.",
    "Opponents warned that the budget had already grown twice since the first plans "
    "were drawn up and asked for an independent review of the costs.",
    "Construction is due to begin next spring, and the first trams are expected to run "
    "on the extended line before the end of the decade, officials said.",
]


def news_page(
    paragraphs: list[str],
    *,
    head: str = "",
    lang: str = "en",
    title: str = "Council Approves Tram Extension",
    extras: str = "",
) -> str:
    body = "\n".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{title} | City Paper</title>{head}</head>
<body><header><nav><a href="/">Home</a> <a href="/city/">City</a></nav></header>
<main><article><h1>{title}</h1>
<div class="article-body">{body}</div>{extras}</article></main>
<footer><p>© City Paper. All rights reserved.</p></footer></body></html>"""


def test_truncated_jsonld_body_does_not_replace_the_full_page_text() -> None:
    jsonld = json.dumps({
        "@context": "https://schema.org", "@type": "NewsArticle",
        "headline": "Council Approves Tram Extension",
        "datePublished": "2023-11-05T08:30:00+01:00",
        "articleBody": PARAGRAPHS[0][:90] + "...",
    })
    page = news_page(PARAGRAPHS, head=f'<script type="application/ld+json">{jsonld}</script>')

    result = extract_article(page, "https://citypaper.example/news/tram-extension")

    _assert_in_order(result.body, PARAGRAPHS)
    assert "..." not in result.body
    assert result.published == datetime.fromisoformat("2023-11-05T07:30:00+00:00")


def test_complete_jsonld_body_fills_in_a_page_that_shows_only_a_teaser() -> None:
    jsonld = json.dumps({"@type": "NewsArticle", "articleBody": "\n".join(PARAGRAPHS)})
    page = news_page(PARAGRAPHS[:1], head=f'<script type="application/ld+json">{jsonld}</script>')

    result = extract_article(page, "https://citypaper.example/news/tram-extension")

    _assert_in_order(result.body, PARAGRAPHS)


def test_page_without_metadata_gets_its_date_from_the_url_path() -> None:
    result = extract_article(news_page(PARAGRAPHS), "https://citypaper.example/2023/11/05/tram/")

    assert result.published == datetime(2023, 11, 5, tzinfo=UTC)


def test_furniture_around_the_story_stays_out_of_the_body() -> None:
    extras = """
<figure><img src="/tram.jpg">
  <figcaption>A tram on the existing line. Photo: J. Smith</figcaption></figure>
<div class="newsletter-signup">
  <p>Sign up for our morning briefing and never miss a story.</p></div>
<p><a href="/city/bus-fares">Read more: Bus fares to rise in January</a></p>
<aside class="related-stories"><h3>Related</h3>
  <ul><li><a href="/a">Mayor unveils housing plan for the old docks</a></li></ul></aside>
<div class="comments"><form><textarea></textarea><p>Please enter your comment!</p></form></div>"""
    result = extract_article(news_page(PARAGRAPHS, extras=extras), "https://citypaper.example/x")

    _assert_in_order(result.body, PARAGRAPHS)
    for junk in ("Photo: J. Smith", "morning briefing", "Bus fares", "housing plan",
                 "Please enter your comment", "Council Approves Tram Extension", "©"):
        assert junk not in result.body


GERMAN = [
    "Der Stadtrat hat am Montag beschlossen, das Straßenbahnnetz bis in die nördlichen "
    "Vororte zu verlängern. Über das Projekt wird seit mehr als zehn Jahren gestritten.",
    "Befürworter sagen, die neue Linie werde die Fahrzeiten für Tausende Pendler halbieren, "
    "die bisher auf überfüllte Busse entlang der Ringstraße angewiesen sind.",
    "Kritiker warnen dagegen, dass sich die Kosten seit den ersten Plänen bereits "
    "verdoppelt hätten, und fordern eine unabhängige Prüfung des Haushalts.",
]
FRENCH = [
    "Le conseil municipal a voté lundi l'extension du réseau de tramway vers les banlieues "
    "du nord, un projet débattu depuis plus de dix ans.",
    "Ses partisans affirment que la nouvelle ligne réduira de moitié le temps de trajet de "
    "milliers d'habitants qui dépendent aujourd'hui de bus bondés.",
    "Les opposants rappellent que le budget a déjà doublé depuis les premiers plans et "
    "réclament un audit indépendant des coûts avant le début des travaux.",
]


@pytest.mark.parametrize(("paragraphs", "code"), [(GERMAN, "de"), (FRENCH, "fr")])
def test_non_english_page_gets_its_language_from_the_text(paragraphs: list[str], code: str) -> None:
    # The lang attribute is left wrong on purpose: the text decides.
    page = news_page(paragraphs, lang="en", title="Straßenbahn / Tramway")

    result = extract_article(page, "https://zeitung.example/stadt/strassenbahn")

    assert result.language == code
    _assert_in_order(result.body, paragraphs)


def test_bytes_are_decoded_with_the_declared_charset() -> None:
    page = news_page(GERMAN, lang="de").replace('charset="utf-8"', 'charset="iso-8859-1"')

    result = extract_article(page.encode("iso-8859-1"), "https://zeitung.example/stadt/x")

    assert "Straßenbahnnetz" in result.body
    assert result.error is None


@pytest.mark.parametrize(
    "page",
    [
        "",
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        "just some words, no markup at all",
        "<html><body><nav><a href='/'>Home</a> <a href='/world/'>World</a></nav></body></html>",
        "<html><body>" + "<div>" * 5000 + "deep" + "</div>" * 5000 + "</body></html>",
    ],
    ids=["empty-str", "empty-bytes", "binary", "plain-text", "navigation-only", "deep-nesting"],
)
def test_pages_without_an_article_say_so_instead_of_raising(page: str | bytes) -> None:
    result = extract_article(page, "https://citypaper.example/")

    assert result.error is not None
    assert result.error.startswith("no article")
    assert result.body == ""
    assert result.url == "https://citypaper.example/"


# --- The `newswatch extract` command ---------------------------------------------


def _run_cli(*args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(extract, list(args))
    lines = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    return result.exit_code, lines


def test_cli_prints_one_json_line_per_input_in_order(tmp_path: Path) -> None:
    plain = tmp_path / "tram.html"
    plain.write_text(news_page(PARAGRAPHS), encoding="utf-8")
    zipped = tmp_path / "strassenbahn.html.gz"
    zipped.write_bytes(gzip.compress(news_page(GERMAN, lang="de").encode("utf-8")))

    code, lines = _run_cli(str(zipped), str(plain), str(zipped))

    assert code == 0
    assert [line["input"] for line in lines] == [str(zipped), str(plain), str(zipped)]
    assert [line["language"] for line in lines] == ["de", "en", "de"]
    assert lines[1]["body"].split("\n") == PARAGRAPHS
    assert set(lines[0]) == {
        "input", "url", "title", "body", "authors", "published", "modified", "language",
        "canonical_url", "site_name", "image", "description", "error",
    }


def test_cli_url_option_gives_the_page_address(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(news_page(PARAGRAPHS), encoding="utf-8")

    code, [line] = _run_cli(str(page), "--url", "https://citypaper.example/2023/11/05/tram/")

    assert code == 0
    assert line["url"] == "https://citypaper.example/2023/11/05/tram/"
    assert line["published"] == "2023-11-05"  # the page gives the day only


def test_cli_reports_a_missing_file_and_exits_1(tmp_path: Path) -> None:
    good = tmp_path / "tram.html"
    good.write_text(news_page(PARAGRAPHS), encoding="utf-8")
    missing = tmp_path / "missing.html"

    code, lines = _run_cli(str(missing), str(good))

    assert code == 1
    assert [line["input"] for line in lines] == [str(missing), str(good)]
    assert "cannot read" in lines[0]["error"]
    assert lines[1]["error"] is None


def test_cli_rejects_url_option_with_several_inputs(tmp_path: Path) -> None:
    result = CliRunner().invoke(extract, ["a.html", "b.html", "--url", "https://x.example/"])

    assert result.exit_code == 2


@pytest.fixture
def local_site() -> Iterator[str]:
    pages = {"/2023/11/05/tram/": news_page(PARAGRAPHS).encode("utf-8")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_fetches_url_inputs(local_site: str) -> None:
    found, missing = f"{local_site}/2023/11/05/tram/", f"{local_site}/gone/"

    code, lines = _run_cli(found, missing)

    assert code == 1
    assert lines[0]["title"] == "Council Approves Tram Extension"
    assert lines[0]["published"] == "2023-11-05"
    assert lines[1]["input"] == missing
    assert "404" in lines[1]["error"]


def test_a_list_of_links_is_not_an_article() -> None:
    links = "".join(f'<div><a href="/story/{i}">Story number {i}</a></div>' for i in range(200))
    page = f"<html><head><title>Latest news</title></head><body>{links}</body></html>"

    result = extract_article(page, "https://citypaper.example/latest/")

    assert result.error == "no article text found"
    assert result.body == ""
    assert result.title == "Latest news"
