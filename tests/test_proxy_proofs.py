"""Proof on services this project did not write, judged by Envoy's metrics (slow: `make
test-proxy`, about 4 minutes).

1. `python -m http.server` behind the fault proxy, a real Prometheus (1 s scrape and rule
   evaluation) and the checker over each window, reading Envoy's own series through the spec's
   `envoy` preset: a 300 ms delay violates the p95 SLO with the measured p95 within 10 % of
   the delay; a 10 % error fault gives an error ratio within 3 points of 10 %; clearing either
   meets the SLOs again.
2. The stack's own Prometheus HTTP API behind the proxy: the shipped experiment
   slo/experiments/envoy-prometheus.yaml, run by `slo run` on a private native stack with
   TARGET_URL pointing at that stack's Prometheus, holds every expectation, with the same
   bounds on the measured values.
(A SIGKILLed setter leaving no fault past its TTL is proven in make test:
tests/test_proxy_integration.py.)
"""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from harness_common.faults.client import FaultClient
from slo.judge.observe import evaluate
from slo.judge.prom import Prometheus
from slo.judge.window import Window
from slo.spec import load_spec
from stack.config import private_stack_env

pytestmark = [pytest.mark.slow, pytest.mark.integration]
REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "specs" / "envoy-proxied.yaml")
DELAY_S = 0.3
SETTLE_S = 3.0     # Envoy's histogram flush (1 s) + scrape (1 s) + rule evaluation (1 s)
WINDOW_S = 12.0


class Load:
    """A few threads requesting `url` with keep-alive connections until stopped."""

    def __init__(self, url: str, threads: int = 4, pause_s: float = 0.02):
        self.url, self.pause_s = url, pause_s
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(threads)]

    def loop(self):
        with requests.Session() as session:
            while not self.stop.is_set():
                try:
                    session.get(self.url, timeout=5).close()
                except requests.RequestException:
                    pass
                self.stop.wait(self.pause_s)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def judge(prom_url: str) -> dict:
    """Settle, judge the next WINDOW_S seconds, return {slo name: verdict}."""
    time.sleep(SETTLE_S)
    start = time.time()
    time.sleep(WINDOW_S)
    end = time.time()
    time.sleep(SETTLE_S)  # the window's last samples are recorded
    result = evaluate(SPEC, Prometheus(prom_url), Window(start, end, "proof"))
    return {v.name: v for v in result.verdicts}


def test_http_server_behind_envoy_delay_and_errors_are_measured_and_cleared(
        static_server, start_proxy, start_prometheus):
    proxy = start_proxy(static_server.url)
    admin = proxy.admin_url.removeprefix("http://")
    prom = start_prometheus({"envoy": [admin]},
                            metrics_paths={"envoy": "/stats/prometheus"})
    faults = FaultClient(proxy.control_url, proxy.token, backend="proxy")
    with Load(proxy.url + "/"):
        baseline = judge(prom.url)
        faults.set("latency", delay_ms=int(DELAY_S * 1000), ttl_s=120)
        delayed = judge(prom.url)
        faults.clear("latency")
        after_delay = judge(prom.url)
        faults.set("error", status=503, probability=0.1, ttl_s=120)
        erroring = judge(prom.url)
        faults.clear()
        after_errors = judge(prom.url)
    assert {n: v.status for n, v in baseline.items()} == {
        "latency-p95": "met", "error-ratio": "met", "throughput": "met"}
    p95 = delayed["latency-p95"]
    assert p95.status == "violated"
    assert abs(p95.value - DELAY_S) <= 0.1 * DELAY_S, p95.value
    assert after_delay["latency-p95"].status == "met"
    ratio = erroring["error-ratio"]
    assert ratio.status == "violated" and ratio.total_events >= 1000
    assert abs(ratio.value - 0.10) <= 0.03, ratio.value
    assert erroring["latency-p95"].status == "met"
    assert after_errors["error-ratio"].status == "met"
    assert after_errors["latency-p95"].status == "met"
    print(f"\nhttp.server behind Envoy: p95 baseline {baseline['latency-p95'].value * 1000:.1f} "
          f"ms, under a {DELAY_S * 1000:.0f} ms delay {p95.value * 1000:.1f} ms; error ratio "
          f"under a 10% fault {ratio.value:.2%} of {ratio.total_events:.0f} requests")


def test_the_stacks_own_prometheus_behind_envoy_passes_the_shipped_experiment(tmp_path):
    env = private_stack_env(tmp_path / "stack")
    env["TARGET_URL"] = f"http://127.0.0.1:{env['PROMETHEUS_PORT']}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "slo.cli", "run", "slo/experiments/envoy-prometheus.yaml",
             "--reports-dir", str(tmp_path / "reports"), "--run-id", "envoy", "--no-live"],
            env=env, cwd=REPO, capture_output=True, text=True, timeout=420, check=False)
    finally:
        subprocess.run([sys.executable, "-m", "stack", "down"], env=env, cwd=REPO,
                       capture_output=True, timeout=60, check=False)
    summary = json.loads((tmp_path / "reports" / "envoy" / "summary.json").read_text())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert summary["status"] == "passed"
    slos = {(p["name"], s["name"]): s for p in summary["phases"] for s in p["slos"]}
    p95 = slos[("delay", "latency-p95")]
    assert p95["status"] == "violated" and abs(p95["value"] - DELAY_S) <= 0.1 * DELAY_S
    ratio = slos[("errors", "error-ratio")]
    assert ratio["status"] == "violated" and abs(ratio["value"] - 0.10) <= 0.03
    assert slos[("error-recovery", "error-ratio")]["status"] == "met"
    assert slos[("delay-recovery", "latency-p95")]["status"] == "met"
    assert summary["rollback"]["ok"] and summary["rollback"]["faults_left"] == []
    print(f"\nshipped experiment: p95 under a {DELAY_S * 1000:.0f} ms delay "
          f"{p95['value'] * 1000:.1f} ms; error ratio under a 10% fault {ratio['value']:.2%}")
