"""The alert path with real parts: the real Alertmanager 0.25 renders the stack's telegram.tmpl
and delivers to the stack's strict Telegram sandbox; `slo verify-alerts` judges every alert's
delivery, not only its own test message (issue 11 item 4, issue 15 item 4).

One Alertmanager (the stack's rendered config, plus a second Telegram receiver configured with
a chat the bot is not in: 400 chat not found for ever, a real misconfiguration) and one
Prometheus (a quiet rule; it scrapes Alertmanager every second) serve the module; the tests run
in file order.
"""

import copy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from slo.live import verify as live_verify
from slo.live.delivery import first_notice, notices, parse_counters, post_alert
from slo.live.verify import TEST_ALERT, Endpoints, check_marker, own_blocks
from stack.config import SANDBOX_CHAT_ID, TelegramTarget, private_stack_env
from stack.files import write_private
from stack.launcher import write_alertmanager_dir
from stack.procs import free_port, wait_until
from stack.telegram_sandbox.client import SandboxClient
from tests.conftest import launch_prometheus, start_alertmanager_at, start_stack_sandbox

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
GROUP = {"service": "portfolio-app", "slo": "availability", "severity": "page"}
LOST_CHAT = -1000000000404


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("alert-path")
    sandbox = start_stack_sandbox(tmp / "sandbox")
    out = tmp / "alertmanager" / "alertmanager.yml"
    write_alertmanager_dir(out, TelegramTarget("sandbox", sandbox.url, SANDBOX_CHAT_ID,
                                               sandbox.token), None)
    config = yaml.safe_load(out.read_text())
    lost = copy.deepcopy(config["receivers"][0])
    lost["name"] = "telegram-lost"
    lost["telegram_configs"][0]["chat_id"] = LOST_CHAT
    config["receivers"].append(lost)
    config["route"]["routes"] = [{"receiver": "telegram-lost", "matchers": ['team="lost"']}]
    write_private(out, yaml.safe_dump(config, sort_keys=False))
    am_port = free_port()
    am = start_alertmanager_at(out, out.parent / "data", am_port, out.parent / "am.log",
                               log_level="info")
    rules = tmp / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "quiet", "rules": [
        {"alert": "Quiet", "expr": "vector(0) > 1", "labels": {"severity": "page"}}]}]}))
    prometheus = launch_prometheus(tmp / "prometheus",
                                   {"alertmanager": [f"127.0.0.1:{am_port}"]}, rule_files=[rules])
    am_url = f"http://127.0.0.1:{am_port}"
    env = private_stack_env(tmp / "no-stack", PROMETHEUS_URL=prometheus.url,
                            ALERTMANAGER_URL=am_url, TELEGRAM_SANDBOX_URL=sandbox.url,
                            TELEGRAM_MODE="sandbox", PYTHONPATH=str(REPO), COLUMNS="200")
    yield {"am": am_url, "am_log": out.parent / "am.log", "sandbox": SandboxClient(sandbox.url),
           "env": env}
    for proc in (prometheus.proc, am, sandbox.proc):
        proc.stop()


def post(path, name, annotations=None, starts_ago=0.0, **labels):
    now = time.time()
    post_alert(path["am"], {"alertname": name, **GROUP, **labels}, annotations or {},
               now - starts_ago, now + 600, generator_url="http://127.0.0.1:9090/graph?g0.expr=up")


def message_for(path, name, timeout=30) -> dict:
    return path["sandbox"].wait_for_message(contains=name, chat_id=SANDBOX_CHAT_ID,
                                            timeout=timeout)


def counters(path) -> tuple[float, float, float]:
    return parse_counters(requests.get(path["am"] + "/metrics", timeout=5).text)


def verify(path, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slo.cli", "verify-alerts", *args],
                          env={**path["env"], **env}, cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)


DESCRIPTION = ("5 < 6 & <b>bold?</b> 🔥 Привет мир. " * 200)[:5000]


