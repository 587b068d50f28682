"""The same verdicts from VictoriaMetrics as from Prometheus, on the same window.

A real VictoriaMetrics (Debian's `victoria-metrics`) scrapes the real demo app beside a real
Prometheus, both every second; `slo check` is run against each on one window of traffic with
an error fault on. Verdicts must agree and the error ratios be within the stated tolerance;
where VictoriaMetrics answers differently (no /api/v1/status/runtimeinfo, an empty
/api/v1/rules without vmalert, increase() without extrapolation), the checker knows it.
"""

import json
import shutil
import time
from pathlib import Path

import pytest
import requests
import yaml

from harness_common.faults.client import FaultClient
from slo.cli import main
from stack.procs import free_port, spawn_ready
from tests.conftest import _start_app, launch_prometheus
from tests.test_core_install import SPEC, window_samples
from tests.test_slo_check_integration import drive, scraped

pytestmark = [pytest.mark.integration, pytest.mark.skipif(
    shutil.which("victoria-metrics") is None,
    reason="victoria-metrics is not installed (apt-get install victoria-metrics)")]
# error ratios of one window from the two backends agree within this many percentage points
RATIO_TOLERANCE_PP = 0.5


def launch_victoriametrics(workdir: Path, targets: dict, scrape_interval: str = "1s"):
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "scrape.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": scrape_interval},
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(hosts)}]}
                           for job, hosts in targets.items()]}))
    port = free_port()
    proc = spawn_ready("victoria-metrics", [
        shutil.which("victoria-metrics"), f"-storageDataPath={workdir / 'data'}",
        f"-httpListenAddr=127.0.0.1:{port}", f"-promscrape.config={config}",
        "-search.latencyOffset=0s", "-loggerLevel=WARN"],
        workdir / "vm.log", f"http://127.0.0.1:{port}/-/ready")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("vm")
    app = _start_app(workdir / "app")
    targets = {"portfolio-app": [f"127.0.0.1:{app.port}"]}
    prom = launch_prometheus(workdir / "prom", targets)
    vm_proc, vm_url = launch_victoriametrics(workdir / "vm", targets)
    scraped(prom.url)
    scraped(vm_url)
    yield app, prom.url, vm_url
    vm_proc.stop()
    prom.proc.stop()
    app.proc.stop()


def victoriametrics_on_samples(workdir: Path, series: dict) -> tuple:
    """A real VictoriaMetrics holding exactly `series` (as openmetrics() takes it), imported
    through its /api/v1/import/prometheus; scrapes nothing."""
    proc, url = launch_victoriametrics(workdir, {}, scrape_interval="5s")
    lines = [f"{name} {value!r} {int(moment * 1000)}"
             for name, points in series.items() for moment, value in points]
    resp = requests.post(url + "/api/v1/import/prometheus", data="\n".join(lines) + "\n",
                         timeout=30)
    assert resp.status_code == 204, resp.text
    requests.get(url + "/internal/force_flush", timeout=30)
    return proc, url


def check(url: str, start: float, end: float, out: Path, *extra: str) -> tuple[int, dict]:
    code = main(["check", "--prometheus", url, "--start", f"{start:.3f}", "--end",
                 f"{end:.3f}", "--no-settle", "--json", str(out), *extra])
    return code, json.loads(out.read_text())


def test_one_window_gets_the_same_verdicts_from_both_backends(env, tmp_path):
    """Traffic with 10 % errors inside a window with 2.5 s of quiet at each edge: each backend
    scrapes at its own moments, but both see every request, so the counts agree."""
    app, prom_url, vm_url = env
    faults = FaultClient(app.url, app.token)
    start = time.time()
    time.sleep(2.5)
    faults.set("error", probability=0.1, ttl_s=60)
    try:
        drive(app.url, 10)
    finally:
        faults.clear()
    time.sleep(2.5)
    end = time.time()
    time.sleep(2.5)
    prom_code, prom = check(prom_url, start, end, tmp_path / "prom.json")
    vm_code, vm = check(vm_url, start, end, tmp_path / "vm.json")
    table = comparison(prom, vm)
    print("\n".join(f"{row}" for row in table))
    assert prom_code == vm_code == 1
    assert [(name, p, v) for name, p, v, *_ in table] == [
        (name, p, p) for name, p, *_ in table]
    errors = {name: (pv, vv) for name, _, _, pv, vv, *_ in table if name == "error-ratio"}
    assert abs(errors["error-ratio"][0] - errors["error-ratio"][1]) * 100 <= RATIO_TOLERANCE_PP
    for name, _, _, _, _, prom_events, vm_events in table:
        assert prom_events == vm_events, name


