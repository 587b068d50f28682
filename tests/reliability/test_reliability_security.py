"""Security: the admin API's token, body size limits, and no secret ever leaking.

- the real app's admin API refuses every route without the right token (401, no details,
  nothing changed), and is closed (403) when the app has no token at all;
- the real app's and the sandbox's body limits hold for a 10 MB body, with or without a
  Content-Length (chunked), and the servers keep serving;
- a launcher-started stack, driven through its failure paths (a failed Telegram delivery that
  Alertmanager logs with its URL, refused admin calls, CLI errors, a load test with a chaos
  schedule, a check), never shows the fault admin token, the bot token (whole, its secret part,
  or URL-encoded), or the Grafana password in its logs, on any command line of its processes
  (`ps`), in the CLIs' output and error messages, or in the reports written.
compose.yaml publishing only on 127.0.0.1 is checked statically in tests/test_compose.py.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from harness_common.faults.client import FaultClient
from harness_common.stackenv import read_stack_env
from slo.live.delivery import post_alert
from stack.config import StackSettings, private_stack_env
from stack.procs import free_port, wait_until
from stack.state import load_state
from stack.telegram_sandbox.client import SandboxClient
from tests.conftest import fake_bot_token
from tests.reliability.support import REPO, spawn_app, spawn_sandbox

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROUTES = [("GET", "/admin/faults"), ("PUT", "/admin/faults/latency"),
          ("DELETE", "/admin/faults/latency"), ("DELETE", "/admin/faults")]


@pytest.fixture
def shared_app(app_server):
    """The session's app, with no fault on before and after the test."""
    FaultClient(app_server.url, app_server.token).clear()
    yield app_server
    FaultClient(app_server.url, app_server.token).clear()


def test_the_admin_api_refuses_every_route_without_the_right_token(shared_app, respawn,
                                                                   tmp_path):
    app = shared_app
    FaultClient(app.url, app.token).set("error", status=503, probability=0.01, ttl_s=600)
    before = FaultClient(app.url, app.token).list()
    wrong = [None, "Bearer", "Bearer ", "Bearer wrong", f"Bearer {app.token}x",
             f"Bearer {app.token[:-1]}", f"Basic {app.token}", app.token,
             f"Token {app.token}", f"Bearer {app.token.upper()}"]
    for method, path in ROUTES:
        for header in wrong:
            headers = {} if header is None else {"Authorization": header}
            answer = requests.request(method, app.url + path, headers=headers, timeout=5,
                                      json={"delay_ms": 1} if method == "PUT" else None)
            assert answer.status_code == 401, (method, path, header, answer.text)
            assert answer.json() == {"error": "unauthorized"}  # no hint of what was wrong
            assert answer.headers["WWW-Authenticate"] == "Bearer"
    after = FaultClient(app.url, app.token).list()
    assert [f["kind"] for f in after] == ["error"] and after[0]["expires_at"] == \
        before[0]["expires_at"]

    closed_port = free_port()  # an app started with no token at all: the API is closed
    respawn(spawn_app(closed_port, "", tmp_path / "closed.log"))
    url = f"http://127.0.0.1:{closed_port}"
    for method, path in ROUTES:
        answer = requests.request(method, url + path, timeout=5,
                                  headers={"Authorization": f"Bearer {app.token}"})
        assert answer.status_code == 403, (method, path, answer.text)
        assert "FAULT_ADMIN_TOKEN" in answer.json()["error"]


