"""The first hour of a new user, scripted: from an empty folder to the first alert with the
CLI alone, every step answering in newswatch's own words (no traceback, no library's log
line on stderr at the default level)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from servers import SiteServer, WebhookReceiver

NEWSWATCH = str(Path(sys.executable).with_name("newswatch"))
THIRD_PARTY = (" scrapy", " twisted", " alembic", " apprise", "crawl.scrapy", "crawl.twisted",
               " urllib3", " py.warnings", "Context impl")


def step(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one command as a user would, in `folder`, and check it spoke only newswatch."""
    result = subprocess.run([NEWSWATCH, *args], cwd=folder, capture_output=True, text=True,
                            timeout=180, check=False)
    assert "Traceback" not in result.stderr + result.stdout, (args, result.stderr)
    for name in THIRD_PARTY:
        assert name not in result.stderr, (args, name, result.stderr)
    return result


def test_from_an_empty_folder_to_the_first_alert(
    tmp_path: Path, seed_site: SiteServer, webhook: WebhookReceiver
) -> None:
    folder = tmp_path / "watch"
    folder.mkdir()

    made = step(folder, "init", "--no-input")
    assert made.returncode == 0, made.stderr
    assert "Wrote config.toml" in made.stdout
    assert (folder / "config.toml").read_text().startswith("# newswatch configuration")
    # The steps it suggests work in their order: a rule needs a channel to alert.
    suggested = made.stdout.split("Next: ", 1)[1]
    assert suggested.index("newswatch channels add") < suggested.index("newswatch rules add")

    # No channel yet: the rule can't be added, and the error says how to add one.
    early = step(folder, "rules", "add", "Putin in Pyongyang", "Putin visit Pyongyang")
    assert early.returncode == 2
    assert "newswatch channels add" in early.stderr

    hook = "json://" + webhook.url.removeprefix("http://") + "/hook"
    added = step(folder, "channels", "add", "desk", hook)
    assert added.returncode == 0, added.stderr
    assert "newswatch channels test desk" in added.stdout

    source = step(folder, "sources", "add", f"{seed_site.base_url}/feed/",
                  "--name", "Daily Example")
    assert source.returncode == 0, source.stderr
    assert "Found a feed" in source.stdout and "Added source 'Daily Example'" in source.stdout

    rule = step(folder, "rules", "add", "Putin in Pyongyang", "Putin visit Pyongyang")
    assert rule.returncode == 0, rule.stderr

    before = step(folder, "rules", "test", "Putin visit Pyongyang")
    assert before.returncode == 0, before.stderr
    assert "0 stories would have alerted" in before.stdout

    cycle = step(folder, "run", "--once")
    assert cycle.returncode == 0, cycle.stderr
    assert "1 sent" in cycle.stderr, cycle.stderr
    assert webhook.wait_for(1)
    [alert] = webhook.requests
    assert "Putin" in alert.json["title"]

    status = step(folder, "status")
    assert status.returncode == 0, status.stderr
    assert "Daily Example" in status.stdout and "unhealthy sources: none" in status.stdout
    assert "1 alert sent" in status.stdout
    assert "polling every" in status.stdout

    stories = step(folder, "stories")
    assert stories.returncode == 0, stories.stderr
    assert stories.stdout.split()[:4] == ["ID", "FIRST", "SEEN", "(UTC)"]
    assert "Putin Hails" in stories.stdout and "2 stories" in stories.stdout

    alerts = step(folder, "alerts", "list", "--json")
    assert alerts.returncode == 0, alerts.stderr
    [sent] = [json.loads(line) for line in alerts.stdout.splitlines()]
    assert sent["status"] == "sent" and sent["rule"] == "Putin in Pyongyang"
    # As a table, headed like the other listings, each heading over its column.
    header, alert, _attempt = step(folder, "alerts", "list").stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "CHANNEL", "CREATED", "(UTC)", "ATTEMPTS",
                              "[RULE]", "HEADLINE"]
    assert alert[header.index("ATTEMPTS"):].startswith("1 attempt ")
    assert alert[header.index("[RULE]"):].startswith("[Putin in Pyongyang] Putin Hails")

    shown = step(folder, "stories", "show", "--json", str(json.loads(
        step(folder, "rules", "test", "Putin visit Pyongyang", "--json").stdout
        .splitlines()[0])["story_id"]))
    [article] = json.loads(shown.stdout)["articles"]
    assert article["source"] == "Daily Example" and article["published"]
    text = step(folder, "articles", "show", str(article["id"]))
    assert text.returncode == 0 and "source:     Daily Example" in text.stdout
