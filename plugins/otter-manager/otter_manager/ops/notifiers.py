"""Where an alarm goes: the log, a webhook (HTTP POST of JSON) or email through an SMTP server.

A notifier never raises: a failed delivery is logged and returned as text, so one broken webhook does not
keep an alarm from the other notifiers (or from the alarm event list).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any, Protocol

from attrs import define, field, frozen

from otter_core.spi import ConfigError

log = logging.getLogger("otter.alarm")
NOTIFIER_TYPES = ("log", "webhook", "email")
TLS_MODES = ("none", "starttls", "ssl")


@frozen
class AlarmMessage:
    """What every notifier sends: which rule fired for which pipeline, why, and what was done."""

    rule: str
    kind: str
    channel: str
    pipeline: str
    message: str
    time: float
    action: str = ""  # e.g. "restarted the channel (1 of 3)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "channel": self.channel,
            "pipeline": self.pipeline,
            "message": self.message,
            "time": self.time,
            "action": self.action,
        }

    @property
    def subject(self) -> str:
        where = f"{self.channel}/{self.pipeline}" if self.pipeline else self.channel
        return f"[otter] {self.rule}: {where}"


@define
class SmtpSettings:
    """The SMTP server email alarms go through; ``tls``: none, starttls or ssl."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = field(default="", repr=False)  # never in logs or reprs
    tls: str = "none"
    sender: str = "otter@localhost"
    timeout: float = 20.0

    def check(self) -> None:
        if not self.host:
            raise ConfigError("smtp.host: no SMTP server configured for email alarms")
        if self.tls not in TLS_MODES:
            raise ConfigError(f"smtp.tls: {self.tls!r} is not one of {', '.join(TLS_MODES)}")


class Notifier(Protocol):
    def send(self, alarm: AlarmMessage) -> str | None:
        """Deliver ``alarm``; None when delivered, else the reason it was not."""


class LogNotifier:
    def send(self, alarm: AlarmMessage) -> str | None:
        log.warning(
            "alarm %s: %s/%s: %s%s",
            alarm.rule,
            alarm.channel,
            alarm.pipeline,
            alarm.message,
            f" ({alarm.action})" if alarm.action else "",
        )
        return None


class WebhookNotifier:
    """POST the alarm as JSON to ``url``; any 2xx answer counts as delivered."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"notifiers.webhook.url: {url!r} is not an http(s) URL")
        self.url = url
        self.timeout = timeout

    def send(self, alarm: AlarmMessage) -> str | None:
        body = json.dumps(alarm.to_dict()).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "otter-manager"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
            return None
        except (urllib.error.URLError, OSError) as exc:
            reason = f"webhook {self.url}: {exc}"
            log.warning("alarm %s not delivered: %s", alarm.rule, reason)
            return reason


class EmailNotifier:
    def __init__(self, smtp: SmtpSettings, to: list[str]) -> None:
        smtp.check()
        if not to or not all("@" in address for address in to):
            raise ConfigError(f"notifiers.email.to: {to!r} must list email addresses")
        self.smtp = smtp
        self.to = list(to)

    def send(self, alarm: AlarmMessage) -> str | None:
        mail = EmailMessage()
        mail["Subject"] = alarm.subject
        mail["From"] = self.smtp.sender
        mail["To"] = ", ".join(self.to)
        mail.set_content(
            f"{alarm.message}\n\nrule: {alarm.rule} ({alarm.kind})\nchannel: {alarm.channel}\n"
            f"pipeline: {alarm.pipeline}\naction: {alarm.action or 'none'}\n"
        )
        s = self.smtp
        try:
            if s.tls == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            with client:
                if s.tls == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.user:
                    client.login(s.user, s.password)
                client.send_message(mail)
            return None
        except (smtplib.SMTPException, OSError) as exc:
            reason = f"email via {s.host}:{s.port}: {exc}"
            log.warning("alarm %s not delivered: %s", alarm.rule, reason)
            return reason


def build_notifier(spec: Mapping[str, Any], smtp: SmtpSettings | None) -> Notifier:
    """A notifier from a rule's ``{"type": "log" | "webhook" (url) | "email" (to)}``."""
    kind = spec.get("type")
    if kind == "log":
        return LogNotifier()
    if kind == "webhook":
        return WebhookNotifier(str(spec.get("url") or ""))
    if kind == "email":
        return EmailNotifier(smtp or SmtpSettings(), list(spec.get("to") or []))
    raise ConfigError(f"notifiers.type: {kind!r} is not one of {', '.join(NOTIFIER_TYPES)}")
