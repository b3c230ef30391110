"""Apprise URLs carry tokens: what newswatch logs and stores of them shows none."""

from __future__ import annotations

from servers import WebhookReceiver

from alerts.delivery import redact, send_to_url
from alerts.render import Message

TOKEN = "T0KENSECRET123"


def test_redaction_masks_passwords_and_path_tokens() -> None:
    assert redact(f"json://hooks.example.org/services/{TOKEN}/xyz") == "json://hooks.example.org/…"
    assert "s3cret" not in redact("mailtos://me:s3cret@smtp.example.org?to=desk@example.org")
    assert redact("log://") == "log://"


def test_a_failed_delivery_reports_without_the_token() -> None:
    with WebhookReceiver(statuses=[500]) as receiver:
        url = "json://" + receiver.url.removeprefix("http://") + f"/services/{TOKEN}/x"
        result = send_to_url(url, Message(title="t", body="b"))
    assert not result.ok
    assert result.error and TOKEN not in result.error
    assert receiver.requests[0].path == f"/services/{TOKEN}/x"  # the token was used, not shown
