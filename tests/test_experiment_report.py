"""The report folder of a run: summary.json, a valid junit.xml, report.md and a self-contained
report.html with the plots — from canned observations, no servers."""

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from slo.alerting.budget import RowBurn, WindowCost
from slo.experiment.expectations import Outcome, SloVerdict
from slo.experiment.report import junit, print_summary, write_report
from slo.experiment.result import (
    ExperimentInfo,
    ExperimentResult,
    FaultRecord,
    PhaseRecord,
    PlotSeries,
    Rollback,
    Series,
    StackRecord,
)
from slo.experiment.schema import parse_experiment
from slo.experiment.timings import AlertTiming
from slo.live.alerts import Transition
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
VERDICTS = {"outage": (SloVerdict("error-ratio", "violated", 1.0, "error ratio <= 1%", "ratio",
                                  "100.00%"),)}
SERIES = Series(
    latency=(PlotSeries("latency-p95", 300.0, tuple((T0 + t, 40.0) for t in range(0, 90, 2))),),
    errors=(PlotSeries("error-ratio", 1.0, tuple((T0 + t, 100.0 if 25 < t < 60 else 0.0)
                                                 for t in range(0, 90, 2))),))
BUDGET = {"outage": (WindowCost("error-ratio", 30.0, 43200, 1.0, 100.0, 30 * 100 / 43200, (
    RowBurn("page", 14.4, 60, 20, 50.0, 100.0), RowBurn("page", 6.0, 360, 30, 8.3, 100.0))),)}
TRANSITIONS = (Transition(T0 + 32, "prometheus", "ErrorBudgetBurn", LABELS, "pending"),
               Transition(T0 + 32, "prometheus", "ErrorBudgetBurn", LABELS, "firing"),
               Transition(T0 + 70, "prometheus", "ErrorBudgetBurn", LABELS, "resolved"))


def phases(completed: bool, started: bool = True) -> tuple[PhaseRecord, ...]:
    """The phases of EXPERIMENT as they ran: all of them, or only the first two (cut short)."""
    out = []
    for phase in EXPERIMENT.phases:
        ran = started and (completed or phase.index < 2)
        done = ran and (completed or phase.index < 1)
        fault = None
        if phase.fault is not None:
            fault = FaultRecord(phase.fault.kind, phase.fault.describe(),
                                tuple(phase.fault.params.items()),
                                T0 + phase.start_s if ran else None,
                                T0 + phase.end_s if ran else None)
        out.append(PhaseRecord(phase.index, phase.name, phase.start_s, phase.duration_s,
                               T0 + phase.start_s if ran else None,
                               T0 + phase.end_s if done else None, done, phase.load.users,
                               phase.load.spawn_rate, phase.load.scenario, fault,
                               VERDICTS.get(phase.name, ()), BUDGET.get(phase.name, ())))
    return tuple(out)


def result_of(tmp_path: Path, completed: bool = True, status: str = "failed", code: int = 1,
              started: bool = True) -> ExperimentResult:
    """A real result, as the runner would freeze it."""
    return ExperimentResult(
        run_id="unit-run", run_dir=tmp_path / "unit-run",
        experiment=ExperimentInfo("unit", "exp.yaml", EXPERIMENT.description, "fast",
                                  EXPERIMENT.duration_s, "slos.yaml"),
        status=status, exit_code=code,
        reason="all 3 expectations held" if completed else "interrupted by SIGINT",
        started_at=T0 - 10, ended_at=T0 + 96,
        stack=StackRecord("native", True, False, "fast", "sandbox",
                          (("prometheus", "http://127.0.0.1:1"),), 5.0, 5.0),
        phases=phases(completed, started),
        outcomes=tuple(OUTCOMES) if started else (),
        timings=tuple(TIMINGS) if started else (),
        transitions=TRANSITIONS if started else (),
        notifications=(Notice("firing", dict(LABELS), 1, T0 + 37),
                       Notice("resolved", dict(LABELS), 2, T0 + 75)) if started else (),
        rollback=Rollback(True, ("clear every fault: ok (none were on)",), ()),
        notes=("a note",), series=SERIES if started else Series())


def summary_of(tmp_path, completed=True, status="failed", code=1):
    return result_of(tmp_path, completed, status, code).to_summary()


