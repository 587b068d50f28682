"""Delivery after an Alertmanager restart that kept its data dir (`make stack-down`, `make stack`
without FRESH=1): the real Alertmanager 0.25 remembers, in its notification log, the FIRING
message it sent before the restart and does not send it again (until repeat_interval), so a
still-firing alert has no message after its new start. `slo verify-alerts` must not call that
a notification that keeps failing, and must not take an unrelated old message for it."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from slo.live.delivery import post_alert
from slo.live.health import DELIVERED, FAILING, NOT_RESENT
from slo.live.verify import Endpoints, delivery_health
from stack.config import SANDBOX_CHAT_ID, TelegramTarget, private_stack_env
from stack.launcher import write_alertmanager_dir
from stack.procs import free_port
from stack.telegram_sandbox.client import SandboxClient
from tests.conftest import start_alertmanager_at, start_stack_sandbox

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
KEPT = {"alertname": "ErrorBudgetBurn", "service": "portfolio-app", "slo": "home-availability",
        "severity": "page", "long": "1h", "short": "5m"}
NEW = {**KEPT, "slo": "checkout-latency"}      # never notified before the restart


@pytest.fixture
def restarted(tmp_path, start_prometheus):
    prometheus = start_prometheus({})
    sandbox = start_stack_sandbox(tmp_path / "sandbox")
    config = tmp_path / "alertmanager" / "alertmanager.yml"
    write_alertmanager_dir(config, TelegramTarget("sandbox", sandbox.url, SANDBOX_CHAT_ID,
                                                  sandbox.token), None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = config.parent / "data"
    client = SandboxClient(sandbox.url)
    procs = [sandbox.proc]
    try:
        am = start_alertmanager_at(config, data, port, config.parent / "am1.log")
        procs.append(am)
        first = time.time()
        post_alert(url, KEPT, {"summary": "before the restart"}, first, first + 600)
        client.wait_for_message(contains="home-availability", chat_id=SANDBOX_CHAT_ID,
                                timeout=30)
        am.stop()
        procs.remove(am)
        time.sleep(1)
        procs.append(start_alertmanager_at(config, data, port, config.parent / "am2.log"))
        again = time.time()      # Prometheus, restarted too, sends the alert a new start
        post_alert(url, KEPT, {"summary": "before the restart"}, again, again + 600)
        post_alert(url, NEW, {"summary": "after the restart"}, again, again + 600)
        client.wait_for_message(contains="checkout-latency", chat_id=SANDBOX_CHAT_ID,
                                timeout=30)
        time.sleep(max(0.0, again + 22 - time.time()))   # past due: 5 s wait + 10 s flush + 5
        yield Endpoints(prometheus.url, url, sandbox.url, "sandbox"), client
    finally:
        for proc in procs:
            proc.stop()


def test_a_firing_message_alertmanager_remembers_from_before_its_restart_is_not_failing(
        restarted, tmp_path):
    """Before: `FAILED 1 alert(s) whose Telegram notification keeps failing ... no FIRING
    message for it reached chat`, exit 1."""
    endpoints, sandbox = restarted
    after = [m for m in sandbox.messages(contains="home-availability")]
    assert len(after) == 1                  # the real Alertmanager did not send it again
    health = delivery_health(endpoints, 900)
    verdicts = {dict(a.alert.labels)["slo"]: a for a in health.alerts}
    assert verdicts["checkout-latency"].verdict == DELIVERED
    kept = verdicts["home-availability"]
    assert kept.verdict == NOT_RESENT, kept
    assert not health.failed and FAILING not in {a.verdict for a in health.alerts}
    assert "not re-sent after Alertmanager's restart at" in kept.detail
    assert "repeat_interval 1h" in kept.detail

    listing = subprocess.run(
        [sys.executable, "-m", "slo.cli", "verify-alerts"], cwd=REPO, capture_output=True,
        text=True, timeout=60, check=False,
        env=private_stack_env(tmp_path / "no-stack",
                              PROMETHEUS_URL=endpoints.prometheus,
                              ALERTMANAGER_URL=endpoints.alertmanager,
                              TELEGRAM_SANDBOX_URL=endpoints.sandbox, TELEGRAM_MODE="sandbox",
                              PYTHONPATH=str(REPO), COLUMNS="250"))
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "DELIVERED 1 held alert(s): ErrorBudgetBurn" in listing.stdout
    assert "ErrorBudgetBurn{long=1h,service=portfolio-app,severity=page,short=5m,slo=home-" \
           "availability}: NOT RE-SENT not re-sent after Alertmanager's restart" in listing.stdout
    assert "FAILED" not in listing.stdout
