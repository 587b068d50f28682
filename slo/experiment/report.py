"""The report of one experiment run, written from its ExperimentResult: reports/<run-id>/.

    summary.json   the result itself (ExperimentResult.to_summary)
    junit.xml      one testcase per expectation (classname <experiment>.<phase>), for CI
    report.md      for people and PR comments, with the plots as PNG files beside it
    report.html    self-contained: the tables and the plots embedded as PNG
    locust/        Locust's run record, CSV and HTML (written by the load-test harness)

The report only reads the result: the tables come from `rows()`, the pages from the Jinja2
templates in templates/ (HTML autoescaped), the plots from slo.experiment.plots.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import jinja2
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness_common import exitcodes
from harness_common.console import print_table
from harness_common.durations import format_duration
from slo.experiment.plots import lane_name, render_plots
from slo.experiment.result import ARTIFACTS, ExperimentResult, offset
from slo.experiment.series import PLOT_RANGE
from slo.junit import Case, junit_xml
from slo.live.alerts import labels_text
from slo.units import share_text

TIMING_LABELS = ("slo", "severity", "long", "short", "instance")
TIMING_NOTE = ("Seconds from the fault's start (pending, fire, notify) and from its end (resolve, "
               "notify resolved). Theory: crossing + `for` + one scrape + one evaluation interval "
               "(bounds: what sampling allows).")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("slo.experiment", "templates"),
    autoescape=jinja2.select_autoescape(["html.j2"]), undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


@dataclass(frozen=True)
class TableData:
    """A table as the pages show it: a header and rows of text."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def phase_table(result: ExperimentResult) -> TableData:
    """phase, window, users, fault, SLO verdicts."""
    t0 = result.t0
    rows = []
    for p in result.phases:
        end = offset(p.end, t0)
        window = f"+{offset(p.start, t0):.0f}s..+{end:.0f}s" if end is not None else "not run"
        slos = ", ".join(f"{v.name} {v.status}" + (f" ({v.detail})" if v.detail else "")
                         for v in p.slos)
        fault = p.fault.description if p.fault else "none"
        rows.append((p.name, window, str(p.users), fault, slos or "-"))
    return TableData(("phase", "window", "users", "fault", "SLO verdicts"), tuple(rows))


def expectation_table(result: ExperimentResult) -> TableData:
    """phase, kind, subject, expected, observed, result, reason."""
    return TableData(("phase", "kind", "subject", "expected", "observed", "result", "reason"),
                     tuple((o.phase, o.kind, o.subject, o.expected, o.observed,
                            o.status.upper(), o.reason) for o in result.outcomes))


def timing_table(result: ExperimentResult) -> TableData:
    """Per alert: when it went pending, fired, reached Telegram and resolved, and the theory."""
    rows = []
    for a in result.timings:
        theory = a.theory
        shown = (f"{theory.theory_s:.1f}s ({theory.earliest_s:.1f}-{theory.latest_s:.1f})"
                 if theory else "-")
        ratio = f"{a.detection_ratio:.2f}x" if a.detection_ratio is not None else "-"
        rows.append((a.alert, labels_text(a.labels, TIMING_LABELS), a.fault, _s(a.pending_s),
                     _s(a.fire_s), shown, ratio, _s(a.notify_s), _s(a.resolve_s),
                     _s(a.notify_resolved_s)))
    return TableData(("alert", "labels", "fault", "to pending", "to fire", "theory (bounds)",
                      "measured/theory", "to notify", "to resolve", "to notify resolved"),
                     tuple(rows))


def budget_table(result: ExperimentResult) -> TableData:
    """Per phase and SLO: its bad events, burn rate, the share of the period's error budget it
    spent ("how much of the month did this fault cost") and the rows burning at its end."""
    rows = []
    for p in result.phases:
        for c in p.budget:
            burning = [f"{r.severity} {r.factor:g}× ({format_duration(r.long_s)}/"
                       f"{format_duration(r.short_s)})" for r in c.rows if r.burning]
            rows.append((p.name, c.slo, share_text(c.bad_ratio),
                         "-" if c.burn is None else f"{c.burn:.1f}×",
                         f"{share_text(c.spent)} of {format_duration(c.period_s)}",
                         ", ".join(burning) or "none"))
    return TableData(("phase", "SLO", "bad events", "burn rate", "budget spent",
                      "rows burning at the phase's end"), tuple(rows))


def latency_table(result: ExperimentResult) -> TableData:
    """Per phase and quantile: the client's exact value (every response time the load
    generator saw, in an HDR histogram) beside the server histogram's and the bucket holding
    it, and whether they agree."""
    rows = []
    for p in result.phases:
        if p.latency is None:
            continue
        for q, client, server, mark in p.latency.rows():
            rows.append((p.name, q, client, server, mark,
                         f"{p.latency.client_count} / {p.latency.server_count:.0f}"))
    return TableData(("phase", "quantile", "client (exact)", "server (bucket)", "",
                      "requests client / server"), tuple(rows))


# ------------------------------------------------------------------ JUnit