def test_the_summary_holds_phases_expectations_timings_and_the_rollback(tmp_path):
    summary = summary_of(tmp_path)
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert [p["name"] for p in summary["phases"]] == ["baseline", "outage", "recovery"]
    outage = summary["phases"][1]
    assert outage["fault"]["start_offset_s"] == 20 and outage["fault"]["end_offset_s"] == 50
    assert outage["slos"][0]["status"] == "violated"
    assert summary["totals"] == {"expectations": 3, "passed": 2, "failed": 1, "skipped": 0,
                                 "not_evaluated": 0}
    assert summary["alerts"][0]["fire_s"] == 12.0
    assert [t["offset_s"] for t in summary["transitions"]] == [32, 32, 70]
    assert summary["notifications"][0]["status"] == "firing"
    assert summary["rollback"] == {"ok": True, "steps": ["clear every fault: ok (none were on)"],
                                   "faults_left": []}
    json.dumps(summary)  # JSON-ready throughout


def test_junit_xml_is_valid_junit_with_one_case_per_expectation(tmp_path):
    root = ET.fromstring(junit(result_of(tmp_path)))  # noqa: S314 - our own output
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
    result = result_of(tmp_path, completed=False, status="interrupted", code=2)
    root = ET.fromstring(junit(result))  # noqa: S314 - our own output
    suite = root.find("testsuite")
    assert suite.get("errors") == "1"
    error = suite.findall("testcase")[-1].find("error")
    assert error.get("type") == "interrupted" and "SIGINT" in error.get("message")


def test_every_report_file_is_written_with_the_plots_embedded(tmp_path):
    files = write_report(result_of(tmp_path))
    run_dir = tmp_path / "unit-run"
    assert json.loads(files["summary"].read_text())["run_id"] == "unit-run"
    ET.parse(files["junit"])  # noqa: S314 - our own output
    for name in ("latency.png", "errors.png", "alerts.png"):
        assert (run_dir / "plots" / name).read_bytes().startswith(b"\x89PNG")
    markdown = files["markdown"].read_text()
    assert "# Experiment `unit`: FAILED" in markdown
    assert "![alerts.png](plots/alerts.png)" in markdown
    assert "| outage | slo | error-ratio | violated |" in markdown
    # how much of the 12 h budget the 30 s outage cost, and the row that burned at its end
    assert ("| outage | error-ratio | 100.00% | 100.0× | 6.94% of 12h | page 14.4× (1m/20s), page "
            "6× (6m/30s) |"
            in markdown)
    assert json.loads(files["summary"].read_text())["phases"][1]["budget"][0]["burn_rate"] == 100
    page = files["html"].read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "A &lt;b&gt;test&lt;/b&gt; &amp; more" in page  # escaped, never raw HTML
    assert '<td class="failed">FAILED</td>' in page


def test_a_run_that_never_started_writes_a_report_without_plots(tmp_path):
    files = write_report(result_of(tmp_path, completed=False, status="error", code=2,
                                   started=False))
    assert not (tmp_path / "unit-run" / "plots").exists()
    assert "no data to plot" in files["html"].read_text()
    ET.parse(files["junit"])  # noqa: S314 - our own output


def test_the_terminal_summary_names_each_failure_and_the_report(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=100)
    print_summary(console, result_of(tmp_path))
    text = console.export_text()
    assert "✗ recovery: not delivered: no RESOLVED message" in text
    assert "FAILED all 3 expectations held" in text or "FAILED" in text
    assert "report.html" in text


# ---- every quantile with the bucket that holds it (issue 15, 1) -------------------------------

