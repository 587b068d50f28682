"""The report folder of a run: summary.json, a valid junit.xml, report.md and a self-contained
report.html with the plots — from canned observations, no servers."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import yaml

from slo.experiment.expectations import Outcome, PhaseWindow, SloVerdict
from slo.experiment.report import build_summary, junit_xml, print_summary, write_report
from slo.experiment.schema import parse_experiment
from slo.experiment.timings import AlertTiming
from slo.judge.prom import Intervals
from slo.live.alerts import AlertTimeline, Transition
from slo.live.delivery import Notice

T0 = 1_800_000_000.0
EXPERIMENT = parse_experiment(yaml.safe_dump({
    "version": "slo-harness/v1", "kind": "Experiment", "name": "unit",
    "description": "A <b>test</b> & more",
    "phases": [
        {"name": "baseline", "duration": "20s"},
        {"name": "outage", "duration": "30s",
         "fault": {"kind": "error", "params": {"probability": 1.0}}},
        {"name": "recovery", "duration": "40s"},
    ]}), "exp.yaml")
LABELS = (("alertname", "ErrorBudgetBurn"), ("long", "1m"), ("severity", "page"),
          ("short", "20s"), ("slo", "error-ratio"))


def fake_runner(tmp_path: Path, completed: bool = True):
    windows = []
    for phase in EXPERIMENT.phases:
        ran = completed or phase.index < 2
        w = PhaseWindow(phase, T0 + phase.start_s if ran else None,
                        T0 + phase.end_s if ran and (completed or phase.index < 1) else None,
                        completed=ran and (completed or phase.index < 1))
        if phase.fault and ran:
            w.fault_start = w.start
            w.fault_end = T0 + phase.end_s
        windows.append(w)
    timeline = AlertTimeline(transitions=[
        Transition(T0 + 32, "prometheus", "ErrorBudgetBurn", LABELS, "pending"),
        Transition(T0 + 32, "prometheus", "ErrorBudgetBurn", LABELS, "firing"),
        Transition(T0 + 70, "prometheus", "ErrorBudgetBurn", LABELS, "resolved")])
    return SimpleNamespace(
        experiment=EXPERIMENT, windows=windows, tracker=SimpleNamespace(timeline=timeline),
        _notices=[Notice("firing", dict(LABELS), 1, T0 + 37),
                  Notice("resolved", dict(LABELS), 2, T0 + 75)],
        run_id="unit-run", run_dir=tmp_path / "unit-run",
        reason="all 3 expectations held" if completed else "interrupted by SIGINT",
        started_at=T0 - 10, run_end=T0 + 96, stack_info=SimpleNamespace(mode="native"),
        started_stack=True, options=SimpleNamespace(keep=False), stack_profile="fast",
        telegram_mode="sandbox", urls={"prometheus": "http://127.0.0.1:1"},
        intervals=Intervals(5, 5), rollback_ok=True,
        rollback_log=["clear every fault: ok (none were on)"], faults_left=[],
        notes=["a note"])


OUTCOMES = [
    Outcome("outage", "slo", "error-ratio", "violated", "passed", "violated (100.00%)"),
    Outcome("outage", "alert", 'ErrorBudgetBurn{slo="error-ratio"}', "firing within 20s",
            "passed", "fired after 12.0s", measured_s=12.0, at=T0 + 32),
    Outcome("recovery", "telegram", 'ErrorBudgetBurn{slo="error-ratio"}',
            "resolved delivered within 30s", "failed", "not delivered",
            "not delivered: no RESOLVED message <within> 30s & more"),
]
TIMINGS = [AlertTiming("outage", "error probability=1.0", "prometheus", "ErrorBudgetBurn",
                       {k: v for k, v in LABELS if k != "alertname"}, 12.0, 12.0, 17.0, 20.0,
                       25.0, T0 + 32, T0 + 32, T0 + 37, T0 + 70, T0 + 75)]
VERDICTS = {"outage": [SloVerdict("error-ratio", "violated", 1.0, "error ratio <= 1%", "ratio",
                                  "100.00%")]}
SERIES = {"latency": [{"name": "latency-p95", "target": 300.0,
                       "points": [(T0 + t, 40.0) for t in range(0, 90, 2)]}],
          "errors": [{"name": "error-ratio", "target": 1.0,
                      "points": [(T0 + t, 100.0 if 25 < t < 60 else 0.0)
                                 for t in range(0, 90, 2)]}]}


def summary_of(tmp_path, completed=True, status="failed", code=1):
    return build_summary(fake_runner(tmp_path, completed), OUTCOMES, TIMINGS, VERDICTS, status,
                         code)


def test_the_summary_holds_phases_expectations_timings_and_the_rollback(tmp_path):
    summary = summary_of(tmp_path)
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert [p["name"] for p in summary["phases"]] == ["baseline", "outage", "recovery"]
    outage = summary["phases"][1]
    assert outage["fault"]["start_offset_s"] == 20 and outage["fault"]["end_offset_s"] == 50
    assert outage["slos"][0]["status"] == "violated"
    assert summary["totals"] == {"expectations": 3, "passed": 2, "failed": 1, "skipped": 0}
    assert summary["alerts"][0]["fire_s"] == 12.0
    assert [t["offset_s"] for t in summary["transitions"]] == [32, 32, 70]
    assert summary["notifications"][0]["status"] == "firing"
    assert summary["rollback"] == {"ok": True, "steps": ["clear every fault: ok (none were on)"],
                                   "faults_left": []}
    json.dumps(summary)  # JSON-ready throughout


def test_junit_xml_is_valid_junit_with_one_case_per_expectation(tmp_path):
    root = ET.fromstring(junit_xml(summary_of(tmp_path)))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 3 == int(suite.get("tests")) == int(root.get("tests"))
    assert int(suite.get("failures")) == 1 and int(suite.get("errors")) == 0
    assert all(c.get("classname", "").startswith("unit.") and c.get("name") for c in cases)
    failure = cases[2].find("failure")
    assert failure.get("message").startswith("not delivered: no RESOLVED message <within>")
    assert float(cases[1].get("time")) == 12.0
    assert {p.get("name") for p in suite.find("properties")} >= {"run_id", "status"}


def test_an_interrupted_run_adds_an_error_case(tmp_path):
    summary = summary_of(tmp_path, completed=False, status="interrupted", code=2)
    root = ET.fromstring(junit_xml(summary))  # noqa: S314 - our own output
    suite = root.find("testsuite")
    assert suite.get("errors") == "1"
    error = suite.findall("testcase")[-1].find("error")
    assert error.get("type") == "interrupted" and "SIGINT" in error.get("message")


def test_every_report_file_is_written_with_the_plots_embedded(tmp_path):
    summary = summary_of(tmp_path)
    files = write_report(tmp_path / "unit-run", summary, SERIES)
    run_dir = tmp_path / "unit-run"
    assert json.loads(files["summary"].read_text())["run_id"] == "unit-run"
    ET.parse(files["junit"])  # noqa: S314 - our own output
    for name in ("latency.png", "errors.png", "alerts.png"):
        assert (run_dir / "plots" / name).read_bytes().startswith(b"\x89PNG")
    markdown = files["markdown"].read_text()
    assert "# Experiment `unit`: FAILED" in markdown
    assert "![alerts.png](plots/alerts.png)" in markdown
    assert "| outage | slo | error-ratio | violated |" in markdown
    page = files["html"].read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "A &lt;b&gt;test&lt;/b&gt; &amp; more" in page  # escaped, never raw HTML
    assert '<td class="failed">FAILED</td>' in page


def test_a_run_that_never_started_writes_a_report_without_plots(tmp_path):
    runner = fake_runner(tmp_path, completed=False)
    for w in runner.windows:
        w.start = w.end = w.fault_start = w.fault_end = None
        w.completed = False
    summary = build_summary(runner, [], [], {}, "error", 2)
    files = write_report(tmp_path / "unit-run", summary, {})
    assert not (tmp_path / "unit-run" / "plots").exists()
    assert "no data to plot" in files["html"].read_text()
    ET.parse(files["junit"])  # noqa: S314 - our own output


def test_the_terminal_summary_names_each_failure_and_the_report(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=100)
    print_summary(console, summary_of(tmp_path))
    text = console.export_text()
    assert "✗ recovery: not delivered: no RESOLVED message" in text
    assert "FAILED all 3 expectations held" in text or "FAILED" in text
    assert "report.html" in text
