"""The native launcher with real binaries on free ports, in a temporary run directory.

One scenario walks the whole life of a stack through the CLI, as a user does (`up` runs in its
own process, so `down` must find the processes from state.json alone): up -> status -> the app
is scraped -> an alert travels Prometheus -> Alertmanager -> Telegram sandbox and is read back ->
a second up is a no-op -> restart_part("app") -> down -> nothing is left running.
"""

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness_common.stackenv import read_stack_env
from stack.config import StackSettings, private_stack_env
from stack.errors import MissingBinaryError, StackError
from stack.procs import pid_alive, port_in_use, wait_until
from stack.state import load_state
from stack.telegram_sandbox.client import SandboxClient
from tests.conftest import fake_bot_token

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent

SMOKE_RULE = """\
groups:
  - name: launcher-test
    rules:
      - alert: StackSmokeTest
        expr: vector(1)
        labels: {severity: page, slo: smoke, service: portfolio-app}
        annotations:
          summary: "launcher test alert <fires at once> & is escaped"
          value: "{{ $value }}"
"""


@pytest.fixture
def stack_env(tmp_path):
    """Environment for a native stack on free ports in a tmp STACK_DIR, with a smoke rule."""
    rules = tmp_path / "smoke.yml"
    rules.write_text(SMOKE_RULE)
    env = private_stack_env(tmp_path / "stack", STACK_EXTRA_RULES=str(rules),
                            APP_BASELINE_DELAY_MS="0")
    yield env
    # Whatever happened, leave nothing running.
    subprocess.run([sys.executable, "-m", "stack", "down"], env=env, cwd=REPO,
                   capture_output=True, check=False, timeout=60)


def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, check=False, timeout=120)


