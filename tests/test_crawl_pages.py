"""The section-page heuristic on real publishers' markup (../shared/data/fundus-eval),
alone and through a crawl of a page source."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hostile import CrawlHarness, HostileSite, article_html, source_toml

from crawler.pages import article_links, article_score, path_date
from crawler.sites import SiteScope

FUNDUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "fundus-eval"
TRUTH = json.loads((FUNDUS / "ground_truth.json").read_text(encoding="utf-8"))


def real_page(name: str) -> tuple[str, str]:
    """(markup, url) of a real publisher page."""
    markup = gzip.decompress((FUNDUS / "html" / name).read_bytes()).decode("utf-8", "replace")
    return markup, TRUTH[name]["url"]


def found_paths(name: str) -> list[str]:
    markup, url = real_page(name)
    links = article_links(markup, url, SiteScope.of([url]), 150)
    return [link.url.split("/", 3)[3] for link in links]


@pytest.mark.parametrize(
    ("page", "articles", "not_articles"),
    [
        ("OccupyDemocrats_0.html.gz",
         ["2024/02/28/privilege-how-steve-bannon-just-managed-to-stay-out-of-prison/",
          "2024/02/26/e-jean-carroll-attorney-is-trump-having-trouble-getting-a-bond-1/"],
         ["about-us/", "category/news/", "tag/donald-trump/", "author/stephaniebazzle/",
          "newsletter/", "privacy/", "subscribe/", ""]),
        ("TheGuardian_0.html.gz",
         ["technology/2024/feb/17/humanitys-remaining-timeline-it-looks-more-like-five-years"],
         ["commentisfree", "info/cookies", "index/contributors", "lifeandstyle/women",
          "technology/artificialintelligenceai"]),
        ("APNews_0.html.gz",
         ["article/wendys-surge-pricing-tanner-burger-dynamic-9417bc235bbcd13d82966d04a6ba42bd"],
         ["hub/israel-hamas-war", "politics", "author/melissa-goldin", "privacystatement"]),
        ("Reuters_0.html.gz",
         ["world/asia-pacific/singapore-tightens-rules-hiring-foreign-professionals-2024-03-04/"],
         ["world/", "business/energy/", "markets/us/", "investigates/"]),
        ("LATimes_3.html.gz",
         ["business/story/2024-02-22/ozempic-face-plastic-surgery"],
         ["business", "california", "newsletters"]),
        ("WashingtonTimes_3.html.gz",
         ["news/2024/feb/28/christian-nationalism-panic-must-be-called-out-for/"],
         ["news/world/", "staff/charles-hurt/", "topics/china/", "opinion/", "sports/"]),
    ],
)
def test_real_section_links_are_told_from_navigation(
    page: str, articles: list[str], not_articles: list[str]
) -> None:
    found = found_paths(page)
    for article in articles:
        assert any(path.startswith(article) for path in found), article
    for other in not_articles:
        assert other not in found


def test_every_publisher_page_yields_article_links_on_its_own_site() -> None:
    publishers_with_links = set()
    for name in TRUTH:
        markup, url = real_page(name)
        scope = SiteScope.of([url])
        links = article_links(markup, url, scope, 150)
        assert all(scope.contains(link.url) for link in links)
        assert url not in {link.url for link in links}
        if links:
            publishers_with_links.add(name.split("_")[0])
    assert len(publishers_with_links) >= 14  # of 16 publishers


def test_scores_on_synthetic_urls() -> None:
    assert article_score("https://x.com/2024/06/18/storm-hits-coast/") >= 2
    assert article_score("https://x.com/world/storm-hits-the-northern-coast-tonight") == 1
    assert article_score("https://x.com/world/storm-hits-the-northern-coast-tonight",
                         "Storm hits the northern coast tonight, thousands without power") == 2
    assert article_score("https://x.com/news/storm-b2506015.html") == 1
    assert article_score("https://x.com/news/storm-hits-the-northern-coast-b2506015.html") == 2
    assert article_score("https://x.com/tag/2024/06/18/storm/") == -1
    assert article_score("https://x.com/photos/2024/06/18/storm.jpg") == -1
    assert path_date("https://x.com/world/2024/jun/18/storm") is not None
    assert path_date("https://x.com/markets/tsx-eyes-2024-03-04/").isoformat() == "2024-03-04"


def test_a_real_section_page_is_crawled_for_its_article_links_only(tmp_path: Path) -> None:
    markup, _ = real_page("OccupyDemocrats_0.html.gz")
    with HostileSite("127.0.0.2") as site:
        section = markup.replace("https://occupydemocrats.com", site.base_url)
        site.add_file("/section/", section)
        story = "/2024/02/28/privilege-how-steve-bannon-just-managed-to-stay-out-of-prison/"
        site.add_file(story, article_html("How Steve Bannon stayed out of prison"))
        harness = CrawlHarness(
            tmp_path, source_toml("section", f"{site.base_url}/section/", kind="page"),
            max_article_age="1000w",
        )
        # Alert history and articles must be kept at least as long as articles are fetched.
        harness.config.write_text(harness.config.read_text() + '\n[retention]\n'
                                  'alert_history = "1000w"\narticles = "1000w"\n')
        harness.crawl()
        requested = {path for path in site.paths() if path not in ("/robots.txt", "/section/")}
        expected = {
            link.url.removeprefix(site.base_url)
            for link in article_links(section, f"{site.base_url}/section/",
                                      SiteScope.of([site.base_url]), 150)
        }
        assert requested == expected and len(expected) == 18
        assert not {"/about-us/", "/category/news/", "/tag/donald-trump/"} & requested
        source = harness.source("section")
        assert (source.kind, source.last_status) == ("page", "ok")
        assert list(harness.articles()) == [site.base_url + story]
