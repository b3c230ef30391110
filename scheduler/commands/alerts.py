"""`newswatch alerts`: test a channel, look at the alert history, requeue failed alerts."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import TYPE_CHECKING

import click

from alerts.statuses import STATUSES
from scheduler.commands.common import Context, fail, opened_app, pass_context, reports_errors

if TYPE_CHECKING:
    from alerts.history import AlertLine


@click.group()
def alerts() -> None:
    """Test channels, show the alert history, requeue alerts that failed.

    An alert is one rule's match on one story for one channel. It is sent on its own
    or within a digest, to every Apprise URL of the channel; failed URLs are retried
    with backoff for the channel's retry_for (default a day).

    \b
    Examples:
      newswatch alerts test newsroom
      newswatch alerts list --status failed
      newswatch alerts retry --failed
    """


@alerts.command("test")
@click.argument("channel")
@pass_context
@reports_errors
def alerts_test(ctx: Context, channel: str) -> None:
    """Send a sample alert to each URL of CHANNEL and report, per URL, whether it worked.

    The sample is rendered with the channel's format and templates; the error is the
    service's own, with passwords and tokens masked. Nothing is stored. Exits 1 if any
    URL failed.

    Example: newswatch alerts test newsroom
    """
    from alerts.channels import channel_from_settings
    from alerts.delivery import redact, send_to_url
    from alerts.render import sample_message

    config = ctx.load().config
    settings = config.channels.get(channel)
    if settings is None:
        known = ", ".join(sorted(config.channels)) or "none defined"
        fail(f"no channel {channel!r} (channels: {known})")
        return
    target = channel_from_settings(channel, settings)
    message = sample_message(target)
    failures = 0
    for url in target.urls:
        result = send_to_url(url, message)
        if result.ok:
            click.echo(f"ok     {redact(url)}")
        else:
            failures += 1
            click.echo(f"error  {result.error}")
    sys.exit(1 if failures else 0)


@alerts.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None,
              help="Only alerts with this status.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many alerts, newest first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_context
@reports_errors
def alerts_list(ctx: Context, status: str | None, limit: int, as_json: bool) -> None:
    """Show the newest alerts with their status and every delivery attempt.

    Each attempt line gives its time, the URL (secrets masked) and the service's error.
    A pending alert may be held for a digest, quiet hours or the rate limit.

    \b
    Examples:
      newswatch alerts list
      newswatch alerts list --status failed --limit 50
    """
    from alerts.history import alert_history

    with opened_app(ctx, sync=False) as app, app.engine.connect() as connection:
        lines = alert_history(connection, status, limit)
    if as_json:
        for line in lines:
            click.echo(json.dumps(_as_json(line)))
        return
    if not lines:
        click.echo("no alerts" + (f" with status {status}" if status else ""))
        return
    width = max(len("CHANNEL"), *(len(line.channel) for line in lines))
    tries = max(len("ATTEMPTS"), *(len(_tries(line)) for line in lines))
    click.echo(f"{'ID':>6}  {'STATUS':<8}  {'CHANNEL':<{width}}  {'CREATED (UTC)':<16}  "
               f"{'ATTEMPTS':<{tries}}  [RULE] HEADLINE")
    for line in lines:
        click.echo(_describe(line, width, tries))
        for attempt in line.url_attempts:
            outcome = "ok   " if attempt.ok else "error"
            detail = attempt.url if attempt.ok else attempt.error or attempt.url
            click.echo(f"        {attempt.attempted_at:%Y-%m-%d %H:%M:%S}  {outcome}  {detail}")


def _tries(line: AlertLine) -> str:
    return f"{line.attempts} attempt{'s' if line.attempts != 1 else ''}"


def _describe(line: AlertLine, channel_width: int, tries_width: int) -> str:
    state = line.status
    if line.status == "pending" and line.held:
        until = f" until {line.next_attempt_at:%Y-%m-%d %H:%M}" if line.next_attempt_at else ""
        state += f" (held: {line.held}{until})"
    elif line.status == "pending" and line.attempts and line.next_attempt_at:
        state += f" (next try {line.next_attempt_at:%H:%M:%S})"
    digest = f"  in digest of {line.digest_size}" if line.digest_size > 1 else ""
    return (
        f"{line.id:>6}  {state:<8}  {line.channel:<{channel_width}}  "
        f"{line.created_at:%Y-%m-%d %H:%M}  "
        f"{_tries(line):<{tries_width}}  [{line.rule}] {line.headline}{digest}"
    )


def _as_json(line: AlertLine) -> dict:
    return {
        "id": line.id, "status": line.status, "channel": line.channel, "rule": line.rule,
        "headline": line.headline, "link": line.link, "created": line.created_at.isoformat(),
        "sent": line.sent_at.isoformat() if line.sent_at else None,
        "attempts": line.attempts, "last_error": line.last_error, "held": line.held,
        "message": line.message_id, "digest_size": line.digest_size,
        "url_attempts": [
            {"at": attempt.attempted_at.isoformat(), "url": attempt.url, "ok": attempt.ok,
             "error": attempt.error}
            for attempt in line.url_attempts
        ],
    }


@alerts.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Requeue every failed alert.")
@pass_context
@reports_errors
def alerts_retry(ctx: Context, ids: tuple[int, ...], all_failed: bool) -> None:
    """Put failed alerts (by ID, as `alerts list` shows) back in the outbox.

    Each gets a fresh retry period; the daemon's next delivery round (every
    daemon.deliver_interval) or `newswatch run --once` sends it, only to the URLs that
    did not accept it.

    \b
    Examples:
      newswatch alerts retry 42 43
      newswatch alerts retry --failed
    """
    from alerts.channels import DEFAULT_RETRY_PERIOD
    from alerts.history import requeue
    from crawler.models import utcnow

    if bool(ids) == all_failed:
        fail("give alert IDs or --failed (not both)", code=2)
    with opened_app(ctx) as app, app.sessions.begin() as session:
        channels = app.config.channels

        def retry_period(name: str) -> timedelta:
            channel = channels.get(name)
            return channel.retry_for if channel else DEFAULT_RETRY_PERIOD

        results = requeue(session, None if all_failed else list(ids), utcnow(), retry_period)
    requeued = [result.id for result in results if result.outcome == "requeued"]
    for result in results:
        if result.outcome == "missing":
            click.echo(f"no alert {result.id}", err=True)
        elif result.outcome != "requeued":
            click.echo(f"alert {result.id} is {result.outcome}, not failed: left as is", err=True)
    if requeued:
        click.echo(f"requeued {len(requeued)} alert{'s' if len(requeued) != 1 else ''}: "
                   + ", ".join(map(str, requeued)))
    elif all_failed:
        click.echo("no failed alerts")
    if ids and len(requeued) < len(ids):
        sys.exit(1)
