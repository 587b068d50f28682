"""The SLO tab's Cockpit for real: the demo app behind the fault proxy (Envoy), Prometheus
scraping both, a 20 % 503 fault on the proxy. The service's own metrics count no error (the
proxy answered the faulted requests itself), so the tab's error-ratio is BLIND, whether it
learns of the fault from the fault API or only from Envoy's counters; the window before the
fault stays judged."""

import threading
import time
from pathlib import Path

import pytest
import requests

from harness_common.faults.client import FaultClient
from loadtests.chaos import ChaosController
from slo.cockpit.snapshot import Cockpit
from slo.cockpit.tab import window_faults
from slo.judge.prom import Prometheus
from slo.spec import load_spec
from stack.procs import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
OWN = load_spec(REPO / "slo" / "slos.yaml")


def _status(cockpit: Cockpit, name: str) -> dict:
    return next(s for s in cockpit.snapshot()["slos"] if s["name"] == name)


def test_a_proxy_fault_blinds_the_live_error_ratio_on_the_apps_metrics(
        start_app, start_proxy, start_prometheus):
    app = start_app()
    proxy = start_proxy(app.url)
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"],
                             "envoy": [proxy.admin_url.removeprefix("http://")]},
                            metrics_paths={"envoy": "/stats/prometheus"})
    codes: list[int] = []
    stop = threading.Event()

    def load():
        session = requests.Session()
        while not stop.is_set():
            codes.append(session.get(proxy.url + "/", timeout=5).status_code)
            time.sleep(0.02)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    faults = FaultClient(proxy.control_url, proxy.token, backend="proxy")
    try:
        wait_until(lambda: Prometheus(prom.url).scalar(
            'sum(app_requests_total{job="portfolio-app"})', time.time()) or 0, 15,
            "Prometheus's first scrape of the app")
        time.sleep(23)                    # a whole 20 s live window (fast profile) of traffic
        healthy_at = time.time()
        before = Cockpit(OWN, prom.url, "fast", clock=lambda: healthy_at)
        assert _status(before, "error-ratio")["status"] == "pass"
        faults.set("error", status=503, probability=0.2, ttl_s=60)
        time.sleep(10)
        time.sleep(2)                     # the scrapes of the window's last seconds
        chaos = ChaosController(lambda: faults)
        listed = Cockpit(OWN, prom.url, "fast",
                         faults=lambda start, end: window_faults(chaos, start, end))
        counted = Cockpit(OWN, prom.url, "fast")          # no fault API: Envoy's counters
        earlier = Cockpit(OWN, prom.url, "fast", clock=lambda: healthy_at)
        seen_listed = _status(listed, "error-ratio")
        seen_counted = _status(counted, "error-ratio")
        seen_earlier = _status(earlier, "error-ratio")
    finally:
        stop.set()
        worker.join(10)
        faults.clear()
    assert codes.count(503) > 0                             # the clients saw the fault
    assert seen_listed["status"] == "blind", seen_listed
    assert "on now at the proxy fault backend" in seen_listed["reason"]
    assert "preset `envoy`" in seen_listed["reason"]
    assert seen_counted["status"] == "blind", seen_counted
    assert "requests error-faulted by the proxy" in seen_counted["reason"]
    assert seen_earlier["status"] == "pass", seen_earlier   # a fault after the window