def group_members(pgids: set[int]) -> list[tuple[int, str]]:
    """(pid, cmdline) of every live process whose process group is one of `pgids`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[2]) in pgids and fields[0] != "Z":
            found.append((int(entry.name), cmdline.decode(errors="replace")))
    return found


def test_stack_lifecycle_up_alert_to_sandbox_restart_and_down(stack_env):
    up = cli(stack_env, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "Stack up (native)" in up.stdout
    settings = StackSettings.from_env(stack_env)
    prometheus = settings.url("prometheus")
    assert prometheus in up.stdout and settings.url("app") in up.stdout

    # .stack/env: private, with the token the app really accepts.
    env_file = settings.paths.env_file
    assert env_file.stat().st_mode & 0o777 == 0o600
    pairs = read_stack_env(settings.stack_dir)
    token = pairs["FAULT_ADMIN_TOKEN"]
    assert pairs["PROMETHEUS_URL"] == prometheus
    faults = requests.get(settings.url("app") + "/admin/faults", timeout=5,
                          headers={"Authorization": f"Bearer {token}"})
    assert faults.status_code == 200

    status = cli(stack_env, "status")
    assert status.returncode == 0, status.stdout + status.stderr

    # Prometheus scrapes the app.
    up_query = requests.get(prometheus + "/api/v1/query", timeout=5,
                            params={"query": 'up{job="portfolio-app"}'}).json()
    assert up_query["data"]["result"][0]["value"][1] == "1"
    flags = requests.get(prometheus + "/api/v1/status/flags", timeout=5).json()["data"]
    assert flags["rules.alert.resend-delay"] == "5s"
    assert flags["web.enable-admin-api"] == "false"

    # The alert reaches the sandbox through the real Alertmanager, HTML-escaped.
    sandbox = SandboxClient(settings.url("telegram-sandbox"))
    message = sandbox.wait_for_message(contains="StackSmokeTest", timeout=40)
    assert message["chat_id"] == -1001234567890
    assert message["parse_mode"] == "HTML"
    assert "launcher test alert <fires at once> & is escaped" in message["text"]
    assert "FIRING" in message["text"] and "SLO smoke" in message["text"]
    # Its Prometheus link is a page this build serves (Debian's: /classic/graph, not /graph).
    # Alertmanager's link only where it has a web UI (Debian's 0.25 has none).
    sent = message["raw_text"]
    link = re.search(r'<a href="([^"]+)">Prometheus</a>', sent)
    assert link, sent
    graph = requests.get(html.unescape(link.group(1)), timeout=5)
    assert graph.status_code == 200 and pairs["PROMETHEUS_UI"] in link.group(1)
    assert ("Alertmanager</a>" in sent) == (pairs["ALERTMANAGER_UI"] == "yes"), sent

    # The stack's sandbox is strict, as Telegram: only its own token and chat exist.
    bot_api = settings.url("telegram-sandbox") + "/bot{}/sendMessage"
    assert pairs["TELEGRAM_SANDBOX_CHAT_ID"] == "-1001234567890"
    stranger = requests.post(bot_api.format(fake_bot_token(555, "ZZ", "00")), timeout=5,
                             json={"chat_id": "-1001234567890", "text": "x"})
    assert stranger.status_code == 401 and stranger.json()["description"] == "Unauthorized"
    elsewhere = requests.post(bot_api.format(pairs["TELEGRAM_SANDBOX_TOKEN"]), timeout=5,
                              json={"chat_id": "-100999", "text": "x"})
    assert elsewhere.json()["description"] == "Bad Request: chat not found"

    # A second `up` finds the running stack and changes nothing.
    state = load_state(settings.paths.state_file)
    again = cli(stack_env, "up")
    assert again.returncode == 0 and "already running" in again.stdout
    assert load_state(settings.paths.state_file).parts == state.parts

    # No secret on any command line of the stack, nor in its logs.
    secrets = [token, pairs["TELEGRAM_SANDBOX_TOKEN"], pairs["GRAFANA_ADMIN_PASSWORD"]]
    pgids = {p.pid for p in state.parts}
    members = group_members(pgids)
    assert len(members) >= len(pgids)
    for _pid, cmdline in members:
        assert not any(s in cmdline for s in secrets), cmdline
    for log in settings.paths.logs.glob("*.log"):
        assert not any(s in log.read_text(errors="replace") for s in secrets), log

    # restart_part("app") (the runner's infra-fault recovery): new process, same token, scraped.
    from stack.launcher import ensure_stack, restart_part, stack_status, stop_part

    old_app = state.part("app")
    new_app = restart_part("app", settings)
    assert new_app.pid != old_app.pid and not pid_alive(old_app.pid)
    assert requests.get(settings.url("app") + "/admin/faults", timeout=5,
                        headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # A part that died (the runner's `kill` fault) is revived by the next up; the rest is kept.
    assert stop_part("app", settings)
    revived = ensure_stack(settings)
    assert not revived.already_running
    after = load_state(settings.paths.state_file)
    assert after.part("prometheus") == state.part("prometheus")
    assert after.part("app").pid != new_app.pid and after.part("app").leader_alive()

    logs = cli(stack_env, "logs", "app", "-n", "5")
    assert logs.returncode == 0 and "Booting worker" in logs.stdout

    # down stops every process of every part, and only those.
    final = load_state(settings.paths.state_file)
    pgids = {p.pid for p in final.parts}
    down = cli(stack_env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    wait_until(lambda: not group_members(pgids), 10, "every stack process to exit")
    assert not settings.paths.state_file.exists()
    assert cli(stack_env, "status").returncode == 3
    assert stack_status(settings) == (None, [])
    assert read_stack_env(settings.stack_dir)["FAULT_ADMIN_TOKEN"] == token  # kept for next up


def test_a_taken_port_is_refused_naming_its_variable(stack_env):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(stack_env["PROMETHEUS_PORT"])))
        taken.listen()
        result = cli(stack_env, "up")
    assert result.returncode == 2
    assert "PROMETHEUS_PORT" in result.stderr and "taken" in result.stderr
    assert not (Path(stack_env["STACK_DIR"]) / "state.json").exists()


def test_a_refused_start_keeps_the_last_env_and_prometheus_data(stack_env):
    """A user's next command reads .stack/env: a start refused for a taken port rewrote it
    (another Prometheus URL, TARGET_URL gone), and --fresh had already dropped the data."""
    settings = StackSettings.from_env(stack_env)
    paths = settings.paths
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.env_file.write_text("PROMETHEUS_URL=http://127.0.0.1:9090\nTARGET_URL=http://x:1\n")
    kept = paths.part_dir("prometheus") / "data" / "chunks_head" / "000001"
    kept.parent.mkdir(parents=True)
    kept.write_text("samples")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(stack_env["PROMETHEUS_PORT"])))
        taken.listen()
        # --forget: not the recorded TARGET_URL (a restart reuses it: tests/test_own_service.py)
        result = cli(stack_env, "up", "--fresh", "--forget")
    assert result.returncode == 2 and "taken" in result.stderr, result.stderr
    assert paths.env_file.read_text() == ("PROMETHEUS_URL=http://127.0.0.1:9090\n"
                                          "TARGET_URL=http://x:1\n")
    assert kept.read_text() == "samples"
    assert not (paths.part_dir("prometheus") / "prometheus.yml").exists()


def test_a_fresh_start_empties_alertmanagers_notification_log_too(stack_env):
    """verify-alerts' NOT RE-SENT advice said FRESH=1 empties Alertmanager's log; it removed
    only Prometheus's data."""
    paths = StackSettings.from_env(stack_env).paths
    logs = [paths.part_dir(part) / "data" / name for part, name in
            (("prometheus", "wal-leftover"), ("alertmanager", "nflog"))]
    for path in logs:
        path.parent.mkdir(parents=True)
        path.write_text("old")
    up = cli(stack_env, "up", "--fresh")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "removed Alertmanager's data" in up.stdout + up.stderr
    assert not any(path.exists() for path in logs)


def test_a_missing_binary_names_the_install_command(stack_env, monkeypatch):
    from stack import launcher

    monkeypatch.setattr(launcher, "find_binary", lambda *names: None)
    with pytest.raises(MissingBinaryError, match=r"make setup"):
        launcher.ensure_stack(StackSettings.from_env(stack_env))


def test_a_part_that_dies_at_start_is_reported_with_its_log_and_nothing_is_left(
        stack_env, monkeypatch):
    from stack import launcher

    monkeypatch.setattr(launcher, "_binaries",
                        lambda settings: {"prometheus": "/bin/false", "alertmanager":
                                 launcher.find_binary("prometheus-alertmanager", "alertmanager")})
    settings = StackSettings.from_env(stack_env)
    with pytest.raises(launcher.PartFailedError, match="Prometheus exited during start-up"):
        launcher.ensure_stack(settings, timeout=20)
    assert not settings.paths.state_file.exists()
    for var in ("APP_PORT", "TELEGRAM_SANDBOX_PORT", "ALERTMANAGER_PORT"):
        assert not port_in_use(int(stack_env[var])), f"{var}: a part was left running"
    with pytest.raises(StackError, match="no native stack is running"):
        launcher.restart_part("app", settings)
