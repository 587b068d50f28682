"""`slo init` against the real demo app and a real Prometheus scraping it: the demo is the
slo-harness preset from its /metrics page and from Prometheus's series of its job, and the spec
it writes is judged by `slo check` (every SLO evaluated, none "could not evaluate")."""

import json
import time

import pytest
import yaml

from slo.cli import main
from tests.conftest import _start_app, launch_prometheus
from tests.test_slo_check_integration import drive, scraped

pytestmark = pytest.mark.integration
JOB = "portfolio-app"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("init")
    app = _start_app(workdir / "app")
    prom = launch_prometheus(workdir / "prom", {JOB: [f"127.0.0.1:{app.port}"]})

    scraped(prom.url)
    yield app, prom
    prom.proc.stop()
    app.proc.stop()


def test_the_demo_app_is_the_slo_harness_preset_and_its_spec_is_judged(env, tmp_path, capsys):
    app, prom = env
    drive(app.url, 3)  # observations to place the p95
    page_spec, job_spec = tmp_path / "page.yaml", tmp_path / "job.yaml"
    assert main(["init", "--metrics-url", app.url + "/metrics", "--job", JOB,
                 "-o", str(page_spec)]) == 0
    printed = capsys.readouterr().out
    assert "recognised: slo-harness (app_requests_total" in printed
    assert "/api/projects" in printed and "could not recognise: app_requests_in_progress" in printed
    doc = yaml.safe_load(page_spec.read_text())
    assert doc["prometheus"]["preset"] == "slo-harness" and doc["prometheus"]["job"] == JOB
    kept_out = doc["prometheus"]["selector"]
    assert "/metrics" in kept_out and "/health" in kept_out and "<unmatched>" in kept_out

    time.sleep(2)  # a scrape after the traffic
    assert main(["init", "--prometheus", prom.url, "--job", JOB, "-o", str(job_spec)]) == 0
    assert "recognised: slo-harness" in capsys.readouterr().out
    assert yaml.safe_load(job_spec.read_text())["prometheus"] == doc["prometheus"]

    start, end = drive(app.url, 10)  # the shortest window the checker judges
    time.sleep(2.5)  # two 1 s scrapes after the window's end
    result = tmp_path / "result.json"
    code = main(["check", "--spec", str(page_spec), "--prometheus", prom.url, "--start",
                 f"{start:.3f}", "--end", f"{end:.3f}", "--no-settle", "--json", str(result)])
    assert code in (0, 1), capsys.readouterr()
    data = json.loads(result.read_text())
    statuses = {s["name"]: s["status"] for s in data["slos"]}
    assert set(statuses) == {"availability", "error-ratio", "latency-p95"}
    # no errors were served: the ratio SLOs are met; the p95 (a tight starting bound on a
    # shared machine) is judged either way, never "could not evaluate"
    assert statuses["availability"] == statuses["error-ratio"] == "met", statuses
    assert statuses["latency-p95"] in ("met", "violated"), statuses


def test_a_job_prometheus_does_not_scrape_is_refused_naming_the_jobs(env, tmp_path, capsys):
    _, prom = env
    assert main(["init", "--prometheus", prom.url, "--job", "nope",
                 "-o", str(tmp_path / "s.yaml")]) == 2
    assert f"jobs it scrapes: {JOB}" in capsys.readouterr().err.replace("\n", " ")
