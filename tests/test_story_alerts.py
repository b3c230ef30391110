"""One story, many outlets: syndicated copies join one story and alert once."""

from __future__ import annotations

import json
from pathlib import Path

from outlets import Copy, write_outlet
from servers import SiteServer, WebhookReceiver
from sqlalchemy import func, select
from test_end_to_end import SEED_ARTICLE, newswatch

from crawler.database import make_engine, make_sessionmaker
from crawler.models import Article, Story

PARAGRAPHS = SEED_ARTICLE["body_paragraphs"]


def outlet_copies() -> dict[str, list[Copy]]:
    return {
        "gazette": [
            Copy("gazette", "putin-arrives", "Putin heads to Pyongyang, praises Kim's support",
                 PARAGRAPHS)
        ],
        "courier": [Copy("courier", "putin-north-korea-trip",
                         "Putin Thanks North Korea For Backing Ahead Of Rare Visit",
                         ["PYONGYANG (AFP) - " + PARAGRAPHS[0], *PARAGRAPHS[1:]])],
        "bulletin": [Copy("bulletin", "putin-kim-visit", "Putin to visit Pyongyang",
                          PARAGRAPHS[:8], author="Staff and agencies")],
    }


def config_for(tmp_path: Path, database_url: str, feeds: dict[str, str], hook_url: str) -> Path:
    sources = "\n".join(
        f'[[sources]]\nname = {json.dumps(name)}\nurl = {json.dumps(url)}\n'
        for name, url in feeds.items()
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[storage]
url = {json.dumps(database_url)}
[crawler]
download_delay = "0s"
{sources}
[channels.desk]
urls = [{json.dumps(hook_url)}]
[[rules]]
name = "Putin in Pyongyang"
query = "Putin visit Pyongyang"
channels = ["desk"]
""",
        encoding="utf-8",
    )
    return path


def story_sizes(database_url: str) -> list[int]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return sorted(
                session.scalars(
                    select(func.count(Article.id)).join(Story).group_by(Story.id)
                ).all()
            )
    finally:
        engine.dispose()


def test_syndicated_copies_make_one_story_and_one_alert(
    tmp_path: Path, database_url: str, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    sites = {}
    feeds = {"The Daily Example": f"{seed_site.base_url}/feed/"}
    try:
        for number, (name, copies) in enumerate(outlet_copies().items(), start=2):
            root = tmp_path / name
            write_outlet(root, copies)
            sites[name] = SiteServer(root, host=f"127.0.0.{number}").start()
            feeds[name] = f"{sites[name].base_url}/feed/"
        hook_url = "json://" + webhook.url.removeprefix("http://") + "/hook"
        config = config_for(tmp_path, database_url, feeds, hook_url)

        result = newswatch(config, "run", "--once")
        assert result.returncode == 0, result.stderr
        # The seed story from four outlets, and the sports story on its own.
        assert story_sizes(database_url) == [1, 4]
        assert len(webhook.requests) == 1

        listing = newswatch(config, "stories", "--json")
        assert listing.returncode == 0, listing.stderr
        lines = [json.loads(line) for line in listing.stdout.splitlines()]
        seed_story = next(line for line in lines if line["articles"] == 4)
        assert len(seed_story["outlets"]) == 4
        shown = newswatch(config, "stories", "show", str(seed_story["id"]))
        assert shown.stdout.count("http://127.0.0.") == 4
        newest = newswatch(config, "stories", "--limit", "1")
        assert "1 story (the newest 1: raise --limit for more)" in newest.stdout

        # A restart later, one more outlet picks the story up: it joins, nobody is alerted.
        late_root = tmp_path / "late"
        write_outlet(late_root, [Copy("courier", "late-copy", "Russian leader's Pyongyang trip",
                                      PARAGRAPHS[:6])])
        sites["late"] = SiteServer(late_root, host="127.0.0.5").start()
        feeds["late"] = f"{sites['late'].base_url}/feed/"
        config = config_for(tmp_path, database_url, feeds, hook_url)
        again = newswatch(config, "run", "--once")
        assert again.returncode == 0, again.stderr
        assert story_sizes(database_url) == [1, 5]
        assert len(webhook.requests) == 1
    finally:
        for site in sites.values():
            site.stop()
