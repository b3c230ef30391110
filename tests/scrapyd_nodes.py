"""Real Scrapyd servers on loopback, as crawl nodes: newswatch installed (this venv) and
declared in the node's scrapy.cfg, each with its own port, config and directories."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from servers import free_port

SCRAPYD_CONF = """[scrapyd]
bind_address = 127.0.0.1
http_port = {port}
max_proc = 4
poll_interval = 0.2
logs_dir = {root}/logs
eggs_dir = {root}/eggs
dbs_dir = {root}/dbs
jobs_to_keep = 50
"""
# The documented file: read by Scrapyd (its projects) and by the Scrapy processes it
# starts (the settings module).
SCRAPY_CFG = (Path(__file__).resolve().parents[1] / "deploy" / "scrapyd" / "scrapy.cfg"
              ).read_text(encoding="utf-8")


def start_all(servers: list[ScrapydServer]) -> None:
    """Start `servers` side by side and wait until each answers."""
    for server in servers:
        server.launch()
    for server in servers:
        server.wait_ready()


class ScrapydServer:
    """`python -m scrapyd` in `root` (where it finds its scrapyd.conf)."""

    def __init__(self, root: Path, environ: dict[str, str]) -> None:
        self.root = root
        self.environ = environ
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: float = 60) -> Self:
        return self.launch().wait_ready(wait)

    def launch(self) -> Self:
        """Start the server without waiting for it (`wait_ready` waits): nodes started
        side by side get through their seconds of start-up together."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "scrapyd.conf").write_text(
            SCRAPYD_CONF.format(port=self.port, root=self.root), encoding="utf-8")
        (self.root / "scrapy.cfg").write_text(SCRAPY_CFG, encoding="utf-8")
        log = (self.root / "scrapyd.out").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scrapyd"], cwd=self.root, stdout=log,
            stderr=subprocess.STDOUT, env={**os.environ, **self.environ},
            start_new_session=True,
        )
        return self

    def wait_ready(self, wait: float = 60) -> Self:
        """Wait until the server answers and lists the project's spiders."""
        assert self.process is not None, "launch() first"
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scrapyd exited: {self.output()}")
            try:
                if self.call("daemonstatus.json")["status"] == "ok":
                    # Scrapyd lists a project's spiders once, before its first job.
                    self.call("listspiders.json?project=newswatch", timeout=wait)
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"scrapyd did not answer within {wait}s: {self.output()}")

    def call(self, endpoint: str, timeout: float = 5) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/{endpoint}", timeout=timeout) as response:
            return dict(json.loads(response.read()))

    def jobs(self) -> dict[str, Any]:
        return self.call("listjobs.json?project=newswatch")

    def output(self) -> str:
        return (self.root / "scrapyd.out").read_text(encoding="utf-8", errors="replace")

    def job_log(self, job_id: str) -> str:
        path = self.root / "logs" / "newswatch" / "news" / f"{job_id}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