@pytest.fixture(scope="module")
def long_ones(path):
    """The two messages the old template lost (400 for ever), posted at once: one alert with a
    5,000-character description, and eight alerts of one group with 535-character ones."""
    post(path, "LongAnnotation", {"summary": "errors above budget", "description": DESCRIPTION,
                                  "runbook_url": "https://runbooks.example/long"})
    for i in range(8):
        post(path, "ManyAlerts", {"summary": f"row {i}", "description": "d" * 535},
             long=f"{i + 1}h")
    return path


def test_a_5000_character_annotation_is_delivered_readable_with_the_cut_marked(long_ones):
    path, description = long_ones, DESCRIPTION
    message = message_for(path, "LongAnnotation")
    assert len(message["raw_text"]) < 4096          # Alertmanager never had to cut it
    lines = message["text"].splitlines()            # as the on-call person reads it
    assert lines[0] == "🔥 FIRING LongAnnotation"
    assert lines[2] == "labels none"
    assert lines[3] == "errors above budget"
    shown = lines[4]
    assert shown.endswith("…") and description.startswith(shown[:-1]) and len(shown) > 100
    assert "Prometheus · runbook" in message["text"]
    assert [(n.status, n.labels, n.complete) for n in notices([message])] == [
        ("firing", {"alertname": "LongAnnotation", **GROUP}, True)]
    assert "Truncated message" not in path["am_log"].read_text()


def test_eight_alerts_of_one_group_arrive_as_one_message_listing_five_and_counting_the_rest(
        long_ones):
    message = message_for(long_ones, "ManyAlerts")
    assert len(message["raw_text"]) < 4096
    assert "… and 3 more firing (8 in all)" in message["text"]
    found = notices([message])
    assert len(found) == 5 and all(n.status == "firing" for n in found)
    # each block shows its alert's own labels: the rows are told apart
    assert sorted(n.labels["long"] for n in found) == sorted({n.labels["long"] for n in found})
    assert all(n.complete and n.labels == {"alertname": "ManyAlerts", **GROUP,
                                           "long": n.labels["long"]} for n in found)
    # an alert not listed is no block's: it is one of the "3 more" (slo.live.health counts it)
    listed = {n.labels["long"] for n in found}
    unlisted = next(f"{i}h" for i in range(1, 9) if f"{i}h" not in listed)
    assert first_notice(found, "ManyAlerts", (("long", unlisted), *GROUP.items()), "firing", 0,
                        chat_id=SANDBOX_CHAT_ID) is None
    assert found[0].unlisted == 3


def test_a_retry_that_ended_in_delivery_is_a_warning_not_a_failure(path):
    path["sandbox"].set_fault("403", count=1, reason="blocked")
    try:
        failed_before = counters(path)[2]
        post(path, "RetriedAlert", {"summary": "the bot was blocked for one request"})
        message_for(path, "RetriedAlert")
        assert counters(path)[2] >= failed_before + 1
    finally:
        path["sandbox"].clear_fault()
    time.sleep(2)   # one more scrape of Alertmanager by Prometheus
    listing = verify(path)
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "1 rules, 0 firing, 0 unhealthy" in listing.stdout
    assert "DELIVERED 10 held alert(s): LongAnnotation, ManyAlerts x8, RetriedAlert" in (
        listing.stdout)
    assert "none keeps failing now (retries that ended in delivery)" in listing.stdout


def test_verify_alerts_fails_while_an_alerts_notification_keeps_failing(path):
    """Before: "1 rules, 0 unhealthy" exit 0, and --send-test DELIVERED exit 0, while this
    alert's notifications failed for ever."""
    failed_before = counters(path)[2]
    post(path, "LostAlert", {"summary": "routed to a chat the bot is not in"}, starts_ago=60,
         team="lost")
    wait_until(lambda: counters(path)[2] >= failed_before + 2, 30,
               "Alertmanager to fail sending LostAlert")
    listing = verify(path)
    assert listing.returncode == 1, listing.stdout + listing.stderr
    assert "1 rules, 0 firing, 0 unhealthy" in listing.stdout
    assert "LostAlert{" in listing.stdout and "FAILING" in listing.stdout
    assert f"no FIRING message for it reached chat {SANDBOX_CHAT_ID}" in listing.stdout
    assert "failed requests (retried)" in listing.stdout
    assert "FAILED 1 alert(s) whose Telegram notification keeps failing: LostAlert{" in (
        listing.stdout)

    sent = verify(path, "--send-test", "--no-resolve", "--within", "30s")
    assert sent.returncode == 1, sent.stdout + sent.stderr
    assert "DELIVERED (read back from the Telegram sandbox, chat" in sent.stdout
    assert "DELIVERED delivered" not in sent.stdout
    assert "the test message proves delivery for itself only" in sent.stdout
    assert "LostAlert{" in sent.stdout


