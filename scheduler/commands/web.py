"""`newswatch serve` and `newswatch web`: the browser UI, REST API and feeds, and who may
use them (a password, API tokens)."""

from __future__ import annotations

import click

from scheduler.commands.common import Context, fail, opened_app, pass_context, reports_errors


@click.command()
@click.option("--host", default=None, help="Address to listen on. Default: [web] host, "
                                           "else 127.0.0.1.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port. Default: [web] port, else 8080.")
@pass_context
@reports_errors
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the web app: pages, the REST API under /api/v1 and feeds out.

    Listens on 127.0.0.1 unless told otherwise; any other address is refused until a
    password is set with `newswatch web set-password`. Changes made in the browser or
    through the API are written to the config file (comments kept, checked like `config
    check`) and the running daemon is told to reload. The daemon can serve the same app
    itself: set `[web] enabled = true`. Stop with Ctrl-C.

    \b
    Examples:
      newswatch web set-password
      newswatch serve --port 8080
      newswatch web token create ci-bot   # for the API: Authorization: Bearer <token>
    """
    from scheduler.web.server import UnsafeBind, make_server, port_problem

    with opened_app(ctx, sync=False) as app:
        web = app.config.web
        host, port = host or web.host, port or web.port
        try:
            server = make_server(app, host, port)
        except UnsafeBind as error:
            fail(str(error), code=2)
            return
        problem = port_problem(host, port)
        if problem:
            fail(f"cannot listen on {host}:{port}: {problem} (another newswatch serve or "
                 "daemon with [web] enabled? choose another port with --port)")
        click.echo(f"newswatch web app on http://{host}:{port}/ (Ctrl-C to stop)", err=True)
        try:
            server.run()
        except SystemExit:  # uvicorn's way of saying it could not start
            if server.started:
                raise
            fail(f"could not listen on {host}:{port}: is another program using the port? "
                 "(choose another with --port)")


@click.group()
def web() -> None:
    """Who may use the web app: its password and the API's bearer tokens.

    Both are stored in the database (the password as a slow scrypt hash, tokens as
    SHA-256), so the daemon and `newswatch serve` share them.
    """


@web.command("set-password")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              envvar="NEWSWATCH_WEB_PASSWORD",
              help="The password (default: asked twice; env: NEWSWATCH_WEB_PASSWORD).")
@pass_context
@reports_errors
def set_password(ctx: Context, password: str) -> None:
    """Set the password of the web app's login (at least 8 characters).

    Every browser session logged in with the previous password ends at once.

    Example: newswatch web set-password
    """
    from scheduler.web import security

    with opened_app(ctx, sync=False) as app:
        try:
            security.set_password(app.sessions, password)
        except ValueError as error:
            fail(str(error), code=2)
    click.echo("password set; every open session has ended")


@web.group("token")
def token() -> None:
    """Create, list and revoke bearer tokens for the REST API."""


@token.command("create")
@click.argument("name")
@pass_context
@reports_errors
def token_create(ctx: Context, name: str) -> None:
    """Create an API token called NAME and print it (only this once: it is stored hashed).

    Example: newswatch web token create ci-bot
    """
    from scheduler.web import security

    if not 1 <= len(name) <= 100:
        fail("a token name has 1 to 100 characters", code=2)
    with opened_app(ctx, sync=False) as app:
        try:
            value = security.create_token(app.sessions, name)
        except ValueError as error:
            fail(str(error), code=2)
            return
    click.echo(value)
    click.echo(f"token {name!r} created; it is not shown again. Use it as: "
               "Authorization: Bearer <token>", err=True)


@token.command("list")
@pass_context
@reports_errors
def token_list(ctx: Context) -> None:
    """List the API tokens: name, first characters, created, last used.

    Example: newswatch web token list
    """
    from scheduler.web import security

    with opened_app(ctx, sync=False) as app:
        tokens = security.list_tokens(app.sessions)
    if not tokens:
        click.echo("no API tokens: create one with  newswatch web token create NAME")
    for item in tokens:
        used = f"{item.last_used_at:%Y-%m-%d %H:%M}" if item.last_used_at else "never"
        click.echo(f"{item.name}  {item.prefix}…  created {item.created_at:%Y-%m-%d %H:%M}  "
                   f"last used {used}")


@token.command("revoke")
@click.argument("name")
@pass_context
@reports_errors
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke the API token called NAME: it stops working at once.

    Example: newswatch web token revoke ci-bot
    """
    from scheduler.web import security

    with opened_app(ctx, sync=False) as app:
        if not security.revoke_token(app.sessions, name):
            fail(f"no token named {name!r}", code=2)
    click.echo(f"token {name!r} revoked")
