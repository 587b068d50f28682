"""Judging services this project did not write, against a real Prometheus (1 s scrapes).

- Prometheus's own HTTP API (`prometheus_http_requests_total{code,handler}`,
  `prometheus_http_request_duration_seconds`) judged from a native spec, a Sloth spec and an
  OpenSLO document describing the same SLOs: identical verdicts and values.
- Every fail-closed case on real data: a label the metric lacks, a metric that does not exist,
  a latency threshold that is not a bucket, a window without events -> exit 2 naming the
  problem and the fix; `slo rules --prometheus` refuses to write rules for them.
- The cases that passed falsely before (issue 12, issue 11 item 1): an OpenSLO SLO matching
  `code=~"5.."` on the demo app (label `status`) during a 100% 503 outage was MET, exit 0; a
  counter born inside the window at its final value (a test exporter) counted 0 errors, MET.
"""

import json
import math
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, Counter, start_http_server

from harness_common.faults.client import FaultClient
from slo.alerting.generate import rules_path
from slo.cli import main
from stack.procs import free_port, wait_until
from tests.conftest import _start_app, start_prometheus_at

pytestmark = pytest.mark.integration
SETTLE_S = 2.5  # two 1 s scrapes after a window's end
QUERY_RANGE = "/api/v1/query_range"
SPECS = Path(__file__).parent / "specs"  # the same SLOs of Prometheus's API in three formats


