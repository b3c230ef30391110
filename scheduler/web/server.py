"""Serving the web app with uvicorn: in the foreground (`newswatch serve`) or on a thread
of the daemon (`[web] enabled = true`)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from scheduler.app import App
from scheduler.web import security

logger = logging.getLogger(__name__)


class UnsafeBind(Exception):
    """The app would listen beyond this machine without a password."""


def check_bind(app: App, host: str) -> None:
    """Refuse a non-loopback address until `newswatch web set-password` has been run."""
    if not security.is_loopback(host) and not security.has_password(app.sessions):
        raise UnsafeBind(
            f"refusing to listen on {host}, beyond this machine, without a password: run "
            "`newswatch web set-password` first (or listen on 127.0.0.1)")


def port_problem(host: str, port: int) -> str | None:
    """Why the app could not listen on host:port (e.g. another program has the port), or
    None: checked before saying where it listens."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            probe.bind(address)
    except OSError as error:
        return error.strerror or str(error)
    return None


def make_server(app: App, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the app; X-Forwarded-Proto is trusted from loopback only, so
    cookies are marked Secure behind a local TLS proxy."""
    from scheduler.web.app import create_app

    check_bind(app, host)
    config = uvicorn.Config(create_app(app), host=host, port=port, proxy_headers=True,
                            forwarded_allow_ips="127.0.0.1,::1", log_config=None,
                            access_log=False, server_header=False)
    return uvicorn.Server(config)


class BackgroundServer:
    """The web app on a thread of the daemon; stop() ends it."""

    def __init__(self, app: App, host: str, port: int) -> None:
        self.server = make_server(app, host, port)
        self.thread = threading.Thread(target=self.server.run, name="web", daemon=True)

    def start(self, timeout: float = 10.0) -> bool:
        """Start listening; False (and logged) when it could not, e.g. the port is taken."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while (not self.server.started and self.thread.is_alive()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        host, port = self.server.config.host, self.server.config.port
        if not self.server.started:
            logger.error("web app not started: could not listen on %s:%d (is another "
                         "program using the port? set [web] port)", host, port)
            self.stop()
            return False
        logger.info("web app on http://%s:%d/", host, port)
        return True

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