def test_a_quantile_in_the_reports_carries_its_bucket(tmp_path, monkeypatch):
    """The runner's verdicts come from the checker: the phase table and summary.json show
    the bucket beside the interpolated p95."""
    from slo.experiment.phase_judge import slo_verdicts
    from slo.judge.checker import CheckResult, judge
    from slo.judge.histogram import Buckets
    from slo.judge.window import Window
    from slo.spec import load_spec

    spec = load_spec("slo/slos.yaml")
    buckets = Buckets.from_samples([({"le": "0.5"}, 80.0), ({"le": "0.75"}, 99.0),
                                    ({"le": "+Inf"}, 100.0)])
    verdict = judge(spec.slo("latency-p95"), 0.734, 100, 20, buckets=buckets)
    (p95,) = slo_verdicts(CheckResult(
        "slos.yaml", "portfolio-app", "http://x", Window(0, 60, "t"), [verdict], 0.01))
    assert p95.detail == "734 ms (500–750 ms bucket)" and p95.value_bounds == (0.5, 0.75)
    result = result_of(tmp_path)
    phases_with_p95 = tuple(
        PhaseRecord(p.index, p.name, p.planned_offset_s, p.duration_s, p.start, p.end,
                    p.completed, p.users, p.spawn_rate, p.scenario, p.fault,
                    p.slos + ((p95,) if p.name == "outage" else ()))
        for p in result.phases)
    summary = ExperimentResult(**{**result.__dict__, "phases": phases_with_p95}).to_summary()
    outage = json.loads(json.dumps(summary))["phases"][1]["slos"]
    assert outage[1]["value_bounds"] == [0.5, 0.75] and outage[0]["value_bounds"] is None
    files = write_report(ExperimentResult(**{**result.__dict__, "phases": phases_with_p95}))
    assert "latency-p95 violated (734 ms (500–750 ms bucket))" in files["markdown"].read_text()


def test_the_latency_plot_draws_the_bucket_band(tmp_path):
    from slo.experiment import plots

    band = tuple((T0 + t, 250.0, 500.0 if t < 60 else float("inf")) for t in range(0, 90, 2))
    series = Series(latency=(PlotSeries("latency-p95", 300.0,
                                        tuple((T0 + t, 400.0) for t in range(0, 90, 2)), band),))
    drawn = []
    original = plots._sli_figure

    def spy(result, items, *args):
        fig = original(result, items, *args)
        drawn.extend(c for ax in fig.axes for c in ax.collections)
        return fig

    result = ExperimentResult(**{**result_of(tmp_path).__dict__, "series": series})
    try:
        plots._sli_figure = spy
        images = plots.render_plots(result)
    finally:
        plots._sli_figure = original
    assert images["latency.png"].startswith(b"\x89PNG")
    (fill,) = [c for c in drawn if "bucket" in (c.get_label() or "")]
    ys = fill.get_paths()[0].vertices[:, 1]
    assert ys.min() == 250.0 and 500.0 in ys and ys.max() > 500.0  # +Inf drawn to the top


# ---- the JUnit file tells what the run's exit code tells -------------------------------------

def expectation(status: str, phase: str = "outage") -> Outcome:
    return Outcome(phase, "slo", "error-ratio", "violated", status,
                   "not judged" if status == "skipped" else "violated (100.00%)",
                   "" if status == "passed" else f"the expectation {status}")


# (case, run status, exit code, its expectations' statuses)
RUN_OUTCOMES = [
    ("every expectation held", "passed", 0, ["passed", "passed"]),
    ("an expectation failed", "failed", 1, ["passed", "failed"]),
    ("an expectation could not be evaluated", "not_evaluated", 2, ["passed", "not_evaluated"]),
    ("the preflight found no such rule", "failed", 1, ["failed"]),
    ("the run was interrupted with an expectation left unjudged", "interrupted", 2,
     ["passed", "skipped"]),
    ("the rollback failed after an expectation failed", "error", 2, ["failed"]),
    ("the run ended before an expectation's deadline (counted failed)", "failed", 1,
     ["passed", "skipped"]),
]


@pytest.mark.parametrize(("status", "code", "statuses"), [c[1:] for c in RUN_OUTCOMES],
                         ids=[c[0] for c in RUN_OUTCOMES])
def test_the_junit_of_a_run_tells_what_its_exit_code_tells(tmp_path, status, code, statuses):
    """A CI system reading only junit.xml is green exactly when `slo run` exits 0, sees a
    failure when it exits 1 and an error when it exits 2 (as `slo check`'s JUnit does)."""
    run = replace(result_of(tmp_path, status=status, code=code),
                  outcomes=tuple(expectation(s) for s in statuses))
    suite = ET.fromstring(junit(run)).find("testsuite")  # noqa: S314 - our own output
    failures, errors = int(suite.get("failures")), int(suite.get("errors"))
    assert (failures + errors == 0) == (code == 0)
    assert {0: True, 1: failures > 0, 2: errors > 0}[code]
    cases = suite.findall("testcase")
    for case, s in zip(cases, statuses, strict=False):   # each expectation as it was judged
        tags = [e.tag for e in case if e.tag != "system-out"]
        assert tags == {"passed": [], "failed": ["failure"], "skipped": ["skipped"],
                        "not_evaluated": ["error"]}[s]
