"""The alert path under failure: no alert is lost between Prometheus and the Telegram chat.

Real Prometheus (always-firing vector(1) rules, resend every 1 s), real Alertmanager with the
stack's rendered config (the launcher's renderer, receiver and message template; only
group_wait/group_interval shortened to 1 s/2 s so a test takes seconds), and the real Telegram
sandbox under gunicorn. Delivery is judged the way the experiment runner judges it
(slo.live.delivery: the sandbox's messages parsed into alert notices).

- the sandbox answers 429, then 500, then 502 -> Alertmanager retries, every alert arrives once;
- the sandbox is killed while a new alert fires and comes back -> the new alert arrives, the
  ones it had recorded before are still there (persistence);
- Alertmanager is restarted while a new alert fires -> Prometheus re-sends, the alert arrives
  once the Alertmanager is back, and the ones notified before are not sent again.
"""

import os
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from slo.live.delivery import first_notice, notices
from stack.config import SANDBOX_CHAT_ID, TelegramTarget
from stack.files import sandbox_bot_token
from stack.launcher import write_alertmanager_dir
from stack.procs import Proc, free_port, wait_until
from stack.telegram_sandbox.client import SandboxClient
from tests.helpers import metric_samples
from tests.reliability.support import (
    alert_rules,
    prom_query,
    spawn_alertmanager,
    spawn_sandbox,
)

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


@dataclass
class AlertPath:
    """The three processes of the path, with what is needed to restart each on its port."""

    workdir: Path
    sandbox_port: int
    sandbox_data: Path
    sandbox: Proc
    am_port: int
    am_config: Path
    am: Proc
    prom_url: str
    prom_pid: int
    rules: Path
    token: str
    started: float

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def am_url(self) -> str:
        return f"http://127.0.0.1:{self.am_port}"

    def fired(self) -> Counter:
        """How many times each alert was notified as FIRING in the chat (the runner's parsing)."""
        found = notices(SandboxClient(self.sandbox_url).messages(chat_id=str(SANDBOX_CHAT_ID)))
        return Counter(n.alertname for n in found if n.status == "firing")

    def wait_delivered(self, *names: str, timeout: float = 60) -> None:
        """Until every alert in `names` has reached the chat."""
        wait_until(lambda: all(self.fired()[n] for n in names), timeout,
                   f"{', '.join(names)} to reach the Telegram sandbox")

    def verdict(self, name: str) -> bool:
        """The runner's verdict: a FIRING notice of `name` after the path started."""
        found = notices(SandboxClient(self.sandbox_url).messages(chat_id=str(SANDBOX_CHAT_ID)))
        return first_notice(found, name, (("severity", "page"),), "firing",
                            after=self.started) is not None

    def add_rule(self, *names: str) -> None:
        """Make more alerts fire: rewrite the rule file and reload Prometheus (SIGHUP)."""
        stamp = self.prom_metric("prometheus_config_last_reload_success_timestamp_seconds")
        current = yaml.safe_load(self.rules.read_text())["groups"][0]["rules"] or []
        self.rules.write_text(alert_rules(*[r["alert"] for r in current], *names))
        os.kill(self.prom_pid, signal.SIGHUP)
        wait_until(lambda: self.prom_metric(
            "prometheus_config_last_reload_success_timestamp_seconds") > stamp, 20,
            "Prometheus to reload its rules")

    def prom_metric(self, name: str) -> float:
        """The sum of a metric of Prometheus's own /metrics (it does not scrape itself here)."""
        return sum(value for (sample, _labels), value in
                   metric_samples(self.prom_url + "/metrics").items() if sample == name)

    def firing_in_prometheus(self, name: str) -> bool:
        return bool(prom_query(self.prom_url, f'ALERTS{{alertname="{name}",'
                                              f'alertstate="firing"}}'))


def fast_alertmanager_config(workdir: Path, sandbox_url: str, token: str) -> Path:
    """The launcher's rendering of the stack's Alertmanager config, with 1 s/2 s group timers."""
    out = workdir / "alertmanager" / "alertmanager.yml"
    out.parent.mkdir(parents=True)
    write_alertmanager_dir(out, TelegramTarget("sandbox", sandbox_url, SANDBOX_CHAT_ID, token),
                           grafana_url=None)
    config = yaml.safe_load(out.read_text())
    config["route"].update({"group_wait": "1s", "group_interval": "2s"})
    config["templates"] = [str(out.parent / name) for name in config["templates"]]
    out.write_text(yaml.safe_dump(config, sort_keys=False))
    return out


