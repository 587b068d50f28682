"""Every PromQL expression Grafana is provisioned with (dashboards, annotations, alert rules)
runs against a real Prometheus scraping the real app, and returns data after a burst of
traffic with faults on (so error, fault and SLO series exist)."""

import time

import pytest
import requests

from harness_common.faults.client import FaultClient
from stack.grafana.exprs import all_exprs
from tests.conftest import REPO

pytestmark = pytest.mark.integration

# Expressions that may be empty by design while the app is up ({source prefix: why}).
EMPTY_BY_DESIGN: dict[str, str] = {}


def query(prom_url: str, expr: str) -> dict:
    resp = requests.get(prom_url + "/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]


def test_every_grafana_expression_runs_and_returns_data(start_app, start_prometheus):
    app = start_app()
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"]},
                            rule_files=[REPO / "stack/prometheus/rules/slo-fast.yml"])
    faults = FaultClient(app.url, app.token)
    faults.set("error", probability=0.3, ttl_s=60)
    faults.set("latency", delay_ms=50, ttl_s=60, routes=["/api/*"])
    with requests.Session() as s:
        stop = time.monotonic() + 8
        while time.monotonic() < stop:
            for path in ("/", "/api/projects", "/api/projects/1"):
                s.get(app.url + path, timeout=5)
    exprs = all_exprs()
    assert len(exprs) >= 15

    def still_empty():
        # rule groups (one per SLO, every 5 s in the fast profile) start at different offsets
        return [(source, expr) for source, expr in exprs
                if not any(source.startswith(k) for k in EMPTY_BY_DESIGN)
                and not query(prom.url, expr)["result"]]

    deadline = time.monotonic() + 30
    while (empty := still_empty()) and time.monotonic() < deadline:
        time.sleep(1)
    faults.clear()
    assert empty == [], "\n".join(f"{s}: {e}" for s, e in empty)