def test_alert_states_from_victoriametrics_without_vmalert_are_refused(
        env, monkeypatch, tmp_path, capsys):
    """VictoriaMetrics answers /api/v1/rules with no groups when it proxies no vmalert: that
    is "could not evaluate" naming the fix, never "no alert fires"."""
    _, _, vm_url = env
    monkeypatch.setenv("STACK_DIR", str(tmp_path / "no-stack"))
    monkeypatch.setenv("PROMETHEUS_URL", vm_url)
    code = main(["verify-alerts", "--alert", "ErrorBudgetBurn", "--expect", "resolved",
                 "--within", "2s"])
    assert code == 2
    assert "-vmalert.proxyURL" in capsys.readouterr().err


@pytest.mark.parametrize("phase", [0.0, 0.1, 2.5, 4.9])
def test_exact_samples_give_the_same_counts_and_verdicts_on_both_backends(
        phase, prometheus_with_samples, tmp_path):
    start = int(time.time()) - 3600
    series = window_samples(start)
    prom = prometheus_with_samples(series)
    vm_proc, vm_url = victoriametrics_on_samples(tmp_path / "vm", series)
    try:
        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC, encoding="utf-8")
        edges = (start + 300 + phase, start + 840 + phase)  # scrapes every 5 s from start
        prom_code, prom_out = check(prom.url, *edges, tmp_path / "p.json", "--spec", str(spec))
        vm_code, vm_out = check(vm_url, *edges, tmp_path / "v.json", "--spec", str(spec))
    finally:
        vm_proc.stop()
    print("\n".join(f"{row}" for row in comparison(prom_out, vm_out)))
    assert prom_code == vm_code == 1
    assert comparison(prom_out, vm_out) == comparison(prom_out, prom_out)
    assert prom_out["backend"]["name"] == "Prometheus"
    assert vm_out["backend"]["name"] == "VictoriaMetrics"
    assert vm_out["backend"]["latency_offset_s"] == 0  # as started here
    assert any("do not extrapolate" in note for note in vm_out["backend"]["notes"])


def comparison(prom: dict, vm: dict) -> list[tuple]:
    """(name, status, Prometheus value, VictoriaMetrics value, events P, events VM) per SLO."""
    theirs = {s["name"]: s for s in vm["slos"]}
    return [(s["name"], s["status"], theirs[s["name"]]["status"], s["value"],
             theirs[s["name"]]["value"], s["total_events"], theirs[s["name"]]["total_events"])
            for s in prom["slos"]]


@pytest.mark.skipif(shutil.which("vmalert") is None, reason="vmalert is not installed")
def test_the_stack_on_victoriametrics_scrapes_evaluates_alerts_and_delivers(tmp_path):
    """STACK_BACKEND=victoriametrics: VictoriaMetrics answers PROMETHEUS_URL, vmalert evaluates
    the rule files and Alertmanager delivers to the sandbox; slo verify-alerts sees the rules
    through VictoriaMetrics's vmalert proxy."""
    import subprocess
    import sys

    from harness_common.stackenv import read_stack_env
    from stack.config import StackSettings, private_stack_env
    from stack.telegram_sandbox.client import SandboxClient
    from tests.test_stack_launcher import REPO, SMOKE_RULE

    rules = tmp_path / "smoke.yml"
    rules.write_text(SMOKE_RULE)
    env = private_stack_env(tmp_path / "stack", STACK_EXTRA_RULES=str(rules),
                            APP_BASELINE_DELAY_MS="0", STACK_BACKEND="victoriametrics")
    try:
        up = subprocess.run([sys.executable, "-m", "stack", "up"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stdout + up.stderr
        assert "starting VictoriaMetrics" in up.stdout and "starting vmalert" in up.stdout
        settings = StackSettings.from_env(env)
        prometheus = read_stack_env(settings.stack_dir)["PROMETHEUS_URL"]
        assert prometheus == settings.url("prometheus")
        assert "VictoriaMetrics" in requests.get(prometheus + "/-/ready", timeout=5).text
        verify = subprocess.run(
            [sys.executable, "-m", "slo.cli", "verify-alerts", "--alert", "StackSmokeTest",
             "--expect", "firing", "--within", "60s"], env=env, cwd=REPO,
            capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        message = SandboxClient(settings.url("telegram-sandbox")).wait_for_message(
            contains="StackSmokeTest", timeout=40)
        assert "FIRING" in message["text"]
    finally:
        subprocess.run([sys.executable, "-m", "stack", "down"], env=env, cwd=REPO,
                       capture_output=True, check=False, timeout=60)
