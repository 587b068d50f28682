"""`slo rules --prometheus` proves what `slo check` proves (issue 21 item 4), on real data.

A real demo app (and a second one, stopped mid-test) scraped every second by a real
Prometheus. Each spec below reads data `slo check` refuses to judge on the same window; before,
`slo rules --prometheus` said "every selector sees data" and exit 0 for each:

- a route typo (`/api/wrok`): its selector matches no series at all
- a URL where the label holds route templates (`/api/projects/7`, the label holds
  `/api/projects/<project_id>`; a Django label holding view names is the same case)
- a metric whose last sample is older than a few scrape intervals (its target stopped)

and a spec whose every selector sees data is written, exit 0 (never cry wolf).
"""

import textwrap
import threading
import time

import pytest
import requests

from slo.cli import main
from stack.procs import wait_until
from tests.conftest import _start_app, launch_prometheus

pytestmark = pytest.mark.integration

SPEC = """\
    version: slo-harness/v1
    service: portfolio-app
    prometheus:
      job: {job}
      requests_metric: app_requests_total
      duration_metric: app_request_duration_seconds
    slos:
      - name: {name}-availability
        kind: availability
        selector: 'endpoint="{route}"'
        objective_percent: 99
      - name: {name}-fast
        kind: latency_ratio
        selector: 'endpoint="{route}"'
        threshold_ms: 300
        objective_percent: 95
    """


class Demo:
    """Two demo apps under traffic, both scraped; `stop_second()` stops the second."""

    def __init__(self, workdir):
        self.app = _start_app(workdir / "app")
        self.second = _start_app(workdir / "second")
        self.prom = launch_prometheus(workdir / "prometheus", {
            "portfolio-app": [f"127.0.0.1:{self.app.port}"],
            "second-app": [f"127.0.0.1:{self.second.port}"]})
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._traffic, args=(s.url,), daemon=True)
                        for s in (self.app, self.second)]
        for t in self.threads:
            t.start()
        for job in ("portfolio-app", "second-app"):
            wait_until(lambda j=job: self.up(j) == 1.0, 30, f"Prometheus to scrape {job}")
        self.ready_at = time.time()

    def _traffic(self, url):
        with requests.Session() as s:
            while not self.stopping.wait(0.05):
                for path in ("/", "/api/projects", "/api/projects/1"):
                    try:
                        s.get(url + path, timeout=5)
                    except requests.RequestException:
                        pass  # the second app is stopped on purpose

    def up(self, job: str) -> float | None:
        result = requests.get(self.prom.url + "/api/v1/query", params={
            "query": f'up{{job="{job}"}}'}, timeout=5).json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def stop(self):
        self.stopping.set()
        self.prom.proc.stop()
        self.app.proc.stop()
        self.second.proc.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    started = Demo(tmp_path_factory.mktemp("rules-sees"))
    # the window below must begin after Prometheus's first scrapes (else: data begins late)
    wait_until(lambda: time.time() > started.ready_at + 14, 30, "a window of scraped traffic")
    yield started
    started.stop()


def spec_file(tmp_path, **fields) -> str:
    path = tmp_path / f"{fields['name']}.yaml"
    path.write_text(textwrap.dedent(SPEC.format(**fields)), encoding="utf-8")
    return str(path)


def rules(spec: str, demo, tmp_path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["rules", "--spec", spec, "--out-dir", str(tmp_path / "out"), "--prometheus",
                 demo.prom.url, "--last", "10s"])
    return code, capsys.readouterr().out


def check(spec: str, demo, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["check", "--spec", spec, "--prometheus", demo.prom.url, "--last", "10s",
                 "--no-settle"])
    return code, capsys.readouterr().out


def test_a_spec_whose_selectors_all_see_data_is_written_exit_0(demo, tmp_path, capsys):
    spec = spec_file(tmp_path, job="portfolio-app", name="home", route="/")
    code, out = rules(spec, demo, tmp_path, capsys)
    assert code == 0, out
    assert "every selector sees data" in out
    assert (tmp_path / "out" / "prometheus" / "rules").is_dir()
    assert check(spec, demo, capsys)[0] == 0


@pytest.mark.parametrize("route, named", [
    ("/api/wrok", 'endpoint="/api/wrok"'),
    ("/api/projects/7", 'endpoint="/api/projects/7"'),
], ids=["a route typo", "a URL where the label holds route templates"])
def test_a_label_value_that_never_appears_is_refused_like_check_refuses_it(
        demo, tmp_path, capsys, route, named):
    spec = spec_file(tmp_path, job="portfolio-app", name="typo", route=route)
    check_code, check_out = check(spec, demo, capsys)
    code, out = rules(spec, demo, tmp_path, capsys)
    assert check_code == 2, check_out
    assert code == 2, out
    assert "every selector sees data" not in out
    assert "no rules written" in out
    assert named in out
    for slo in ("typo-availability", "typo-fast"):
        assert slo in out
    assert not (tmp_path / "out").exists(), "no rules are written"


def test_a_metric_whose_last_sample_is_stale_is_not_seen_now(demo, tmp_path, capsys):
    spec = spec_file(tmp_path, job="second-app", name="stopped", route="/")
    demo.second.proc.stop()
    wait_until(lambda: demo.up("second-app") == 0.0, 20, "Prometheus to see it down")
    time.sleep(6)  # six missed scrapes: older than a few scrape intervals
    check_code, check_out = check(spec, demo, capsys)
    code, out = rules(spec, demo, tmp_path, capsys)
    assert check_code == 2, check_out
    assert code == 2, out
    assert "every selector sees data" not in out
    assert "stopped-availability" in out and "stopped-fast" in out
    assert not (tmp_path / "out").exists(), "no rules are written"
