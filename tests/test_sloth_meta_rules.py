"""Sloth's meta recordings in the generated rules, with Sloth's names and labels (issue 21
item 5): Sloth's published Grafana dashboards read slo:sli_error:ratio_rate30d,
slo:current_burn_rate:ratio, slo:period_burn_rate:ratio,
slo:period_error_budget_remaining:ratio, slo:time_period:days and sloth_slo_info, selected by
sloth_id / sloth_service / sloth_slo (and sloth_window). promtool checks every file generated
from the upstream-shaped specs, and a real Prometheus evaluates the recordings.
"""

import json
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from slo.alerting.burnrate import PROFILES
from slo.alerting.rules import render_rules
from slo.spec import load_spec, parse_spec
from stack.procs import wait_until
from tests.helpers import promtool
from tests.test_upstream_specs import ACCEPTED, UPSTREAM

# What Sloth emits for one SLO (its examples/_gen/getting-started.yml): record -> the labels it
# carries besides the spec's own (owner, tier, ...).
SLOTH_IDS = {"sloth_id", "sloth_service", "sloth_slo"}
SLOTH_RECORDS = {
    **{f"slo:sli_error:ratio_rate{w}": SLOTH_IDS | {"sloth_window"}
       for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d")},
    "slo:objective:ratio": SLOTH_IDS,
    "slo:error_budget:ratio": SLOTH_IDS,
    "slo:time_period:days": SLOTH_IDS,
    "slo:current_burn_rate:ratio": SLOTH_IDS,
    "slo:period_burn_rate:ratio": SLOTH_IDS,
    "slo:period_error_budget_remaining:ratio": SLOTH_IDS,
    "sloth_slo_info": SLOTH_IDS | {"sloth_mode", "sloth_objective"},
}


def records(spec, profile: str = "standard") -> dict[str, dict]:
    doc = yaml.safe_load(render_rules(spec, PROFILES[profile], "spec.yml"))
    return {r["record"]: r for g in doc["groups"] for r in g["rules"] if "record" in r}


def test_every_record_sloth_emits_is_emitted_with_sloths_labels():
    spec = load_spec(UPSTREAM / "sloth/getting-started.yml")
    got = records(spec)
    assert set(got) == set(SLOTH_RECORDS)
    for name, keys in SLOTH_RECORDS.items():
        labels = got[name]["labels"]
        assert keys <= set(labels), name
        assert (labels["sloth_id"], labels["sloth_service"], labels["sloth_slo"]) == (
            "shop-checkout-availability", "shop", "checkout-availability"), name
        assert (labels["owner"], labels["tier"]) == ("payments", "1"), name
    assert got["slo:sli_error:ratio_rate1h"]["labels"]["sloth_window"] == "1h"
    assert got["slo:sli_error:ratio_rate30d"]["labels"]["sloth_window"] == "30d"
    assert got["slo:time_period:days"]["expr"] == "vector(30)"
    assert got["sloth_slo_info"]["labels"]["sloth_objective"] == "99.5"


def test_the_period_ratio_is_sloths_mean_of_the_shortest_window_over_the_period():
    spec = load_spec(UPSTREAM / "sloth/getting-started.yml")
    ids = ('{sloth_id="shop-checkout-availability",sloth_service="shop",'
           'sloth_slo="checkout-availability"}')
    assert records(spec)["slo:sli_error:ratio_rate30d"]["expr"] == (
        f"sum_over_time(slo:sli_error:ratio_rate5m{ids}[30d])\n"
        "/ ignoring (window, sloth_window)\n"
        f"count_over_time(slo:sli_error:ratio_rate5m{ids}[30d])\n")
    assert records(spec)["slo:period_burn_rate:ratio"]["expr"] == (
        f"slo:sli_error:ratio_rate30d{ids}\n"
        "/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
        f"slo:error_budget:ratio{ids}\n")


def test_a_multi_service_file_gets_sloths_ids_per_service():
    spec = load_spec(UPSTREAM / "sloth/multifile.yml")
    doc = yaml.safe_load(render_rules(spec, PROFILES["standard"], "multifile.yml"))
    infos = sorted((r["labels"]["sloth_id"], r["labels"]["sloth_service"], r["labels"]["sloth_slo"])
                   for g in doc["groups"] for r in g["rules"]
                   if r.get("record") == "sloth_slo_info")
    assert infos == [("cart-requests-availability", "cart", "requests-availability"),
                     ("shop-requests-availability", "shop", "requests-availability")]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_promtool_accepts_the_rules_of_every_accepted_upstream_shaped_file(tmp_path, profile):
    files = []
    for name, _ in ACCEPTED:
        path = tmp_path / (name.replace("/", "-") + ".rules.yml")
        path.write_text(render_rules(load_spec(UPSTREAM / name), PROFILES[profile], name),
                        encoding="utf-8")
        files.append(str(path))
    result = subprocess.run([promtool(), "check", "rules", *files], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files)


# ---- a real Prometheus evaluates them ----------------------------------------------------------

SPEC = """\
version: prometheus/v1
service: shop
labels: {owner: payments}
slos:
  - name: checkout-availability
    objective: 99
    sli:
      events:
        error_query: sum(rate(shop_requests_total{status="500"}[{{.window}}]))
        total_query: sum(rate(shop_requests_total[{{.window}}]))
    alerting: {name: ShopCheckoutErrors}
"""


class _Counters(BaseHTTPRequestHandler):
    """/metrics: 199 good and 1 bad request a second since start (0.5% errors)."""

    started = time.monotonic()

    def do_GET(self):  # noqa: N802 - http.server's name
        t = time.monotonic() - self.started
        body = ("# TYPE shop_requests_total counter\n"
                f'shop_requests_total{{status="200"}} {199 * t:.3f}\n'
                f'shop_requests_total{{status="500"}} {1 * t:.3f}\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _query(url: str, expr: str) -> list[dict]:
    q = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{q}", timeout=5) as resp:  # noqa: S310
        return json.load(resp)["data"]["result"]


def test_the_meta_recordings_evaluate_in_prometheus_under_sloths_names(tmp_path,
                                                                        start_prometheus):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counters)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        rules = tmp_path / "rules.yml"
        rules.write_text(render_rules(parse_spec(SPEC, "shop.yml"), PROFILES["fast"],
                                      "shop.yml"), encoding="utf-8")
        prom = start_prometheus({"shop": [f"127.0.0.1:{server.server_port}"]},
                                rule_files=[rules])
        ids = 'sloth_id="shop-checkout-availability",sloth_service="shop",' \
              'sloth_slo="checkout-availability"'
        # Sloth's dashboards select by its labels only
        remaining = f"slo:period_error_budget_remaining:ratio{{{ids}}}"
        wait_until(lambda: _query(prom.url, remaining), 60, remaining, interval=0.5,
                   proc=prom.proc)

        def value(expr: str) -> float:
            (sample,) = _query(prom.url, expr)
            return float(sample["value"][1])

        assert value(f"slo:current_burn_rate:ratio{{{ids}}}") == pytest.approx(0.5, rel=0.02)
        assert value(f"slo:period_burn_rate:ratio{{{ids}}}") == pytest.approx(0.5, rel=0.02)
        assert value(remaining) == pytest.approx(0.5, rel=0.02)
        assert value(f"slo:sli_error:ratio_rate12h{{{ids},sloth_window=\"12h\"}}") == (
            pytest.approx(0.005, rel=0.02))
        assert value(f"slo:objective:ratio{{{ids}}}") == pytest.approx(0.99)
        assert value(f"slo:error_budget:ratio{{{ids}}}") == pytest.approx(0.01)
        # the fast profile compresses the 30-day period 60x: 12 hours
        assert value(f"slo:time_period:days{{{ids}}}") == pytest.approx(0.5)
        (info,) = _query(prom.url, "sloth_slo_info")
        assert info["metric"] | {"owner": "payments"} == info["metric"]
        assert {k: info["metric"][k] for k in ("sloth_id", "sloth_service", "sloth_slo",
                                               "sloth_objective")} == {
            "sloth_id": "shop-checkout-availability", "sloth_service": "shop",
            "sloth_slo": "checkout-availability", "sloth_objective": "99"}
    finally:
        server.shutdown()
        server.server_close()


def test_the_rules_file_stays_small_enough_to_read(tmp_path):
    # the meta recordings add 6 rules an SLO; the committed default spec's file stays one
    # Prometheus rule file (a guard against a loop emitting them per window)
    spec = load_spec(Path(__file__).parents[1] / "slo" / "slos.yaml")
    text = render_rules(spec, PROFILES["standard"], "slos.yaml")
    assert text.count("record: sloth_slo_info") == sum(
        1 for s in spec.slos if s.error_budget is not None)