def _chunks(total: int, size: int = 64 * 1024):
    """A body without Content-Length (chunked transfer encoding)."""
    sent = 0
    while sent < total:
        yield b" " * size
        sent += size


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_ten_megabyte_body_is_refused_by_the_admin_api_and_the_sandbox(shared_app, respawn,
                                                                        tmp_path, framing):
    app = shared_app
    port = free_port()
    respawn(spawn_sandbox(port, tmp_path / "sandbox" / "messages.jsonl", tmp_path / "sb.log"))
    sandbox = f"http://127.0.0.1:{port}"
    bot = fake_bot_token()
    size = 10 * 1024 * 1024
    targets = [
        ("PUT", app.url + "/admin/faults/latency", {"Authorization": f"Bearer {app.token}"}),
        ("PUT", sandbox + "/sandbox/faults", {}),
        ("POST", f"{sandbox}/bot{bot}/sendMessage", {}),
    ]
    for method, url, headers in targets:
        # a valid document, then 10 MB of JSON whitespace: only the size is wrong
        head = b'{"delay_ms": 5, "mode": "429", "chat_id": 1, "text": "x"}'
        body = head + b" " * size if framing == "content-length" else \
            (part for part in [head, *_chunks(size)])
        try:
            answer = requests.request(method, url, data=body, timeout=30,
                                      headers={**headers, "Content-Type": "application/json"})
        except requests.ConnectionError:
            answer = None  # the server may close the connection after refusing: allowed
        if answer is not None:
            # refused as too large, never handled as the valid document it starts with
            assert answer.status_code == 413, (url, answer.status_code, answer.text[:200])
    # nothing was changed, and both servers still serve
    assert FaultClient(app.url, app.token).list() == []
    client = SandboxClient(sandbox)
    assert client.fault() is None and client.messages() == []
    assert requests.get(app.url + "/api/projects", timeout=5).ok and client.healthy()


# --------------------------------------------------------------------------- no secret leaks

ALWAYS_FIRING = """\
groups:
  - name: security-test
    rules:
      - alert: SecurityTestAlert
        expr: vector(1)
        labels: {severity: page, slo: security, service: portfolio-app}
        annotations: {summary: "fires at once"}
"""


@pytest.fixture
def launched(tmp_path):
    """A native stack from the launcher in a private run directory, on free ports."""
    rules = tmp_path / "always.yml"
    rules.write_text(ALWAYS_FIRING)
    env = private_stack_env(tmp_path / "stack", STACK_EXTRA_RULES=str(rules),
                            APP_BASELINE_DELAY_MS="0", REPORTS_DIR=str(tmp_path / "reports"))
    yield env
    subprocess.run([sys.executable, "-m", "stack", "down"], env=env, cwd=REPO,
                   capture_output=True, check=False, timeout=60)


def run(env: dict, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """A CLI of the harness, as a user runs it; its output is checked for secrets."""
    return subprocess.run([sys.executable, "-m", *argv], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, check=False)


def forms(secret: str) -> list[str]:
    """The ways a secret could show: as is, URL-encoded, and a bot token's secret part."""
    out = {secret, quote(secret, safe="")}
    if ":" in secret:
        out.add(secret.split(":", 1)[1])
    return sorted(out)


def leaks(text: str, secrets: list[str]) -> list[str]:
    """Which of `secrets` (in any of their forms) appear in `text`."""
    return [s[:4] + "…" for s in secrets if any(f in text for f in forms(s))]


def stack_cmdlines(stack_dir: Path) -> list[str]:
    """The command line of every live process in the stack's process groups (what ps shows)."""
    state = load_state(stack_dir / "state.json")
    pgids = {p.pid for p in state.parts}
    lines = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[2]) in pgids:
            lines.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return lines