class Stack:
    """The app, a test exporter and a Prometheus scraping them and itself."""

    def __init__(self, workdir: Path):
        self.app = _start_app(workdir / "app")
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "Requests handled.", ["code", "handler"],
                                registry=self.registry)
        self.ok = self.requests.labels(code="200", handler="/")
        exporter_port = free_port()
        self.exporter, _ = start_http_server(exporter_port, "127.0.0.1", self.registry)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "prometheus",
                 "static_configs": [{"targets": [f"127.0.0.1:{self.port}"]}]},
                {"job_name": "portfolio-app",
                 "static_configs": [{"targets": [f"127.0.0.1:{self.app.port}"]}]},
                {"job_name": "exporter",
                 "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]},
            ]}))
        self.prom = start_prometheus_at(config, workdir / "data", self.port,
                                        workdir / "prometheus.log")
        self.stop_ticking = threading.Event()
        threading.Thread(target=self._tick, daemon=True).start()
        # a handler with series but (later) no traffic: the empty-window case
        requests.get(self.url + "/api/v1/status/buildinfo", timeout=5)
        self.buildinfo_at = time.time()
        for job in ("prometheus", "portfolio-app", "exporter"):
            wait_until(lambda j=job: self.value(f'up{{job="{j}"}}') == 1.0, 30,
                       f"Prometheus to scrape {job}")
        self.scraped_at = time.time()  # a window from here on is observed from its start

    def _tick(self):
        while not self.stop_ticking.wait(0.1):
            self.ok.inc()

    def value(self, expr: str) -> float | None:
        result = requests.get(self.url + "/api/v1/query", params={"query": expr},
                              timeout=5).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        self.stop_ticking.set()
        self.prom.stop()
        self.exporter.shutdown()
        self.exporter.server_close()
        self.app.proc.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    started = Stack(tmp_path_factory.mktemp("any-service"))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api_window(stack):
    """6 s of traffic to Prometheus's query_range API: every fifth request is a 400."""
    stop = time.monotonic() + 6
    counts = {"ok": 0, "bad": 0}
    lock = threading.Lock()

    def loop():
        with requests.Session() as s:
            n = 0
            while time.monotonic() < stop:
                n += 1
                bad = n % 5 == 0
                params = {} if bad else {"query": "up", "start": time.time() - 60,
                                         "end": time.time(), "step": "15s"}
                status = s.get(stack.url + QUERY_RANGE, params=params, timeout=5).status_code
                assert status == (400 if bad else 200)
                with lock:
                    counts["bad" if bad else "ok"] += 1
                time.sleep(0.01)

    start = time.time()
    workers = [threading.Thread(target=loop) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    # whole seconds (the checker's range), at least 10: the range starts with the traffic
    end = start + max(11, math.ceil(time.time() - start))
    wait_until(lambda: time.time() > end + SETTLE_S, 30, "the window to settle")
    return start, end, counts


def check(tmp_path, stack, spec_text: str, start: float, end: float, name="spec.yaml",
          *extra) -> tuple[int, dict | None]:
    spec = tmp_path / name
    spec.write_text(textwrap.dedent(spec_text), encoding="utf-8")
    out = tmp_path / f"{name}.json"
    code = main(["check", "--spec", str(spec), "--prometheus", stack.url, "--start",
                 f"{start:.3f}", "--end", f"{end:.3f}", "--no-settle", "--json", str(out),
                 *extra])
    return code, (json.loads(out.read_text()) if out.exists() else None)


NATIVE = (SPECS / "prometheus-native.yaml").read_text(encoding="utf-8")

SLOTH = (SPECS / "prometheus-sloth.yaml").read_text(encoding="utf-8")

OPENSLO = (SPECS / "prometheus-openslo.yaml").read_text(encoding="utf-8")


def by_name(result: dict) -> dict:
    return {s["name"]: s for s in result["slos"]}


def test_prometheus_itself_judged_from_native_sloth_and_openslo_specs_agrees(
        stack, api_window, tmp_path):
    start, end, counts = api_window
    results = {}
    for name, text in (("native.yaml", NATIVE), ("sloth.yaml", SLOTH),
                       ("openslo.yaml", OPENSLO)):
        code, result = check(tmp_path, stack, text, start, end, name)
        results[name] = (code, by_name(result))
    native, sloth, openslo = (results[n][1] for n in ("native.yaml", "sloth.yaml",
                                                      "openslo.yaml"))
    # every fifth request was a 400: 20% errors against a 10% budget, in every format
    errors = native["query-errors"]
    assert errors["status"] == "violated" and abs(errors["value"] - 0.2) < 0.02, errors
    assert errors["total_events"] == pytest.approx(counts["ok"] + counts["bad"], rel=0.02)
    for other in (sloth, openslo):
        mine = other["query-errors"]
        assert (mine["status"], mine["value"], mine["total_events"]) == (
            errors["status"], errors["value"], errors["total_events"])
    # query_range answers in well under 400 ms: the slow share is 0 (the good share 1)
    assert native["query-slow"]["status"] == sloth["query-slow"]["status"] == "met"
    assert native["query-slow"]["value"] == sloth["query-slow"]["value"] == 0.0
    # an openslo/v1alpha objective is named as Sloth names it: <metadata.name>-<index>
    openslo["query-slow"] = openslo.pop("query-slow-0")
    assert openslo["query-slow"]["status"] == "met" and openslo["query-slow"]["value"] == 1.0
    assert (openslo["query-slow"]["total_events"] == native["query-slow"]["total_events"]
            == sloth["query-slow"]["total_events"])
    p99 = native["query-p99"]
    assert p99["status"] == openslo["query-p99"]["status"] == "met"
    assert p99["value"] == openslo["query-p99"]["value"] and p99["value_bounds"][1] <= 0.4
    assert {n: c for n, (c, _) in results.items()} == {
        "native.yaml": 1, "sloth.yaml": 1, "openslo.yaml": 1}


def test_a_status_label_the_metric_lacks_is_exit_2_naming_the_labels_and_the_setting(
        stack, api_window, tmp_path, capsys):
    """issue 12: a native spec pointed at a `code`-labelled metric counted 0 errors for ever."""
    start, end, _ = api_window
    wrong = NATIVE.replace("  preset: promhttp                    # code / handler labels\n",
                           "  route_label: handler\n")
    assert wrong != NATIVE
    code, result = check(tmp_path, stack, wrong, start, end)
    assert code == 2
    errors = by_name(result)["query-errors"]
    assert errors["status"] == "no_data" and errors["value"] is None
    assert errors["reason"] == (
        'prometheus_http_requests_total has no label "status" (labels seen: code, handler, '
        "instance, job); set prometheus.status_label (or prometheus.preset)")
    assert 'has no label "status"' in capsys.readouterr().out


def test_a_metric_that_does_not_exist_is_exit_2_naming_the_setting(stack, api_window, tmp_path):
    start, end, _ = api_window
    typo = NATIVE.replace("requests_metric: prometheus_http_requests_total",
                          "requests_metric: prometheus_http_request_total")
    code, result = check(tmp_path, stack, typo, start, end)
    assert code == 2
    reason = by_name(result)["query-errors"]["reason"]
    assert reason.startswith("prometheus_http_request_total has no series between ")
    assert reason.endswith(": check the metric name (prometheus.requests_metric) and that "
                           "Prometheus scrapes the service")


def scraped_last(stack) -> str:
    """A --last window Prometheus scraped throughout (as `slo check` requires, so does `slo
    rules --prometheus`: a window from before its first scrape is data beginning late)."""
    return f"{max(10, int(time.time() - stack.scraped_at) - 1)}s"


def test_a_threshold_inside_one_bucket_is_inconclusive_exit_2_and_rules_refuse_it(
        stack, api_window, tmp_path, capsys):
    """Prometheus's buckets are .1, .2, .4, 1, ...: a 50 ms threshold lies inside the first."""
    start, end, _ = api_window
    spec = NATIVE.replace("p(99) <= 400ms", "p(99) <= 50ms")
    code, result = check(tmp_path, stack, spec, start, end)
    p99 = by_name(result)["query-p99"]
    assert code == 1  # query-errors is violated; the p99 alone would be exit 2
    assert p99["status"] == "inconclusive" and p99["value_bounds"] == [0.0, 0.1]
    assert p99["reason"].startswith("inconclusive: p99 lies in 0–100 ms bucket, on both sides of "
                                    "the objective, and the threshold 50 ms is not a bucket")
    code, _ = check(tmp_path, stack, spec, start, end, "spec.yaml", "--slo", "query-p99")
    assert code == 2
    capsys.readouterr()
    out_dir = tmp_path / "rules"
    assert main(["rules", "--spec", str(tmp_path / "spec.yaml"), "--out-dir", str(out_dir),
                 "--prometheus", stack.url, "--last", scraped_last(stack)]) == 2
    output = capsys.readouterr().out
    assert "query-p99: prometheus_http_request_duration_seconds_bucket has no bucket at the 50 " \
           "ms threshold (le values seen: 0.1, 0.2, 0.4, 1, 3" in output
    assert not out_dir.exists(), "no rules are written"


def test_slo_rules_with_prometheus_writes_rules_when_every_selector_sees_data(
        stack, api_window, tmp_path, capsys):
    spec = tmp_path / "sloth.yaml"
    spec.write_text(textwrap.dedent(SLOTH), encoding="utf-8")
    out_dir = tmp_path / "rules"
    assert main(["rules", "--spec", str(spec), "--out-dir", str(out_dir), "--prometheus",
                 stack.url, "--last", scraped_last(stack)]) == 0
    assert "every selector sees data" in capsys.readouterr().out
    groups = yaml.safe_load((out_dir / rules_path("standard")).read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert {(a["alert"], a["labels"]["severity"]) for a in alerts} == {
        ("PrometheusQueryErrors", "critical"), ("SLOMetricAbsent", "critical")}
    assert {a["labels"]["owner"] for a in alerts} == {"observability"}


def test_a_window_in_which_the_service_had_no_events_is_exit_2(stack, api_window, tmp_path):
    # the series exists, but nothing happens after this (and Prometheus scrapes itself)
    start = max(stack.buildinfo_at + 1.5, stack.scraped_at)
    end = start + 10
    wait_until(lambda: time.time() > end + SETTLE_S, 30, "the window to pass")
    code, result = check(tmp_path, stack, """\
        version: slo-harness/v1
        service: prometheus
        prometheus: {preset: promhttp, job: prometheus,
                     requests_metric: prometheus_http_requests_total}
        slos:
          - {name: buildinfo, objective: ratio <= 1%, route: /api/v1/status/buildinfo}
        """, start, end)
    assert code == 2
    assert by_name(result)["buildinfo"]["reason"].startswith("no events in the window")


OPENSLO_APP = """\
    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: availability}
    spec:
      service: portfolio-app
      budgetingMethod: Occurrences
      timeWindow: [{duration: 30d, isRolling: true}]
      indicator:
        metadata: {name: errors}
        spec:
          ratioMetric:
            counter: true
            bad:
              metricSource:
                type: Prometheus
                spec: {query: 'app_requests_total{job="portfolio-app",code=~"5.."}'}
            total:
              metricSource:
                type: Prometheus
                spec: {query: 'app_requests_total{job="portfolio-app"}'}
      objectives: [{target: 0.99}]
    """


def outage(stack, path: str, probability: float, statuses: tuple[int, ...]
           ) -> tuple[float, float]:
    """5 s of requests to `path` on the app under an error fault (503 with `probability`),
    each answered with one of `statuses`; returns the window (start, end) of at least 10 s,
    once its last scrape is in."""
    app = stack.app
    faults = FaultClient(app.url, app.token)
    faults.set("error", status=503, probability=probability, ttl_s=60)
    try:
        start = time.time()
        stop = time.monotonic() + 5
        with requests.Session() as s:
            while time.monotonic() < stop:
                assert s.get(app.url + path, timeout=5).status_code in statuses
                time.sleep(0.02)
        end = max(time.time(), start + 10)
    finally:
        faults.clear()
    wait_until(lambda: time.time() > end + SETTLE_S, 30, "the window to settle")
    return start, end


def test_why_an_outage_judged_through_a_label_the_app_lacks_is_exit_2_not_met(stack, tmp_path):
    """issue 12: during a 100% 503 outage, this OpenSLO SLO (`code=~"5.."` on a metric
    labelled `status`) was judged "0.00% errors, MET", exit 0."""
    start, end = outage(stack, "/api/projects", 1.0, (503,))
    code, result = check(tmp_path, stack, OPENSLO_APP, start, end, "openslo.yaml")
    assert code == 2
    assert by_name(result)["availability"]["reason"] == (
        'app_requests_total has no label "code" (labels seen: endpoint, instance, job, method, '
        "status); fix spec.indicator.spec.ratioMetric.bad.metricSource.spec.query")
    # with the app's own label the same document sees the outage
    code, result = check(tmp_path, stack, OPENSLO_APP.replace('code=~"5.."', 'status=~"5.."'),
                         start, end, "right.yaml")
    availability = by_name(result)["availability"]
    assert code == 1 and availability["status"] == "violated" and availability["value"] > 0.5


def test_why_a_counter_born_inside_the_window_at_its_final_value_is_counted(stack, tmp_path):
    """issue 11, 1: nine 503s between two scrapes create the code="503" series already at 9;
    increase() saw 0 and the check said 0.00% errors, MET, exit 0."""
    start = time.time()
    time.sleep(3)
    stack.requests.labels(code="503", handler="/").inc(9)
    time.sleep(7)
    end = time.time()
    time.sleep(SETTLE_S)
    code, result = check(tmp_path, stack, """\
        version: slo-harness/v1
        service: exporter
        prometheus: {preset: promhttp, job: exporter}
        slos:
          - {name: errors, objective: ratio <= 1%}
        """, start, end)
    errors = by_name(result)["errors"]
    assert code == 1 and errors["status"] == "violated", errors
    assert errors["value"] * errors["total_events"] == pytest.approx(9, abs=1e-6)


@pytest.fixture(scope="module")
def half_outage(stack):
    """5 s of /api/projects/1 on the app with every other request a 503 (a 50% error fault);
    returns the window (start, end)."""
    return outage(stack, "/api/projects/1", 0.5, (200, 503))


def raw_errors(bad_endpoint: str, total: str = 'job="portfolio-app"') -> str:
    bad = f'job="portfolio-app", endpoint="{bad_endpoint}", status=~"5.."'
    return f"""\
        version: slo-harness/v1
        service: portfolio-app
        prometheus: {{job: portfolio-app}}
        slos:
          - name: api-errors
            objective: ratio <= 1%
            events:
              bad: sum(rate(app_requests_total{{{bad}}}[{{{{.window}}}}]))
              total: sum(rate(app_requests_total{{{total}}}[{{{{.window}}}}]))
        """


def test_why_an_error_query_whose_route_value_matches_nothing_is_exit_2_not_met(
        stack, half_outage, tmp_path):
    """A user's false verdict: a bad query on endpoint="/api/projects/<id>" (the route label
    is "<project_id>") counted 0 errors during a 50% 503 load: "0.00% MET", exit 0."""
    start, end = half_outage
    code, result = check(tmp_path, stack, raw_errors("/api/projects/<id>"), start, end)
    errors = by_name(result)["api-errors"]
    assert code == 2 and errors["status"] == "no_data", errors
    reason = errors["reason"]
    assert reason.startswith(
        'app_requests_total{job="portfolio-app",endpoint="/api/projects/<id>"} selects no series '
        "between "), reason
    assert ('no series has endpoint="/api/projects/<id>" (endpoint values seen: '
            "/api/projects/<project_id>, ") in reason, reason
    assert reason.endswith("; fix slos[0].events.bad (or, if nothing was sent there in the "
                           "window, judge a window with its traffic)"), reason
    # the route's real value sees the outage
    code, result = check(tmp_path, stack, raw_errors("/api/projects/<project_id>"), start, end,
                         "right.yaml")
    errors = by_name(result)["api-errors"]
    assert code == 1 and errors["status"] == "violated" and errors["value"] > 0.2, errors


def test_a_healthy_route_without_error_series_yet_is_judged_met(stack, half_outage, tmp_path):
    """A counter creates its status="500" series at the first 500: a route that never failed
    has no error series, and that alone is no reason to refuse the verdict."""
    start, end = half_outage
    code, result = check(tmp_path, stack, raw_errors(
        "/metrics", 'job="portfolio-app", endpoint="/metrics"'), start, end)
    errors = by_name(result)["api-errors"]
    assert code == 0 and errors["status"] == "met" and errors["value"] == 0.0, errors


def test_a_total_whose_route_value_matches_nothing_is_exit_2(stack, half_outage, tmp_path):
    start, end = half_outage
    code, result = check(tmp_path, stack, raw_errors(
        "/api/projects/<project_id>", 'job="portfolio-app", endpoint="/api/projects/<id>"'),
        start, end)
    errors = by_name(result)["api-errors"]
    assert code == 2 and errors["status"] == "no_data", errors
    assert errors["reason"].startswith(  # the total's matcher, named (before: "no events")
        'app_requests_total{job="portfolio-app",endpoint="/api/projects/<id>"} selects no '
        "series between "), errors
    assert 'no series has endpoint="/api/projects/<id>" (endpoint values seen: ' \
           "/api/projects/<project_id>" in errors["reason"], errors


STATUS_IN_METHOD = """\
    version: slo-harness/v1
    service: portfolio-app
    prometheus: {job: portfolio-app, status_label: method}
    slos:
      - {name: errs, objective: ratio <= 1%}
      - {name: ok, objective: availability >= 99%}
    """


def test_why_a_status_label_holding_no_status_codes_is_exit_2_not_met(
        stack, half_outage, tmp_path):
    """A user's false verdict: `status_label: method` over a 50%-error window: "errs 0.00%
    MET", exit 0 (error_status was tested against codes 100-599, never against GET, POST)."""
    start, end = half_outage
    code, result = check(tmp_path, stack, STATUS_IN_METHOD, start, end)
    assert code == 2
    for name in ("errs", "ok"):
        verdict = by_name(result)[name]
        assert verdict["status"] == "no_data", verdict
        assert verdict["reason"].startswith(
            'app_requests_total: the label "method" holds no status code between '), verdict
        values = verdict["reason"].split("(values seen: ")[1].split(")")[0].split(", ")
        assert "GET" in values and not set(values) & {"200", "503"}, verdict
        assert verdict["reason"].endswith(
            "), so it cannot tell an error from a success; set "
            "prometheus.status_label (or prometheus.preset) to the label holding the status "
            'code (a label of app_requests_total named like one: "status")'), verdict
    # the app's own status label sees the outage
    code, result = check(tmp_path, stack, STATUS_IN_METHOD.replace("status_label: method",
                                                                   "status_label: status"),
                         start, end, "right.yaml")
    assert code == 1 and by_name(result)["errs"]["status"] == "violated"
