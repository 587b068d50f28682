"""How `slo check` counts events, against a real Prometheus holding exactly known samples
(a TSDB built by promtool from OpenMetrics text: every sample's time and value is the test's).

issue 20, Why 6: the app restarted, a 6 s settle, then an 11 s window holding 60 good
requests, forty 503s (a 100 % fault) and 60 good. Prometheus scrapes every 5 s: the 503
counter is at 0 at the scrape 3.8 s before the window's start and at 40 at the one 1.2 s after
it. increase() over the window sees only the samples inside it: `error ratio 0.00 %, MET`,
exit 0. Counted from the last scrape at or before the start: 40 errors of 160, violated — the
same in every format a spec may be written in (preset, raw queries, Sloth, OpenSLO good/total
of bare counters), each counting good, bad and total alike and exactly.

issue 20, Why 5 (a healthy window judged violated), against a real Prometheus scraping a real
exporter: a failed scrape just before the window's start made every series look born inside
it, so requests from long before counted as the window's.
"""

import json
import textwrap
import time

import pytest

from slo.cli import main
from slo.judge.counting import iso_tenths
from tests.conftest import prometheus_on_samples

pytestmark = pytest.mark.integration

# the new process's first scrape, on the hour 3 h ago (the TSDB holds only these samples)
T0 = float(int(time.time()) // 3600 * 3600 - 3 * 3600)
START = T0 + 8.8  # the window: the scrape at T0 + 5 is 3.8 s before its start...
END = START + 11  # ...the one at T0 + 10 is 1.2 s after it; the last inside it is at T0 + 15
LABELS = 'job="portfolio-app",instance="app:5000",method="GET",endpoint="/"'


def openmetrics() -> str:
    """The app before and after its restart, scraped every 5 s: the old process up to T0 - 5
    (500 good requests, 7 errors), the new one from T0 with every counter at 0; 60 good and
    40 503s by T0 + 10, 60 more good by T0 + 15, then 10 good per scrape up to T0 + 60."""
    scrapes: list[tuple[float, int, int]] = []  # (time, good, 503)
    scrapes += [(T0 - 60 + 5 * i, 500, 7) for i in range(12)]
    scrapes += [(T0, 0, 0), (T0 + 5, 0, 0), (T0 + 10, 60, 40), (T0 + 15, 120, 40)]
    scrapes += [(T0 + 15 + 5 * i, 120 + 10 * i, 40) for i in range(1, 10)]
    lines = ["# TYPE up gauge"]
    lines += [f'up{{job="portfolio-app",instance="app:5000"}} 1 {t:.3f}' for t, _, _ in scrapes]
    lines.append("# TYPE app_requests counter")
    for status in ("200", "500", "503"):
        for t, good, bad in scrapes:
            value = good if status == "200" else bad if status == "503" else 0
            lines.append(f'app_requests_total{{{LABELS},status="{status}"}} {value} {t:.3f}')
    return "\n".join(lines) + "\n# EOF\n"


PRESET = """\
    version: slo-harness/v1
    service: portfolio-app
    prometheus: {job: portfolio-app, requests_metric: app_requests_total}
    slos:
      - {name: errors, objective: ratio <= 1%}
      - {name: availability, kind: availability, objective_percent: 99}
      - {name: throughput, objective: rate >= 1/s}
    """

RAW = """\
    version: slo-harness/v1
    service: portfolio-app
    prometheus: {job: portfolio-app}
    slos:
      - name: errors
        objective: ratio <= 1%
        events:
          bad: sum(rate(app_requests_total{job="portfolio-app",status=~"5.."}[{{.window}}]))
          total: sum(rate(app_requests_total{job="portfolio-app"}[{{.window}}]))
    """

SLOTH = """\
    version: prometheus/v1
    service: portfolio-app
    slos:
      - name: errors
        objective: 99
        sli:
          events:
            error_query: >-
              sum(rate(app_requests_total{job="portfolio-app",status=~"5.."}[{{.window}}]))
            total_query: sum(rate(app_requests_total{job="portfolio-app"}[{{.window}}]))
        alerting: {page_alert: {disable: true}, ticket_alert: {disable: true}}
    """

OPENSLO = """\
    apiVersion: openslo/v1
    kind: SLO
    metadata: {name: errors}
    spec:
      service: portfolio-app
      budgetingMethod: Occurrences
      timeWindow: [{duration: 30d, isRolling: true}]
      indicator:
        metadata: {name: good-requests}
        spec:
          ratioMetric:
            counter: true
            good:
              metricSource:
                type: Prometheus
                spec: {query: 'sum(app_requests_total{job="portfolio-app",status!~"5.."})'}
            total:
              metricSource:
                type: Prometheus
                spec: {query: 'sum(app_requests_total{job="portfolio-app"})'}
      objectives: [{target: 0.99}]
    """


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A real Prometheus on the samples above (module-wide: it only answers queries)."""
    server = prometheus_on_samples(tmp_path_factory.mktemp("counting"), openmetrics())
    yield server
    server.proc.stop()


def check(tmp_path, prometheus, spec_text: str, start: float, end: float,
          name: str = "spec.yaml") -> tuple[int, dict]:
    spec = tmp_path / name
    spec.write_text(textwrap.dedent(spec_text), encoding="utf-8")
    out = tmp_path / f"{name}.json"
    code = main(["check", "--spec", str(spec), "--prometheus", prometheus.url, "--start",
                 f"{start:.3f}", "--end", f"{end:.3f}", "--no-settle", "--json", str(out)])
    return code, {s["name"]: s for s in json.loads(out.read_text())["slos"]}


def test_why_forty_errors_before_the_first_scrape_inside_the_window_were_dropped(
        tmp_path, prometheus):
    """issue 20, Why 6: `error ratio 0.00 %, MET`, exit 0. Now 40 errors of 160 requests,
    violated, and the verdict says which scrapes the count ran between."""
    code, slos = check(tmp_path, prometheus, PRESET, START, END)
    errors, availability, throughput = slos["errors"], slos["availability"], slos["throughput"]
    assert code == 1 and errors["status"] == "violated", errors
    assert (errors["total_events"], errors["value"]) == (160, 0.25), errors
    assert (availability["status"], availability["value"]) == ("violated", 0.75), availability
    assert errors["notes"][0] == (
        f"events counted from the scrape at {iso_tenths(T0 + 5)} (3.8 s before the window's "
        f"start) to the scrape at {iso_tenths(T0 + 15)} (4.8 s before its end): a request "
        "counts in the window holding the first scrape after it")
    # 160 requests between two scrapes 10 s apart
    assert (throughput["status"], throughput["value"]) == ("met", 16.0), throughput


@pytest.mark.parametrize(("name", "spec"), [("raw.yaml", RAW), ("sloth.yaml", SLOTH),
                                            ("openslo.yaml", OPENSLO)])
def test_every_format_counts_the_same_forty_errors_of_160(tmp_path, prometheus, name, spec):
    code, slos = check(tmp_path, prometheus, spec, START, END, name)
    errors = slos["errors"]
    assert code == 1 and errors["status"] == "violated", errors
    assert errors["total_events"] == 160, errors
    bad = errors["value"] if name != "openslo.yaml" else 1 - errors["value"]
    assert bad == 0.25 and errors["good_fraction"] == 0.75, errors


@pytest.mark.parametrize(("name", "spec"), [("preset.yaml", PRESET), ("raw.yaml", RAW),
                                            ("sloth.yaml", SLOTH), ("openslo.yaml", OPENSLO)])
def test_a_window_without_a_failed_request_is_100_percent_good_in_every_format(
        tmp_path, prometheus, name, spec):
    """Good, bad and total counted alike and exactly: 60 requests between the scrapes at
    T0 + 20 and T0 + 50, none failed (increase() extrapolated them to 62)."""
    code, slos = check(tmp_path, prometheus, spec, T0 + 22, T0 + 53, name)
    errors = slos["errors"]
    assert code == 0 and errors["status"] == "met", errors
    assert (errors["total_events"], errors["good_fraction"]) == (60, 1.0), errors


EXPORTER_SLO = OPENSLO.replace('app_requests_total{job="portfolio-app",status!~"5.."}',
                               'http_requests_total{job="exporter",code!~"5.."}').replace(
    'app_requests_total{job="portfolio-app"}', 'http_requests_total{job="exporter"}').replace(
    "service: portfolio-app", "service: exporter")


def test_why_a_healthy_window_starting_on_a_failed_scrape_was_judged_violated(
        tmp_path, start_prometheus):
    """issue 20, Why 5 (a healthy run judged violated): good and total must count the same
    requests. A real Prometheus scrapes a real exporter every second; forty 503s long before
    the window, none in it. One scrape fails (Prometheus marks every series stale) and the
    window starts just after it: every series looked born inside the window and counted from
    zero, the forty old 503s and every request since the process started as the window's own
    (VIOLATED, exit 1). Counted from its last sample before the start: 100 % good."""
    from prometheus_client import CollectorRegistry, Counter, start_http_server

    from slo.judge.prom import Prometheus
    from stack.procs import free_port, wait_until

    registry = CollectorRegistry()
    counter = Counter("http_requests", "Requests handled.", ["code", "handler"],
                      registry=registry)
    counter.labels(code="503", handler="/").inc(40)
    ok = counter.labels(code="200", handler="/")
    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry)
    prom = start_prometheus({"exporter": [f"127.0.0.1:{port}"]})
    api = Prometheus(prom.url)
    scrapes = 'count_over_time(up{job="exporter"}[1m])'
    try:
        wait_until(lambda: (api.scalar(scrapes, time.time()) or 0) >= 4, 30, "four scrapes")
        for _ in range(20):
            ok.inc(5)
            time.sleep(0.1)
        server.shutdown()   # the next scrape fails...
        server.server_close()
        failed = 'max_over_time(timestamp(up{job="exporter"} == 0)[10s:100ms])'
        wait_until(lambda: api.scalar(failed, time.time()) is not None, 10, "a failed scrape")
        failed_at = api.scalar(failed, time.time())
        server, _ = start_http_server(port, "127.0.0.1", registry)  # ...the ones after do not
        for _ in range(110):
            ok.inc(5)
            time.sleep(0.1)
        start = failed_at + 0.05
        end = start + 10
        wait_until(lambda: time.time() > end + 2.5, 30, "the window to settle")
        code, slos = check(tmp_path, prom, EXPORTER_SLO, start, end)
    finally:
        server.shutdown()
        server.server_close()
    errors = slos["errors"]
    assert code == 0 and errors["status"] == "met", errors
    assert errors["value"] == 1.0 and errors["good_fraction"] == 1.0, errors
    assert errors["total_events"] == int(errors["total_events"]) > 0, errors


def test_a_restart_inside_the_window_is_counted_by_increase_and_said(tmp_path, prometheus):
    """The window holds the restart (the old process's 7 errors and 500 requests, then the
    new one's from zero): the samples do not hold the exact count across it, the verdict says
    which series were counted by increase() instead."""
    code, slos = check(tmp_path, prometheus, PRESET, T0 - 30, T0 + 20)
    errors = slos["errors"]
    assert code == 1 and errors["status"] == "violated", errors
    assert errors["value"] * errors["total_events"] >= 40, errors
    assert errors["notes"][1] == (
        '2 series of app_requests_total (job "portfolio-app") reset inside the window (the '
        "service restarted): the samples do not hold their exact count across a restart, so "
        "each is counted by Prometheus's increase() from its first sample in the window, "
        "extrapolated to the window's edges")