def test_no_secret_leaks_from_a_launched_stack_through_its_failure_paths(launched, tmp_path):
    env = launched
    outputs = [run(env, "stack", "up")]
    assert outputs[0].returncode == 0, outputs[0].stdout + outputs[0].stderr
    settings = StackSettings.from_env(env)
    pairs = read_stack_env(settings.stack_dir)
    secrets = [pairs["FAULT_ADMIN_TOKEN"], pairs["TELEGRAM_SANDBOX_TOKEN"],
               pairs["GRAFANA_ADMIN_PASSWORD"]]
    sandbox = SandboxClient(settings.url("telegram-sandbox"))

    # 1. Telegram unreachable: Alertmanager logs Go's URL error, whose URL carries the bot
    #    token (/bot<token>/sendMessage); the launcher's redactor must mask it
    am_log = settings.paths.logs / "alertmanager.log"
    sandbox_pid = load_state(settings.paths.state_file).part("telegram-sandbox").pid
    os.killpg(sandbox_pid, signal.SIGKILL)  # the sandbox dies...
    wait_until(lambda: not sandbox.healthy(), 10, "the sandbox to be gone")
    now = time.time()
    post_alert(settings.url("alertmanager"), {"alertname": "SecurityPostedAlert",
                                              "severity": "page", "slo": "security"},
               {"summary": "posted while the sandbox is down"}, now, now + 600)
    wait_until(lambda: "connection refused" in am_log.read_text(errors="replace"), 60,
               "Alertmanager to fail a delivery to the stopped sandbox")
    outputs.append(run(env, "stack", "up"))  # ...and `up` brings back the part that died
    assert outputs[-1].returncode == 0, outputs[-1].stdout + outputs[-1].stderr
    sandbox.wait_for_message(contains="SecurityPostedAlert", timeout=60)  # then it gets through

    # 2. the CLIs with a wrong token, with the right one, and on errors
    wrong = {**env, "FAULT_ADMIN_TOKEN": "not-the-token-" + "x" * 20}
    refused = run(wrong, "target_app.faults", "list")
    assert refused.returncode == 2 and "401" in refused.stderr, refused.stderr
    assert "not-the-token" not in refused.stdout + refused.stderr
    outputs += [refused,
                run(env, "target_app.faults", "set", "latency", "--delay-ms", "5", "--ttl", "30"),
                run(env, "target_app.faults", "set", "latency", "--delay-ms", "-5"),
                run(env, "target_app.faults", "clear"),
                run(env, "stack", "status"),
                run(env, "stack", "logs", "-n", "200")]
    for answer in (requests.get(settings.url("app") + "/admin/faults", timeout=5,
                                headers={"Authorization": f"Bearer {secrets[0]}x"}),
                   requests.get(f"{settings.url('telegram-sandbox')}/bot"  # malformed token
                                f"{secrets[1]}!/getMe", timeout=5)):
        assert answer.status_code in (401, 404) and not leaks(answer.text, secrets), answer.text

    # 3. reports: a short load test with a chaos schedule (it uses the token), and a check
    schedule = tmp_path / "chaos.yaml"
    schedule.write_text("- {at: 1s, set: error, params: {status: 503, probability: 0.5}, "
                        "for: 2s}\n")
    outputs.append(run(env, "loadtests", "headless", "--users", "3", "--duration", "3s",
                       "--chaos-schedule", str(schedule), "--run-id", "sec", "--port",
                       str(free_port())))
    assert outputs[-1].returncode == 0, outputs[-1].stdout + outputs[-1].stderr
    outputs.append(run(env, "slo.cli", "check", "--run", str(tmp_path / "reports" / "sec"),
                       "--no-settle", "--json", str(tmp_path / "reports" / "check.json"),
                       "--junit", str(tmp_path / "reports" / "check.xml")))
    assert outputs[-1].returncode in (0, 1, 2), outputs[-1].stderr

    found = {}
    for out in outputs:
        if hits := leaks(out.stdout + out.stderr, secrets):
            found[" ".join(map(str, out.args[2:5]))] = hits
    for path in [*settings.paths.logs.glob("*"), *(tmp_path / "reports").rglob("*")]:
        if path.is_file() and (hits := leaks(path.read_text(errors="replace"), secrets)):
            found[str(path)] = hits
    messages = settings.stack_dir / "telegram-sandbox" / "messages.jsonl"
    if hits := leaks(messages.read_text(), secrets):
        found[str(messages)] = hits
    cmdlines = stack_cmdlines(settings.stack_dir)
    assert len(cmdlines) >= 4, cmdlines
    for line in cmdlines:
        if hits := leaks(line, secrets):
            found[f"ps: {line[:80]}"] = hits
    assert not found, found
    # the redactor really had a URL with the token to mask
    bot_id = pairs["TELEGRAM_SANDBOX_TOKEN"].split(":")[0]
    assert f"/bot{bot_id}:" in am_log.read_text(), am_log.read_text()[-2000:]
