"""One alert through real services on loopback: SMTP, Matrix (Synapse), MQTT (Mosquitto)
and a JSON webhook, each read back the way its users would read it."""

from __future__ import annotations

import json
import queue
import secrets
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from apprise.conversion import html_to_text
from matrix import Synapse, SynapseUnavailable
from servers import SMTPServer, WebhookReceiver
from test_alerts_outbox import (
    RULE,
    app_opener,
    cli,
    hook_url,
    mail_url,
    notifications,
    publish,
    write_alert_config,
)

from alerts.channels import Channel
from alerts.delivery import send_to_url
from alerts.escaping import escape_markdown
from alerts.render import SAMPLE_FACTS, render_alert
from scheduler.app import App

MOSQUITTO = ("127.0.0.1", 1883)
HOSTILE = "Putin <script>alert(1)</script> *visits* Pyongyang"
BODY = ("Russian President Vladimir Putin will visit Pyongyang this week, the Kremlin said. "
        "<b>Kim Jong Un</b> promised *full support*.")


@pytest.fixture
def open_app() -> Iterator[Callable[[Path], App]]:
    with app_opener() as opener:
        yield opener


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A Synapse homeserver with a bot, a reader and a room, started once per session."""
    try:
        server = Synapse(tmp_path_factory.mktemp("synapse")).start()
    except SynapseUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mqtt_messages() -> Iterator[tuple[str, queue.Queue[bytes]]]:
    """A subscriber on the machine's Mosquitto (started if down): (topic, payloads)."""
    _ensure_mosquitto()
    topic = f"newswatch/test/{secrets.token_hex(4)}"
    received: queue.Queue[bytes] = queue.Queue()
    subscribed = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"reader-{topic}")
    client.on_message = lambda _client, _data, message: received.put(message.payload)
    client.on_subscribe = lambda *_args: subscribed.put(True)
    client.connect(*MOSQUITTO)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        subscribed.get(timeout=10)
        yield topic, received
    finally:
        client.loop_stop()
        client.disconnect()


def _ensure_mosquitto() -> None:
    if _listening(MOSQUITTO):
        return
    subprocess.run(["mosquitto", "-d", "-c", "/etc/mosquitto/mosquitto.conf"], check=True)
    deadline = time.monotonic() + 10
    while not _listening(MOSQUITTO):
        if time.monotonic() > deadline:
            pytest.fail("Mosquitto is not listening on 127.0.0.1:1883", pytrace=False)
        time.sleep(0.1)


def _listening(address: tuple[str, int]) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(address) == 0


def test_one_alert_reaches_email_matrix_mqtt_and_a_webhook(
    tmp_path: Path, open_app, synapse: Synapse, smtp_server: SMTPServer,
    webhook: WebhookReceiver, mqtt_messages: tuple[str, queue.Queue[bytes]],
) -> None:
    topic, payloads = mqtt_messages
    urls = [mail_url(smtp_server), synapse.apprise_url(), f"mqtt://127.0.0.1/{topic}",
            hook_url(webhook)]
    config = write_alert_config(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
        f'[channels.desk]\nurls = {json.dumps(urls)}\nformat = "markdown"\n'
        'timezone = "Asia/Seoul"',
    )
    app = open_app(config)
    publish(app, HOSTILE, body=BODY)
    app.match()
    report = app.deliver()
    assert (report.sent, report.retrying) == (1, 0), [n.last_error for n in notifications(app)]
    title = f"[{RULE}] Putin ‹script›alert(1)‹/script› *visits* Pyongyang"

    assert smtp_server.wait_for(1)
    [mail] = smtp_server.messages
    assert mail["Subject"] == title
    assert mail["To"].addresses[0].addr_spec == "desk@example.org"
    assert mail.get_content_type() == "multipart/alternative"
    html = mail.get_body(("html",)).get_content()
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *visits* Pyongyang</a></strong>" in html
    assert "<strong>Putin</strong> will visit <strong>Pyongyang</strong>" in html
    assert "&lt;b&gt;Kim Jong Un&lt;/b&gt; promised *full support*" in html
    assert "KST" in mail.get_body(("plain",)).get_content()

    [chat] = synapse.wait_for_messages(1)
    assert chat["format"] == "org.matrix.custom.html"
    assert "<script" not in chat["formatted_body"]
    assert "&lt;script&gt;" in chat["formatted_body"]
    assert "<strong>Pyongyang</strong>" in chat["formatted_body"]
    assert HOSTILE in chat["body"]

    payload = payloads.get(timeout=10).decode()
    # MQTT has no title field: the title is in the body, escaped as the body's headline is
    assert escape_markdown(f"[{RULE}] {HOSTILE}") in payload
    assert "https://wire.example.org/news/" in payload

    [posted] = webhook.requests
    assert posted.json["title"] == title
    assert posted.json["message"].startswith(r"**[Putin \<script\>alert(1)\</script\>")