def junit(result: ExperimentResult) -> str:
    """One testsuite; one testcase per expectation; a case for the run itself when it broke
    off (an <error>) or when its exit code is not told by the expectations' cases alone (a
    <failure> for 1, an <error> for 2): the file is green exactly when the run exits 0."""
    name = result.experiment.name
    outcome = {"failed": "failure", "skipped": "skipped", "passed": "passed",
               "not_evaluated": "error"}
    kinds = {"failed": "ExpectationFailed", "not_evaluated": "NotEvaluated"}
    cases = [Case(f"{name}.{o.phase}", f"{o.kind}: {o.subject} {o.expected}", outcome[o.status],
                  o.reason or (o.observed if o.status == "failed" else "not judged"),
                  kinds.get(o.status, ""),
                  f"observed: {o.observed}", o.measured_s or 0.0)
             for o in result.outcomes]
    if result.status in ("error", "interrupted"):
        cases.append(Case(f"{name}.run", "the run completed", "error",
                          result.reason or result.status, result.status))
    told = {c.outcome for c in cases}
    needed = {exitcodes.FAILED: "failure", exitcodes.NOT_EVALUATED: "error"}.get(
        result.exit_code)
    if needed is not None and needed not in told:
        cases.append(Case(f"{name}.run", "the run held", needed,
                          result.reason or result.status, result.status))
    started = (result.to_summary()["started_at"] or "")[:19]
    return junit_xml(f"slo run {name}", cases, time_s=float(result.experiment.duration_s),
                     timestamp=started, root_name=f"slo run {name}", root_time=True,
                     properties=[("run_id", result.run_id), ("status", result.status),
                                 ("profile", result.stack.profile),
                                 ("telegram_mode", result.stack.telegram_mode)])


# ------------------------------------------------------------------ Markdown and HTML

def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


_TEMPLATES.filters["md"] = _md_cell


def _context(result: ExperimentResult) -> dict:
    summary = result.to_summary()
    return {"r": result, "summary": summary, "totals": result.totals,
            "phases": phase_table(result), "expectations": expectation_table(result),
            "budget": budget_table(result), "latency": latency_table(result),
            "timings": timing_table(result), "timing_note": TIMING_NOTE,
            "plot_range": PLOT_RANGE}


def markdown(result: ExperimentResult, plots: list[str]) -> str:
    """report.md."""
    return _TEMPLATES.get_template("report.md.j2").render(**_context(result), plots=plots)


def html_report(result: ExperimentResult, plots: dict[str, bytes]) -> str:
    """report.html: self-contained (inline CSS, PNGs as data URIs)."""
    images = {name: base64.b64encode(data).decode() for name, data in plots.items()}
    return _TEMPLATES.get_template("report.html.j2").render(**_context(result), images=images)


# ------------------------------------------------------------------ writing and printing

def write_report(result: ExperimentResult) -> dict[str, Path]:
    """Write summary.json, junit.xml, plots/*.png, report.md and report.html."""
    run_dir = result.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    plots = render_plots(result)
    if plots:
        (run_dir / "plots").mkdir(exist_ok=True)
        for name, data in plots.items():
            (run_dir / "plots" / name).write_bytes(data)
    files = {key: run_dir / ARTIFACTS[key] for key in ("summary", "junit", "markdown", "html")}
    files["summary"].write_text(json.dumps(result.to_summary(), indent=2, default=str) + "\n",
                                encoding="utf-8")
    files["junit"].write_text(junit(result), encoding="utf-8")
    files["markdown"].write_text(markdown(result, list(plots)), encoding="utf-8")
    files["html"].write_text(html_report(result, plots), encoding="utf-8")
    return files


def print_summary(console: Console, result: ExperimentResult) -> None:
    """The terminal's summary tables (whole on one line in a CI log: harness_common.console),
    each failed or not evaluated reason once with the phases it is said of, and the verdict;
    printed as they are (never read as markup)."""
    table = Table()
    for column in ("phase", "expectation", "observed", "result"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "bold red", "skipped": "dim",
              "not_evaluated": "bold yellow"}
    for o in result.outcomes:
        table.add_row(Text(o.phase), Text(f"{o.kind} {o.subject} {o.expected}"),
                      Text(o.observed),
                      Text(o.status.upper().replace("_", " "), style=styles[o.status]))
    print_table(console, "expectations", table)
    if result.timings:
        timings = Table()
        for column in ("alert", "pending", "fire", "theory", "x", "notify", "resolve",
                       "notified"):
            timings.add_column(column)
        for a in result.timings:
            ratio = a.detection_ratio
            timings.add_row(Text(lane_name(a.alert, a.labels)), _s(a.pending_s), _s(a.fire_s),
                            _s(a.theory.theory_s) if a.theory else "-",
                            f"{ratio:.2f}" if ratio is not None else "-", _s(a.notify_s),
                            _s(a.resolve_s), _s(a.notify_resolved_s))
        print_table(console, "alert timings, s (from the fault's start; resolve: from its "
                             "end)", timings)
    said: dict[tuple[str, str], list[str]] = {}   # a reason several expectations share: once
    for o in result.outcomes:
        if o.status in ("failed", "not_evaluated"):
            phases = said.setdefault((o.status, o.reason), [])
            if o.phase not in phases:
                phases.append(o.phase)
    for (status, reason), phases in said.items():
        mark = ("✗", "red") if status == "failed" else ("NOT EVALUATED", "yellow")
        console.print(Text.assemble(mark, f" {', '.join(phases)}: {reason}"), soft_wrap=True)
    colour = "green" if result.status == "passed" else "red"
    shown = result.status.upper().replace("_", " ")
    console.print(Text.assemble((shown, f"bold {colour}"), f" {result.reason}"), soft_wrap=True)
    console.print(Text(f"report: {result.run_dir / ARTIFACTS['html']}"), soft_wrap=True)
