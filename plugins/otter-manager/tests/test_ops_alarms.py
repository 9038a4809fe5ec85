"""Alarm rules fire through real notifiers (a webhook HTTP server, an SMTP server) and auto-recovery
restarts a killed channel up to its limit."""

import datetime
import http.server
import json
import os
import signal
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from test_ops_runtime import PAIRS, count, insert, wait_until

from otter_core.errors import ConfigError
from otter_core.testing.harness import pipeline_yaml
from otter_core.testing.mariadb import free_port
from otter_manager.ops.alarms import AlarmEngine, AlarmRule
from otter_manager.ops.notifiers import AlarmMessage, EmailNotifier, SmtpSettings, WebhookNotifier
from otter_manager.ops.runtime import LocalRuntime

# the test SMTP server asks for a login over plain text on loopback
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, alarm, failures):
        self.events.append((alarm, failures))


def channel(channel_state="RUNNING", **pipeline):
    row = {
        "pipeline": "p1",
        "state": "running",
        "lag_s": 0.0,
        "error": "",
        "error_time": 0.0,
        "position": "f.1:4",
    }
    row.update(pipeline)
    return {
        "channel": "shop",
        "state": channel_state,
        "stale": False,
        "updated": time.time(),
        "pipelines": [row],
    }


@pytest.fixture
def webhook():
    """A real HTTP server on loopback collecting the JSON bodies POSTed to it."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (
                    self.path,
                    self.headers["Content-Type"],
                    json.loads(self.rfile.read(int(self.headers["Content-Length"]))),
                )
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/otter", received
    server.shutdown()
    server.server_close()


class MailBox:
    def __init__(self):
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback that requires a login."""
    box = MailBox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=box.authenticate,
        auth_require_tls=False,
        auth_required=True,
    )  # loopback only: no TLS needed
    controller.start()
    yield controller, box
    controller.stop()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"kind": "cpu"}, "kind"),
        ({"kind": "delay", "threshold": 0}, "threshold"),
        ({"kind": "exception"}, "pattern"),
        ({"kind": "exception", "pattern": "(unclosed"}, "pattern"),
        ({"kind": "delay", "threshold": 5, "window": "25:00-26:00"}, "window"),
        ({"kind": "delay", "threshold": 5, "recover_max": -1}, "recover_max"),
    ],
)
def test_invalid_rules_name_the_field(fields, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        AlarmRule(1, "r", **fields).check()


def test_a_window_that_was_never_checked_is_named_when_used():
    """A rule read from a hand-edited store skips check(): its bad window is named, not an AttributeError."""
    rule = AlarmRule(3, "w", "delay", 5, window="9-18")
    with pytest.raises(ValueError, match="alarm rule 'w': window '9-18' is not HH:MM-HH:MM"):
        rule.in_window(datetime.datetime(2026, 11, 26, 10, 0))


def test_time_windows_include_start_exclude_end_and_may_cross_midnight():
    day, night = (
        AlarmRule(1, "d", "delay", 5, window="09:00-18:00"),
        AlarmRule(2, "n", "delay", 5, window="22:00-06:00"),
    )

    def at(h: int, m: int) -> datetime.datetime:
        return datetime.datetime(2026, 11, 26, h, m)

    assert [day.in_window(at(h, m)) for h, m in ((8, 59), (9, 0), (17, 59), (18, 0))] == [
        False,
        True,
        True,
        False,
    ]
    assert [night.in_window(at(h, m)) for h, m in ((21, 59), (22, 0), (3, 0), (6, 0))] == [
        False,
        True,
        True,
        False,
    ]


def test_delay_rule_fires_once_per_episode_and_only_inside_its_window():
    record = Recorder()
    engine = AlarmEngine(record)
    now = datetime.datetime(2026, 11, 26, 12, 0).timestamp()
    rules = [
        AlarmRule(1, "slow", "delay", 10, notifiers=()),
        AlarmRule(2, "night", "delay", 10, window="22:00-06:00"),
    ]
    assert [a.rule for a in engine.evaluate(rules, [channel(lag_s=30.0)], now)] == ["slow"]
    assert engine.evaluate(rules, [channel(lag_s=40.0)], now + 1) == []  # same episode
    assert engine.evaluate(rules, [channel(lag_s=1.0)], now + 2) == []  # cleared
    fired = engine.evaluate(rules, [channel(lag_s=12.5)], now + 3)
    assert [(a.rule, a.pipeline, a.message) for a in fired] == [("slow", "p1", "delay 12.5s above 10.0s")]
    assert len(record.events) == 2 and record.events[0][1] == []


def test_exception_rule_matches_each_new_error_once():
    engine = AlarmEngine(Recorder())
    rule = [AlarmRule(1, "deadlocks", "exception", pattern=r"Deadlock|lock wait")]
    assert engine.evaluate(rule, [channel(error="LoadError: Deadlock found", error_time=100.0)])
    assert not engine.evaluate(rule, [channel(error="LoadError: Deadlock found", error_time=100.0)])
    assert not engine.evaluate(rule, [channel(error="duplicate key", error_time=101.0)])
    assert engine.evaluate(rule, [channel(error="Lock wait timeout; lock wait", error_time=102.0)])


def test_timeout_rules_wait_for_their_threshold():
    engine = AlarmEngine(Recorder())
    rules = [
        AlarmRule(1, "proc", "process_timeout", 30),
        AlarmRule(2, "pipe", "pipeline_timeout", 30),
        AlarmRule(3, "pos", "position_timeout", 60),
    ]
    t = 1000.0
    assert engine.evaluate(rules, [channel(lag_s=5.0)], t) == []
    assert engine.evaluate(rules, [channel("DEAD", state="retrying", lag_s=5.0)], t + 1) == []
    assert [
        a.rule for a in engine.evaluate(rules, [channel("DEAD", state="retrying", lag_s=5.0)], t + 31)
    ] == ["proc", "pipe"]
    assert [
        a.rule for a in engine.evaluate(rules, [channel("DEAD", state="retrying", lag_s=5.0)], t + 61)
    ] == ["pos"]
    paused = channel("PAUSED", state="paused", lag_s=5.0)
    assert engine.evaluate(rules, [paused], t + 200) == [] and engine.evaluate(rules, [paused], t + 400) == []


def test_webhook_receives_the_alarm_as_json(webhook):
    url, received = webhook
    record = Recorder()
    engine = AlarmEngine(record)
    rule = AlarmRule(1, "slow", "delay", 10, notifiers=({"type": "webhook", "url": url}, {"type": "log"}))
    engine.evaluate([rule], [channel(lag_s=99.0)], 1000.0)
    assert received == [
        (
            "/hooks/otter",
            "application/json",
            {
                "rule": "slow",
                "kind": "delay",
                "channel": "shop",
                "pipeline": "p1",
                "message": "delay 99.0s above 10.0s",
                "time": 1000.0,
                "action": "",
            },
        )
    ]
    assert record.events[0][1] == []


def test_a_dead_webhook_is_recorded_and_the_other_notifiers_still_deliver(webhook):
    url, received = webhook
    record = Recorder()
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    rule = AlarmRule(
        1, "slow", "delay", 10, notifiers=({"type": "webhook", "url": dead}, {"type": "webhook", "url": url})
    )
    AlarmEngine(record).evaluate([rule], [channel(lag_s=99.0)], 1000.0)
    assert len(received) == 1
    assert len(record.events[0][1]) == 1 and record.events[0][1][0].startswith(f"webhook {dead}: ")
    with pytest.raises(ConfigError, match="url: 'ftp://x' is not an http"):
        WebhookNotifier("ftp://x")


def test_email_goes_through_the_smtp_server_with_login(smtp_server):
    controller, box = smtp_server
    smtp = SmtpSettings(
        host="127.0.0.1", port=controller.port, user="otter", password="s3cret", sender="otter@example.org"
    )
    rule = AlarmRule(
        1, "slow", "delay", 10, notifiers=({"type": "email", "to": ["ops@example.org", "dba@example.org"]},)
    )
    record = Recorder()
    AlarmEngine(record, smtp=lambda: smtp).evaluate([rule], [channel(lag_s=42.0)], 1000.0)
    assert record.events[0][1] == []
    assert box.logins == [("otter", "s3cret")]
    sender, recipients, content = box.messages[0]
    assert sender == "otter@example.org" and recipients == ["ops@example.org", "dba@example.org"]
    assert "Subject: [otter] slow: shop/p1" in content and "delay 42.0s above 10.0s" in content
    assert "s3cret" not in repr(smtp)


def test_email_with_a_wrong_password_is_a_recorded_failure(smtp_server):
    controller, _ = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=controller.port, user="otter", password="wrong", timeout=5.0)
    failure = EmailNotifier(smtp, ["ops@example.org"]).send(AlarmMessage("r", "delay", "c", "p", "m", 1.0))
    assert failure.startswith(f"email via 127.0.0.1:{controller.port}: ") and "wrong" not in failure
    with pytest.raises(ConfigError, match="smtp.host"):
        EmailNotifier(SmtpSettings(), ["ops@example.org"])