@pytest.fixture
def alert_path(tmp_path, start_prometheus, respawn):
    """Factory: sandbox + Alertmanager + Prometheus firing `names`; returns an AlertPath."""

    def start(*names: str) -> AlertPath:
        started = time.time()
        token = sandbox_bot_token()
        sandbox_port, am_port = free_port(), free_port()
        data = tmp_path / "sandbox" / "messages.jsonl"
        sandbox = respawn(spawn_sandbox(sandbox_port, data, tmp_path / "sandbox.log"))
        config = fast_alertmanager_config(tmp_path, f"http://127.0.0.1:{sandbox_port}", token)
        am = respawn(spawn_alertmanager(config, tmp_path / "alertmanager" / "data", am_port,
                                        tmp_path / "alertmanager.log"))
        rules = tmp_path / "rules.yml"
        rules.write_text(alert_rules(*names))
        prom = start_prometheus({}, rule_files=[rules], alertmanager=f"127.0.0.1:{am_port}",
                                extra_args=("--rules.alert.resend-delay=1s",))
        return AlertPath(tmp_path, sandbox_port, data, sandbox, am_port, config, am, prom.url,
                         prom.proc.pid, rules, token, started)

    return start


def sent_with_status(path: AlertPath) -> Counter:
    """sendMessage calls the sandbox answered, by HTTP status."""
    samples = metric_samples(path.sandbox_url + "/metrics")
    return Counter({dict(labels)["status"]: value for (name, labels), value in samples.items()
                    if name == "sandbox_requests_total"
                    and dict(labels)["method"] == "sendMessage"})


def test_alertmanager_retries_through_429_and_5xx_and_every_alert_arrives_once(alert_path):
    names = ("ReliabilityA", "ReliabilityB", "ReliabilityC")
    # faults first, so the first sends already meet them; each mode bites 3 calls in turn
    path = alert_path()  # no alert yet: the rules come after the faults are armed
    sandbox = SandboxClient(path.sandbox_url)
    sequence = [("429", {"retry_after": 1}), ("500", {}), ("502", {})]
    sandbox.set_fault(sequence[0][0], count=3, **sequence[0][1])
    path.add_rule(*names)
    for mode, extra in sequence[1:]:
        wait_until(lambda: sandbox.fault() is None, 60, "the previous fault to be used up")
        sandbox.set_fault(mode, count=3, **extra)
    path.wait_delivered(*names, timeout=90)

    statuses = sent_with_status(path)
    assert statuses["429"] == 3 and statuses["500"] == 3 and statuses["502"] == 3, statuses
    assert statuses["200"] >= len(names), statuses
    fired = path.fired()
    assert {n: fired[n] for n in names} == dict.fromkeys(names, 1), fired  # none lost, none twice
    assert all(path.verdict(n) for n in names)


def test_a_sandbox_killed_while_an_alert_fires_loses_nothing(alert_path, respawn):
    path = alert_path("ReliabilityBefore")
    path.wait_delivered("ReliabilityBefore")
    os.killpg(path.sandbox.pid, signal.SIGKILL)
    path.sandbox.popen.wait(timeout=10)

    path.add_rule("ReliabilityDuring")
    # Alertmanager tries the dead sandbox and fails (so the alert is not lost by luck later)
    wait_until(lambda: metric_samples(path.am_url + "/metrics").get(
        ("alertmanager_notifications_failed_total", frozenset({("integration", "telegram")})),
        0) > 0, 60, "Alertmanager to fail a delivery to the dead sandbox")

    respawn(spawn_sandbox(path.sandbox_port, path.sandbox_data, path.workdir / "sandbox-2.log"))
    path.wait_delivered("ReliabilityDuring", timeout=60)
    fired = path.fired()
    assert fired["ReliabilityBefore"] == 1 and fired["ReliabilityDuring"] == 1, fired
    ids = [m["message_id"] for m in SandboxClient(path.sandbox_url).messages()]
    assert ids == sorted(set(ids)), ids  # the restarted sandbox continued the numbering
    assert path.verdict("ReliabilityBefore") and path.verdict("ReliabilityDuring")


def test_alertmanager_restarted_while_an_alert_fires_delivers_it_when_back(alert_path, respawn):
    path = alert_path("ReliabilityBefore")
    path.wait_delivered("ReliabilityBefore")
    path.am.stop()  # SIGTERM: Alertmanager saves its notification log on the way out

    path.add_rule("ReliabilityDuring")
    wait_until(lambda: path.firing_in_prometheus("ReliabilityDuring"), 30,
               "the new alert to fire in Prometheus")
    wait_until(lambda: path.prom_metric("prometheus_notifications_errors_total") > 0, 30,
               "Prometheus to fail sending to the stopped Alertmanager")
    assert path.fired()["ReliabilityDuring"] == 0

    respawn(spawn_alertmanager(path.am_config, path.workdir / "alertmanager" / "data",
                               path.am_port, path.workdir / "alertmanager-2.log"))
    path.wait_delivered("ReliabilityDuring", timeout=60)
    time.sleep(3)  # a group flush later: a duplicate of the earlier alert would be here now
    fired = path.fired()
    assert fired["ReliabilityDuring"] == 1, fired
    # the notification log survived the restart: what was notified before is not sent again
    assert fired["ReliabilityBefore"] == 1, fired
    assert path.verdict("ReliabilityDuring")
    assert requests.get(path.am_url + "/api/v2/alerts", timeout=5).ok
