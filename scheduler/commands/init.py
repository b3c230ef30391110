"""`newswatch init`: a first, commented config.toml from flags or a few questions."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

import click

from scheduler.commands.common import Context, fail, pass_context, reports_errors

LOG_CHANNEL = "log://"

HEADER = """\
# newswatch configuration, written by `newswatch init` on {date}.
# Check it with `newswatch config check`; every setting is in the README.
# Durations need a unit: 30s, 10m, 2h, 3d.

[storage]
# SQLite, in a file next to this one. For PostgreSQL:
# url = "postgresql+psycopg://newswatch@localhost/newswatch"
url = {database}

[defaults]
# The shortest time between two polls of a source. Polling adapts to how often a source
# publishes, up to [crawler] max_poll_interval (2h); `newswatch status` says why.
interval = "10m"
"""

CHANNEL = """
# Where alerts go: Apprise URLs (https://github.com/caronc/apprise/wiki). More with
# `newswatch channels add NAME URL`; try one with `newswatch channels test NAME`.
[channels.{name}]
urls = [{url}]
"""

NO_CHANNEL = """
# Where alerts go: Apprise URLs (https://github.com/caronc/apprise/wiki), e.g.
# `newswatch channels add me 'mailto://me:${MAIL_PASSWORD}@example.com'`.
"""

SOURCE = """
# What to watch: a feed, a sitemap, a homepage or a section page. More with
# `newswatch sources add URL` (it fetches the URL and shows what it found).
[[sources]]
name = {name}
url = {url}
"""

NO_SOURCE = """
# What to watch: add a feed, sitemap or page with `newswatch sources add URL`.
"""

RULE = """
# What to alert on, in the rule language of the README: words (any order, any
# inflection), "phrases", OR, -word, title:... `newswatch rules test QUERY` shows what a
# query would have found; more with `newswatch rules add NAME QUERY`.
[[rules]]
name = {name}
query = {query}
channels = [{channel}]
"""

NO_RULE = """
# What to alert on: add a rule with `newswatch rules add NAME QUERY`.
"""


def config_text(*, database: str, source: str | None, source_name: str | None,
                rule: str | None, rule_name: str | None, channel: str | None,
                channel_name: str) -> str:
    """The commented config.toml for these answers (a missing one leaves a hint)."""
    from scheduler.config_file import toml_value

    text = HEADER.format(date=datetime.now(UTC).strftime("%Y-%m-%d"),
                         database=toml_value(database))
    if channel is None and rule is not None:
        channel = LOG_CHANNEL  # a rule needs a channel: the daemon's log until there is one
    if channel is not None:
        text += CHANNEL.format(name=_table_key(channel_name), url=toml_value(channel))
        if channel == LOG_CHANNEL:
            text += ("# log:// writes alerts to newswatch's own log; replace it with a real "
                     "service.\n")
    else:
        text += NO_CHANNEL
    if source is not None:
        name = source_name or (urlsplit(source).hostname or source).removeprefix("www.")
        text += SOURCE.format(name=toml_value(name), url=toml_value(source))
    else:
        text += NO_SOURCE
    if rule is not None:
        text += RULE.format(name=toml_value(rule_name or rule[:200]), query=toml_value(rule),
                            channel=toml_value(channel_name))
    else:
        text += NO_RULE
    return text


def _table_key(name: str) -> str:
    from scheduler.config_file import toml_value

    bare = name.replace("-", "").replace("_", "").isalnum() and name.isascii()
    return name if bare else toml_value(name)


def _ask(question: str) -> str | None:
    answer = click.prompt(question, default="", show_default=False).strip()
    return answer or None


@click.command()
@click.option("--source", metavar="URL", help="A first source: a feed, sitemap or page URL.")
@click.option("--source-name", metavar="NAME", help="Its name (default: its host name).")
@click.option("--rule", metavar="QUERY", help='A first rule\'s query, e.g. "Putin Pyongyang".')
@click.option("--rule-name", metavar="NAME", help="Its name (default: the query).")
@click.option("--channel", metavar="APPRISE_URL",
              help="Where alerts go (default with a rule: log://, the daemon's log).")
@click.option("--channel-name", default="me", show_default=True, metavar="NAME",
              help="The channel's name.")
@click.option("--database", default="sqlite:///newswatch.db", show_default=True,
              metavar="URL", help="Where newswatch keeps its data.")
@click.option("--no-input", is_flag=True,
              help="Ask nothing; leave out what no flag gives (also when not on a terminal).")
@pass_context
@reports_errors
def init(ctx: Context, source: str | None, source_name: str | None, rule: str | None,
         rule_name: str | None, channel: str | None, channel_name: str, database: str,
         no_input: bool) -> None:
    """Write a first config file, with comments, for one source, one rule and one channel.

    Takes them from the flags; on a terminal, asks for the ones not given (an empty
    answer skips it). Writes ./config.toml, or the file given with --config; never
    overwrites an existing file. Then: `newswatch run --once`, and `newswatch status`.

    \b
    Examples:
      newswatch init
      newswatch init --source https://www.theguardian.com/world/rss \\
          --rule '"North Korea" OR Pyongyang' --channel 'mailto://me:${PW}@example.com'
    """
    from scheduler.config import database_url_problem
    from scheduler.config_file import create_config

    path = ctx.config_file
    if path.exists():
        fail(f"{path} exists already: edit it, or add to it with `newswatch sources add`, "
             "`rules add` and `channels add` (init never overwrites a file)")
    problem = database_url_problem(database)
    if problem:
        fail(f"--database: {problem}", code=2)
    if not no_input and sys.stdin.isatty():
        source = source or _ask("First source: a feed or site URL (Enter to skip)")
        rule = rule or _ask("First rule: words to alert on, e.g. Putin Pyongyang (Enter to skip)")
        if channel is None and rule is not None:
            channel = _ask("Where alerts go: an Apprise URL such as mailto://... "
                           "(Enter for the log)")
    if source is not None and not source.lower().startswith(("http://", "https://")):
        fail(f"--source: expected an http:// or https:// URL, got {source!r}", code=2)
    if channel is not None:
        import os

        from alerts.apprise_urls import redact, url_problem
        from scheduler.config import expand_env

        problem = url_problem(expand_env(channel, os.environ))
        if problem is not None:
            fail(f"--channel: {redact(channel)} is not a URL Apprise can use: {problem} "
                 "(see https://github.com/caronc/apprise/wiki)", code=2)
    if rule is not None:
        from alerts.query import QueryError, parse_query

        try:
            parse_query(rule)
        except QueryError as error:
            fail(f"--rule: invalid query: {error}", code=2)
    text = config_text(database=database, source=source, source_name=source_name, rule=rule,
                       rule_name=rule_name, channel=channel, channel_name=channel_name)
    try:
        create_config(path, text)
    except FileExistsError:
        fail(f"{path} exists already (init never overwrites a file)")
    click.echo(f"Wrote {path}.")
    steps = []
    if channel is not None and channel != LOG_CHANNEL:
        steps.append(f"newswatch channels test {channel_name}")
    if source is None:
        steps.append("newswatch sources add URL")
    if rule is None:
        if channel is None:  # a rule must name a channel to alert
            steps.append("newswatch channels add NAME APPRISE_URL")
        steps.append('newswatch rules add NAME "QUERY"')
    steps += ["newswatch run --once", "newswatch status"]
    click.echo("Next: " + "; then ".join(steps))