def test_the_recovery_limit_counts_the_restarts_of_the_last_hour():
    restarted = []
    engine = AlarmEngine(Recorder(), restart=lambda name: restarted.append(name) or "restarted the channel")
    rule = AlarmRule(1, "died", "process_timeout", 0, auto_recover=True, recover_max=2)
    dead, alive = [{"channel": "shop", "state": "DEAD"}], [{"channel": "shop", "state": "RUNNING"}]
    actions = []
    for at in (0, 600, 1200, 3599, 3601, 4300):  # one death per moment, the channel back in between
        actions += [a.action for a in engine.evaluate([rule], dead, now=at)]
        engine.evaluate([rule], alive, now=at + 1)
    assert actions == [
        "restarted the channel (1 of 2)",
        "restarted the channel (2 of 2)",
        "not restarted: the limit of 2 restarts per hour is reached",
        "not restarted: the limit of 2 restarts per hour is reached",
        "restarted the channel (2 of 2)",  # the one at 0 left the hour; the one at 600 did not
        "restarted the channel (2 of 2)",
    ]  # 600 left, 3601 is still in
    assert restarted == ["shop"] * 4


@pytest.mark.usefixtures("clean_databases")
def test_auto_recovery_restarts_a_killed_channel_up_to_its_limit(
    tmp_path, mariadb_source, mariadb_target, webhook
):
    url, received = webhook
    for server in (mariadb_source, mariadb_target):
        server.execute(
            "CREATE DATABASE shop", "CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(50))"
        )
    file, pos = mariadb_source.binlog_position()
    yaml_text = pipeline_yaml(
        mariadb_source, mariadb_target, PAIRS, start={"file": file, "pos": pos}, channel="shop"
    )
    runtime = LocalRuntime(tmp_path / "runs")
    engine = AlarmEngine(
        Recorder(), restart=lambda name: runtime.start(name, yaml_text) and "restarted the channel"
    )
    rule = AlarmRule(
        1,
        "died",
        "process_timeout",
        0.5,
        auto_recover=True,
        recover_max=2,
        notifiers=({"type": "webhook", "url": url},),
    )
    runtime.start("shop", yaml_text)
    try:
        for kill in (1, 2, 3):
            pid = runtime.pid("shop")
            insert(mariadb_source, [kill])
            wait_until(lambda kill=kill: count(mariadb_target) == kill, f"row {kill} synced", runtime=runtime)
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: runtime.channel_status("shop")["state"] == "DEAD", "DEAD", runtime=runtime)
            engine.evaluate([rule], runtime.status())
            time.sleep(0.6)
            fired = engine.evaluate([rule], runtime.status())
            assert len(fired) == 1, f"kill {kill}: {fired}"
            if kill < 3:
                assert fired[0].action == f"restarted the channel ({kill} of 2)"
                assert runtime.channel_status("shop")["state"] == "RUNNING" and runtime.pid("shop") != pid
                engine.evaluate([rule], runtime.status())  # running again: the episode ends
            else:
                assert fired[0].action == "not restarted: the limit of 2 restarts per hour is reached"
                assert runtime.channel_status("shop")["state"] == "DEAD"
        assert [body["action"] for _, _, body in received] == [
            "restarted the channel (1 of 2)",
            "restarted the channel (2 of 2)",
            "not restarted: the limit of 2 restarts per hour is reached",
        ]
    finally:
        if runtime.pid("shop") is not None:
            runtime.stop("shop", timeout=30)