def test_send_test_does_not_take_an_earlier_checks_resolved_block_for_its_own(path, monkeypatch):
    """A user's second `--send-test` printed "resolved after -0.5s": its FIRING went out in one
    grouped message with the RESOLVED of the check before it, and that block was counted."""
    service = "grouped-check"
    old = {"alertname": TEST_ALERT, "severity": "info", "slo": "verify-alerts",
           "service": service, "check": "894b5e6c"}
    summary = {"summary": f"slo verify-alerts {check_marker('894b5e6c')} no action needed"}
    started = time.time()
    post_alert(path["am"], old, summary, started, started + 600)
    path["sandbox"].wait_for_message(contains="894b5e6c", chat_id=SANDBOX_CHAT_ID, timeout=30)
    post_alert(path["am"], old, summary, started, time.time())   # its RESOLVED is now due
    monkeypatch.setattr(live_verify.secrets, "token_hex", lambda n: "f0acac2d")
    endpoints = Endpoints(path["env"]["PROMETHEUS_URL"], path["am"], path["sandbox"].base_url,
                          "sandbox")
    result = live_verify.send_test(endpoints, service, within_s=30)
    grouped = notices(path["sandbox"].messages(contains="f0acac2d"))
    first = grouped[0].message_id
    assert sorted((n.status, n.text.split("check ")[1][:8]) for n in grouped
                  if n.message_id == first) == [("firing", "f0acac2d"), ("resolved", "894b5e6c")]
    assert result.ok and result.resolved_notify_s > 0, result.detail
    resolution = own_blocks(grouped, "f0acac2d", "resolved")
    assert resolution and resolution[0].message_id != first


def test_a_message_about_one_alert_is_no_delivery_of_its_twin(path):
    """Issue 19 item 4. Two alerts alike but for `instance`; A's message arrives, then B joins
    the group and its notification fails (the sandbox answers 403). Before: `DELIVERED ... x2`:
    B was matched to A's message (B started before it, and the message did not show
    instance)."""
    twin = {"summary": "alike but for the instance"}
    post(path, "TwinAlert", twin, instance="a")
    first = message_for(path, "TwinAlert")
    assert 'labels instance="a"' in first["text"]
    failed_before = counters(path)[2]
    path["sandbox"].set_fault("403", duration_s=120, reason="blocked")
    try:
        post(path, "TwinAlert", twin, starts_ago=30, instance="b")   # started before A's message
        wait_until(lambda: counters(path)[2] >= failed_before + 1, 30,
                   "Alertmanager to fail sending the group with B")
        endpoints = Endpoints(path["env"]["PROMETHEUS_URL"], path["am"],
                              path["sandbox"].base_url, "sandbox")
        health = live_verify.delivery_health(endpoints, 900)
        twins = {a.alert.label_dict["instance"]: a for a in health.alerts
                 if a.alert.name == "TwinAlert"}
        assert twins["a"].verdict == "delivered", twins["a"]
        assert twins["b"].verdict == "failing", twins["b"]
        listing = verify(path)
    finally:
        path["sandbox"].clear_fault()
    assert listing.returncode == 1, listing.stdout + listing.stderr
    assert "TwinAlert x2" not in listing.stdout
    assert "TwinAlert{instance=b,service=portfolio-app,severity=page,slo=availability}: " \
           "FAILING" in listing.stdout, listing.stdout