TRAP = "[click me](http://evil.example/) <b>x</b> *bold*"


@pytest.mark.parametrize("format", ["markdown", "html", "text"])
def test_matrix_shows_a_hostile_headline_as_literal_text(synapse: Synapse, format: str) -> None:
    """What a Matrix client renders (formatted_body) and shows as text (body) hold the
    headline, in the title and in the body, without a link, bold or emphasis."""
    before = len(synapse.messages())
    facts = replace(SAMPLE_FACTS, headline=TRAP)
    message = render_alert(Channel("desk", (synapse.apprise_url(),), format=format), facts)
    assert send_to_url(synapse.apprise_url(), message).ok
    event = synapse.wait_for_messages(before + 1)[-1]
    formatted = event.get("formatted_body", "")
    assert "evil.example" not in formatted.replace("http://evil.example/)", "")
    assert "<a href=\"http://evil" not in formatted
    assert "<b>x" not in formatted and "<em>bold" not in formatted and "<strong>x" not in formatted
    shown = html_to_text(formatted) if formatted else event["body"]
    assert shown.count("[click me](http://evil.example/)") == 2  # title and headline
    assert "*bold*" in shown and "x" in shown
    assert "[click me](http://evil.example/)" in event["body"]


def test_html_email_has_escaped_headline_and_highlighted_snippet(
    tmp_path: Path, open_app, smtp_server: SMTPServer
) -> None:
    config = write_alert_config(
        tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
        f'[channels.desk]\nurls = ["{mail_url(smtp_server)}"]\nformat = "html"\n'
        'title = "News: {{ headline }} ({{ outlet_count }} outlet)"',
    )
    app = open_app(config)
    publish(app, HOSTILE, body=BODY)
    app.match()
    assert app.deliver().sent == 1
    assert smtp_server.wait_for(1)
    [mail] = smtp_server.messages
    assert mail["Subject"] == "News: Putin ‹script›alert(1)‹/script› *visits* Pyongyang (1 outlet)"
    assert mail["From"].addresses[0].addr_spec == "newswatch@example.org"
    html = mail.get_body(("html",)).get_content()
    assert "<script" not in html and "<b>Kim" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *visits* Pyongyang" in html
    assert "<b>Putin</b> will visit <b>Pyongyang</b>" in html
    text = mail.get_body(("plain",)).get_content()
    assert "<script>alert(1)</script>" in text  # the text part shows it, harmlessly


def test_alerts_test_reports_each_url_with_the_services_error_and_no_secret(
    tmp_path: Path, webhook: WebhookReceiver, smtp_server: SMTPServer
) -> None:
    with WebhookReceiver(default_status=500) as broken:
        down = SMTPServer().start()
        down.stop()
        broken_url = "json://hookuser:hunter2secret@" + broken.url.removeprefix("http://") + "/in"
        urls = [hook_url(webhook), broken_url, mail_url(down), mail_url(smtp_server)]
        config = write_alert_config(
            tmp_path, f"sqlite:///{tmp_path / 'n.db'}",
            f'[channels.desk]\nurls = {json.dumps(urls)}\nformat = "markdown"',
        )
        result = cli(config, "test", "desk")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"ok     json://127.0.0.1:{webhook.port}/…"  # path tokens masked too
    assert lines[1].startswith("error  json://hookuser:****@")
    assert "Internal server error., error=500" in lines[1]
    assert lines[2].startswith(f"error  mailto://127.0.0.1:{down.port}/")
    assert "Connection error" in lines[2]
    assert lines[3].startswith(f"ok     mailto://127.0.0.1:{smtp_server.port}/")
    assert "hunter2secret" not in result.output
    assert webhook.requests[0].json["title"].startswith(
        "[Putin in Pyongyang] newswatch test alert: ")
    assert smtp_server.wait_for(1)

    unknown = cli(config, "test", "nowhere")
    assert unknown.exit_code == 1
    assert "no channel 'nowhere' (channels: desk)" in unknown.output
