"""Sending a digest: e-mail through the office's SMTP relay, or a JSON POST to a
webhook (a chat bot). Settings from config/alerts.yaml and the environment; the
SMTP password (SCOREBOARD_SMTP_PASSWORD) and a webhook token
(SCOREBOARD_WEBHOOK_TOKEN) only ever come from the environment."""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping


class DeliveryError(Exception):
    """A delivery that failed, in one sentence (retried at the next run)."""


def _tls_context(smtp: Mapping[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=smtp.get("ca_file") or None)


def send_email(smtp: Mapping[str, Any], to: str, subject: str, body: str) -> None:
    host = smtp.get("host")
    if not host:
        raise DeliveryError("no SMTP relay is configured (smtp.host in the alerts config or SCOREBOARD_SMTP_HOST)")
    if not smtp["sender"]:
        raise DeliveryError("no sender is configured (smtp.sender in the alerts config)")
    msg = EmailMessage()
    msg["From"] = smtp["sender"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="par-scoreboard")
    msg.set_content(body)
    port, timeout = int(smtp["port"]), float(smtp["timeout_seconds"])
    try:
        if smtp.get("ssl"):
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=_tls_context(smtp))
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            client.ehlo()
            if smtp.get("starttls") and not smtp.get("ssl"):
                if not client.has_extn("starttls"):
                    raise DeliveryError(f"the SMTP relay {host}:{port} does not offer STARTTLS (set smtp.starttls: false to send in clear)")
                client.starttls(context=_tls_context(smtp))
                client.ehlo()
            user = smtp.get("username")
            if user:
                password = os.environ.get("SCOREBOARD_SMTP_PASSWORD")
                if password is None:
                    raise DeliveryError("smtp.username is set but SCOREBOARD_SMTP_PASSWORD is not")
                client.login(str(user), password)
            client.send_message(msg)
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail through {host}:{port} failed: {_reason(exc)}") from None


def post_webhook(url: str, payload: dict, timeout: float) -> None:
    if url.startswith("env:"):
        name = url[4:]
        url = os.environ.get(name, "")
        if not url:
            raise DeliveryError(f"the webhook's address variable {name} is not set")
    if not url.startswith(("http://", "https://")):
        raise DeliveryError("a webhook address must start with http:// or https://")
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "par-scoreboard"}
    token = os.environ.get("SCOREBOARD_WEBHOOK_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    host = urllib.request.urlparse(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"the webhook at {host} answered HTTP {exc.code}") from None
    except (OSError, urllib.error.URLError) as exc:
        raise DeliveryError(f"the webhook at {host} could not be reached: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or getattr(exc, "smtp_error", None) or exc
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(exc).__name__
    return text[:200]


def deliver(channel: str, address: str, message: Mapping[str, Any], cfg: Mapping[str, Any]) -> None:
    """One digest to one recipient; DeliveryError when it did not go."""
    if channel == "email":
        send_email(cfg["smtp"], address, message["subject"], message["body"])
    elif channel == "webhook":
        post_webhook(address, message["payload"], float(cfg["webhook"]["timeout_seconds"]))
    else:
        raise DeliveryError(f"unknown channel {channel!r}")
