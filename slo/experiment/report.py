"""The report of one experiment run: reports/<run-id>/.

    summary.json   every phase (window, load, fault), every SLO verdict, every expectation with
                   its outcome, per-alert timings beside the theory, alert transitions,
                   Telegram notices, the rollback, notes
    junit.xml      one testcase per expectation (classname <experiment>.<phase>), for CI
    report.md      the same for people and PR comments, with the plots as PNG files beside it
    report.html    self-contained: the tables and the plots embedded as PNG (matplotlib, Agg)
    locust/        Locust's run record, CSV and HTML (written by the load-test harness)

`build_summary` is the one place the summary's shape is decided; the writers only read it.
"""

from __future__ import annotations

import base64
import html
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from slo.judge import promql

SUMMARY_VERSION = 1
PLOT_RANGE = "20s"
PLOT_STEP_S = 2
FAULT_COLOURS = {"latency": "#f4a261", "error": "#e76f51", "abort": "#9d4edd", "kill": "#6c757d",
                 "pause": "#457b9d"}


def iso(moment: float | None) -> str | None:
    """Unix seconds -> 2025-01-01T12:00:00.123Z (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def _offset(moment: float | None, t0: float | None) -> float | None:
    if moment is None or t0 is None:
        return None
    return round(moment - t0, 3)


# ------------------------------------------------------------------ the summary

def build_summary(runner, outcomes, timings, verdicts, status: str, exit_code: int) -> dict:
    """The summary document of a run (see the module docstring)."""
    experiment = runner.experiment
    t0 = runner.windows[0].start if runner.windows else None
    phases = []
    for window in runner.windows:
        phase = window.phase
        fault = None
        if phase.fault is not None:
            fault = {"kind": phase.fault.kind, "description": phase.fault.describe(),
                     "params": phase.fault.params, "start": iso(window.fault_start),
                     "end": iso(window.fault_end),
                     "start_offset_s": _offset(window.fault_start, t0),
                     "end_offset_s": _offset(window.fault_end, t0)}
        phases.append({
            "index": phase.index, "name": phase.name, "planned_offset_s": phase.start_s,
            "duration_s": phase.duration_s, "start": iso(window.start), "end": iso(window.end),
            "start_offset_s": _offset(window.start, t0), "end_offset_s": _offset(window.end, t0),
            "completed": window.completed, "users": phase.load.users,
            "spawn_rate": phase.load.spawn_rate, "scenario": phase.load.scenario, "fault": fault,
            "slos": [v.as_dict() for v in verdicts.get(phase.name, [])],
        })
    passed = sum(1 for o in outcomes if o.status == "passed")
    failed = sum(1 for o in outcomes if o.status == "failed")
    timeline = runner.tracker.timeline if runner.tracker is not None else None
    notices = getattr(runner, "_notices", None) or []
    return {
        "version": SUMMARY_VERSION,
        "run_id": runner.run_id,
        "run_dir": str(runner.run_dir),
        "experiment": {"name": experiment.name, "file": experiment.source,
                       "description": experiment.description, "profile": experiment.profile,
                       "duration_s": experiment.duration_s},
        "spec": str(experiment.spec_path),
        "status": status,
        "exit_code": exit_code,
        "reason": runner.reason,
        "started_at": iso(runner.started_at),
        "ended_at": iso(runner.run_end),
        "t0": t0,
        "t0_iso": iso(t0),
        "stack": {
            "mode": runner.stack_info.mode if runner.stack_info else None,
            "started_by_run": runner.started_stack,
            "kept": runner.options.keep,
            "profile": runner.stack_profile,
            "telegram_mode": runner.telegram_mode,
            "urls": runner.urls,
            "scrape_interval_s": runner.intervals.scrape_s,
            "evaluation_interval_s": runner.intervals.eval_s,
        },
        "phases": phases,
        "totals": {"expectations": len(outcomes), "passed": passed, "failed": failed,
                   "skipped": len(outcomes) - passed - failed},
        "expectations": [o.as_dict() for o in outcomes],
        "alerts": [t.as_dict() for t in timings],
        "transitions": [dict(t.as_dict(), offset_s=_offset(t.at, t0))
                        for t in (timeline.transitions if timeline else [])],
        "notifications": [{"status": n.status, "labels": n.labels, "message_id": n.message_id,
                           "received_at": iso(n.received_at),
                           "offset_s": _offset(n.received_at, t0)} for n in notices],
        "rollback": {"ok": runner.rollback_ok, "steps": runner.rollback_log,
                     "faults_left": runner.faults_left},
        "notes": runner.notes,
        "artifacts": {"summary": "summary.json", "junit": "junit.xml", "markdown": "report.md",
                      "html": "report.html", "locust": "locust/"},
    }


# ------------------------------------------------------------------ JUnit

def junit_xml(summary: dict) -> str:
    """One testsuite; one testcase per expectation; an <error> case when the run broke off."""
    name = summary["experiment"]["name"]
    cases = []
    for item in summary["expectations"]:
        case = ET.Element("testcase", classname=f"{name}.{item['phase']}",
                          name=f"{item['kind']}: {item['subject']} {item['expected']}",
                          time=f"{item['measured_s'] or 0:.3f}")
        if item["status"] == "failed":
            failure = ET.SubElement(case, "failure", message=item["reason"] or item["observed"],
                                    type="ExpectationFailed")
            failure.text = f"observed: {item['observed']}"
        elif item["status"] == "skipped":
            ET.SubElement(case, "skipped", message=item["reason"] or "not judged")
        else:
            ET.SubElement(case, "system-out").text = f"observed: {item['observed']}"
        cases.append(case)
    errors = 0
    if summary["status"] in ("error", "interrupted"):
        errors = 1
        case = ET.Element("testcase", classname=f"{name}.run", name="the run completed",
                          time="0")
        ET.SubElement(case, "error", message=summary["reason"] or summary["status"],
                      type=summary["status"])
        cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    duration = f"{summary['experiment']['duration_s']:.3f}"
    suite = ET.Element("testsuite", name=f"slo run {name}", tests=str(len(cases)),
                       failures=str(failures), errors=str(errors), skipped=str(skipped),
                       time=duration, timestamp=(summary["started_at"] or "")[:19])
    properties = ET.SubElement(suite, "properties")
    for key, value in (("run_id", summary["run_id"]), ("status", summary["status"]),
                       ("profile", summary["stack"]["profile"]),
                       ("telegram_mode", summary["stack"]["telegram_mode"])):
        ET.SubElement(properties, "property", name=key, value=str(value))
    suite.extend(cases)
    root = ET.Element("testsuites", name=f"slo run {name}", tests=str(len(cases)),
                      failures=str(failures), errors=str(errors), time=duration)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ------------------------------------------------------------------ tables (shared by md/html/tty)

def _s(value) -> str:
    return "-" if value is None else f"{value:.1f}s"


def expectation_rows(summary: dict) -> list[list[str]]:
    """phase, kind, subject, expected, observed, result, reason."""
    return [[e["phase"], e["kind"], e["subject"], e["expected"], e["observed"],
             e["status"].upper(), e["reason"]] for e in summary["expectations"]]


def timing_rows(summary: dict) -> list[list[str]]:
    """alert, labels, fault, pending, fire, theory (bounds), measured/theory, notify, resolve,
    notify resolved."""
    rows = []
    for a in summary["alerts"]:
        labels = ",".join(f"{k}={v}" for k, v in a["labels"].items()
                          if k in ("slo", "severity", "long", "short", "instance"))
        theory = a.get("theory")
        shown = (f"{theory['theory_s']:.1f}s ({theory['earliest_s']:.1f}-{theory['latest_s']:.1f})"
                 if theory else "-")
        ratio = f"{a['detection_ratio']:.2f}x" if a.get("detection_ratio") is not None else "-"
        rows.append([a["alert"], labels, a["fault"], _s(a["pending_s"]), _s(a["fire_s"]), shown,
                     ratio, _s(a["notify_s"]), _s(a["resolve_s"]), _s(a["notify_resolved_s"])])
    return rows


TIMING_HEADER = ["alert", "labels", "fault", "to pending", "to fire", "theory (bounds)",
                 "measured/theory", "to notify", "to resolve", "to notify resolved"]
EXPECTATION_HEADER = ["phase", "kind", "subject", "expected", "observed", "result", "reason"]


def phase_rows(summary: dict) -> list[list[str]]:
    """phase, window, users, fault, SLO verdicts."""
    rows = []
    for p in summary["phases"]:
        window = (f"+{p['start_offset_s']:.0f}s..+{p['end_offset_s']:.0f}s"
                  if p["end_offset_s"] is not None else "not run")
        slos = ", ".join(f"{v['name']} {v['status']}" + (f" ({v['detail']})" if v["detail"] else "")
                         for v in p["slos"])
        fault = p["fault"]["description"] if p["fault"] else "none"
        rows.append([p["name"], window, str(p["users"]), fault, slos or "-"])
    return rows


PHASE_HEADER = ["phase", "window", "users", "fault", "SLO verdicts"]


# ------------------------------------------------------------------ plots

def _points(prom, expr: str, start: float, end: float) -> list[tuple[float, float]]:
    """The first series of a range query, without NaN/Inf points."""
    result = prom.query_range(expr, start, end, PLOT_STEP_S)
    values = result[0]["values"] if result else []
    return [(t, v) for t, v in values if math.isfinite(v)]


def collect_series(prom, spec, start: float, end: float) -> dict:
    """Range data for the plots: latency percentiles (ms) and error ratios (%), per SLO."""
    latency, errors = [], []
    for slo in spec.slos:
        if slo.kind == "latency_percentile":
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            latency.append({"name": slo.name, "target": slo.objectives[0].target * 1000,
                            "points": [(t, v * 1000) for t, v in points]})
        elif slo.kind in ("error_ratio", "availability"):
            points = _points(prom, promql.value_expr(slo, PLOT_RANGE), start, end)
            target = slo.objectives[0].target
            if slo.kind == "availability":  # plot the unavailability: 1 - value
                points, target = [(t, 1 - v) for t, v in points], 1 - target
            errors.append({"name": slo.name, "target": target * 100,
                           "points": [(t, v * 100) for t, v in points]})
    return {"latency": latency, "errors": errors}


def _decorate(ax, summary: dict, t0: float) -> None:
    """Fault windows shaded, phase boundaries dotted, firing and notification times marked."""
    shown = set()
    for p in summary["phases"]:
        if p["start_offset_s"] is not None:
            ax.axvline(p["start_offset_s"], color="#999999", linestyle=":", linewidth=0.8)
        fault = p["fault"]
        if fault and fault["start_offset_s"] is not None:
            end = fault["end_offset_s"] if fault["end_offset_s"] is not None else p["end_offset_s"]
            label = None if fault["kind"] in shown else f"{fault['kind']} fault"
            shown.add(fault["kind"])
            ax.axvspan(fault["start_offset_s"], end or fault["start_offset_s"], alpha=0.18,
                       color=FAULT_COLOURS.get(fault["kind"], "#cccccc"), label=label)
    fired = [a["fired_at"] - t0 for a in summary["alerts"] if a["fired_at"]]
    notified = [a["notified_at"] - t0 for a in summary["alerts"] if a["notified_at"]]
    resolved = [a["resolved_at"] - t0 for a in summary["alerts"] if a["resolved_at"]]
    for xs, colour, style, label in ((fired, "#d62828", "-", "alert fired"),
                                     (notified, "#2a9d8f", "--", "Telegram notified"),
                                     (resolved, "#457b9d", "-.", "alert resolved")):
        for i, x in enumerate(sorted(set(round(v, 1) for v in xs))):
            ax.axvline(x, color=colour, linestyle=style, linewidth=1.0,
                       label=label if i == 0 else None)


def _sli_figure(summary: dict, items: list[dict], ylabel: str, title: str, t0: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
    for i, item in enumerate(items):
        colour = f"C{i}"
        xs = [t - t0 for t, _ in item["points"]]
        ys = [v for _, v in item["points"]]
        ax.plot(xs, ys, color=colour, linewidth=1.5, label=item["name"])
        ax.axhline(item["target"], color=colour, linestyle="--", linewidth=1,
                   label=f"{item['name']} objective")
    _decorate(ax, summary, t0)
    ax.set_xlabel("seconds since the first phase started")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    return fig


def _alerts_figure(summary: dict, t0: float):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    lanes: dict[str, list[dict]] = {}
    for t in summary["transitions"]:
        labels = t["labels"]
        window = f"{labels['long']}/{labels['short']}" if "long" in labels else ""
        key = " ".join(x for x in (t["alert"], labels.get("slo", ""), labels.get("severity", ""),
                                   window) if x)
        lanes.setdefault(key, []).append(t)
    end = (max((p["end_offset_s"] or 0) for p in summary["phases"]) or 0) + 5
    fig, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(1, len(lanes))), dpi=100)
    for row, (_key, seen) in enumerate(sorted(lanes.items())):
        for i, t in enumerate(seen):
            start = t["at"] - t0
            stop = seen[i + 1]["at"] - t0 if i + 1 < len(seen) else end
            if t["state"] in ("pending", "firing") and stop > start:
                ax.barh(row, stop - start, left=start, height=0.6,
                        color="#e9c46a" if t["state"] == "pending" else "#d62828")
    for n in summary["notifications"]:
        if n["offset_s"] is not None:
            ax.axvline(n["offset_s"], color="#2a9d8f" if n["status"] == "firing" else "#457b9d",
                       linestyle="--", linewidth=1)
    _decorate(ax, {**summary, "alerts": []}, t0)
    ax.set_yticks(range(len(lanes)), [k for k in sorted(lanes)], fontsize=7)
    ax.set_xlabel("seconds since the first phase started")
    ax.set_title("alert states (yellow pending, red firing; dashed lines: Telegram messages)")
    ax.set_xlim(left=min(0, *(t["at"] - t0 for t in summary["transitions"])) if lanes else 0)
    fig.tight_layout()
    return fig


def render_plots(summary: dict, series: dict) -> dict[str, bytes]:
    """PNG bytes per plot name (empty when the run never started its first phase)."""
    t0 = summary.get("t0")
    if t0 is None:
        return {}
    from io import BytesIO

    from matplotlib import pyplot as plt

    figures = {}
    if series.get("latency"):
        figures["latency.png"] = _sli_figure(summary, series["latency"], "latency (ms)",
                                             f"latency percentiles (over {PLOT_RANGE})", t0)
    if series.get("errors"):
        figures["errors.png"] = _sli_figure(summary, series["errors"], "bad requests (%)",
                                            f"error ratio (over {PLOT_RANGE})", t0)
    figures["alerts.png"] = _alerts_figure(summary, t0)
    out = {}
    for name, fig in figures.items():
        buffer = BytesIO()
        fig.savefig(buffer, format="png")
        plt.close(fig)
        out[name] = buffer.getvalue()
    return out


# ------------------------------------------------------------------ Markdown and HTML

def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(summary: dict, plots: list[str]) -> str:
    """report.md."""
    exp = summary["experiment"]
    totals = summary["totals"]
    parts = [
        f"# Experiment `{exp['name']}`: {summary['status'].upper()}",
        "",
        f"{exp['description']}".strip(),
        "",
        f"- run `{summary['run_id']}` from {summary['started_at']} to {summary['ended_at']}; "
        f"exit code {summary['exit_code']}",
        f"- {summary['reason']}",
        f"- expectations: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped",
        f"- stack: {summary['stack']['mode']}, profile `{summary['stack']['profile']}`, "
        f"Telegram {summary['stack']['telegram_mode']}, scrape "
        f"{summary['stack']['scrape_interval_s']:g}s, evaluation "
        f"{summary['stack']['evaluation_interval_s']:g}s",
        "",
        "## Phases", "", _md_table(PHASE_HEADER, phase_rows(summary)), "",
        "## Expectations", "", _md_table(EXPECTATION_HEADER, expectation_rows(summary)), "",
        "## Alert timings", "", TIMING_NOTE, "",
        _md_table(TIMING_HEADER, timing_rows(summary)) if summary["alerts"] else "_no alert "
        "fired during a fault_", "",
    ]
    if plots:
        parts += ["## Plots", ""] + [f"![{name}](plots/{name})" for name in plots] + [""]
    parts += ["## Rollback", ""] + [f"- {line}" for line in summary["rollback"]["steps"]]
    parts += [f"- faults left after the run: {summary['rollback']['faults_left']}", ""]
    if summary["notes"]:
        parts += ["## Notes", ""] + [f"- {n}" for n in summary["notes"]] + [""]
    parts += ["Locust's own report: [locust/report.html](locust/report.html)", ""]
    return "\n".join(parts)


def _html_table(header: list[str], rows: list[list[str]], result_col: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            cls = f' class="{value.lower()}"' if i == result_col else ""
            cells.append(f"<td{cls}>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_report(summary: dict, plots: dict[str, bytes]) -> str:
    """report.html: self-contained (inline CSS, PNGs as data URIs)."""
    exp = summary["experiment"]
    totals = summary["totals"]
    images = "".join(
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,'
        f'{base64.b64encode(data).decode()}"></figure>' for name, data in plots.items())
    status = summary["status"]
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in summary["notes"])
    rollback = "".join(f"<li>{html.escape(s)}</li>" for s in summary["rollback"]["steps"])
    timings = (_html_table(TIMING_HEADER, timing_rows(summary)) if summary["alerts"]
               else "<p><em>no alert fired during a fault</em></p>")
    stack = summary["stack"]
    notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
    name = html.escape(exp["name"])
    parts = [
        '<!doctype html>',
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>slo run {name}: {status}</title>",
        f"<style>{CSS}</style></head><body>",
        f'<h1>Experiment <code>{name}</code>: <span class="{status}">{status.upper()}</span></h1>',
        f"<p>{html.escape(exp['description'])}</p>",
        "<ul>",
        f"<li>run <code>{html.escape(summary['run_id'])}</code>, {summary['started_at']} to "
        f"{summary['ended_at']}, exit code {summary['exit_code']}</li>",
        f"<li>{html.escape(summary['reason'] or '')}</li>",
        f"<li>expectations: {totals['passed']} passed, {totals['failed']} failed, "
        f"{totals['skipped']} skipped</li>",
        f"<li>stack: {stack['mode']}, profile <code>{stack['profile']}</code>, Telegram "
        f"{stack['telegram_mode']}, scrape {stack['scrape_interval_s']:g}s, evaluation "
        f"{stack['evaluation_interval_s']:g}s</li>",
        "</ul>",
        f"<h2>Plots</h2>{images or '<p><em>no data to plot</em></p>'}",
        f"<h2>Phases</h2>{_html_table(PHASE_HEADER, phase_rows(summary))}",
        "<h2>Expectations</h2>"
        f"{_html_table(EXPECTATION_HEADER, expectation_rows(summary), result_col=5)}",
        "<h2>Alert timings</h2>",
        f"<p>{html.escape(TIMING_NOTE)}</p>",
        timings,
        f"<h2>Rollback</h2><ul>{rollback}<li>faults left after the run: "
        f"{html.escape(str(summary['rollback']['faults_left']))}</li></ul>",
        notes_html,
        '<p>Locust\'s own report: <a href="locust/report.html">locust/report.html</a>; data: '
        '<a href="summary.json">summary.json</a>, <a href="junit.xml">junit.xml</a>.</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1200px; }
h1 span.passed { color: #2a9d8f; }
h1 span.failed, h1 span.error, h1 span.interrupted { color: #d62828; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.85rem; }
th, td { border: 1px solid #ddd; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
td.passed { color: #2a9d8f; font-weight: bold; }
td.failed { color: #d62828; font-weight: bold; }
td.skipped { color: #888; }
figure { margin: 0 0 1rem; } img { max-width: 100%; }
"""
TIMING_NOTE = ("Seconds from the fault's start (pending, fire, notify) and from its end (resolve, "
               "notify resolved). Theory: crossing + `for` + one scrape + one evaluation interval "
               "(bounds: what sampling allows).")


# ------------------------------------------------------------------ writing and printing

def write_report(run_dir: Path, summary: dict, series: dict) -> dict[str, Path]:
    """Write summary.json, junit.xml, plots/*.png, report.md and report.html."""
    run_dir.mkdir(parents=True, exist_ok=True)
    plots = render_plots(summary, series)
    if plots:
        (run_dir / "plots").mkdir(exist_ok=True)
        for name, data in plots.items():
            (run_dir / "plots" / name).write_bytes(data)
    files = {
        "summary": run_dir / "summary.json",
        "junit": run_dir / "junit.xml",
        "markdown": run_dir / "report.md",
        "html": run_dir / "report.html",
    }
    files["summary"].write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    files["junit"].write_text(junit_xml(summary), encoding="utf-8")
    files["markdown"].write_text(markdown(summary, list(plots)), encoding="utf-8")
    files["html"].write_text(html_report(summary, plots), encoding="utf-8")
    return files


def _short_alert(a: dict) -> str:
    labels = a["labels"]
    window = f"{labels['long']}/{labels['short']}" if "long" in labels else ""
    return " ".join(x for x in (a["alert"], labels.get("slo", ""), labels.get("severity", ""),
                                window) if x)


def print_summary(console: Console, summary: dict) -> None:
    """The terminal's summary tables (compact enough for an 80-column CI log) and the verdict."""
    table = Table(title="expectations", title_justify="left")
    for column in ("phase", "expectation", "observed", "result"):
        table.add_column(column)
    styles = {"passed": "green", "failed": "bold red", "skipped": "dim"}
    for e in summary["expectations"]:
        table.add_row(e["phase"], f"{e['kind']} {e['subject']} {e['expected']}", e["observed"],
                      f"[{styles[e['status']]}]{e['status'].upper()}[/]")
    console.print(table)
    if summary["alerts"]:
        timings = Table(title="alert timings, s (from the fault's start; resolve: from its end)",
                        title_justify="left")
        for column in ("alert", "pending", "fire", "theory", "x", "notify", "resolve",
                       "notified"):
            timings.add_column(column)
        for a in summary["alerts"]:
            theory = a.get("theory")
            ratio = a.get("detection_ratio")
            timings.add_row(_short_alert(a), _s(a["pending_s"]), _s(a["fire_s"]),
                            _s(theory["theory_s"]) if theory else "-",
                            f"{ratio:.2f}" if ratio is not None else "-", _s(a["notify_s"]),
                            _s(a["resolve_s"]), _s(a["notify_resolved_s"]))
        console.print(timings)
    for e in summary["expectations"]:
        if e["status"] == "failed":
            console.print(f"[red]✗[/] {e['phase']}: {e['reason']}", soft_wrap=True)
    colour = "green" if summary["status"] == "passed" else "red"
    console.print(f"[bold {colour}]{summary['status'].upper()}[/] {summary['reason']}",
                  soft_wrap=True)
    console.print(f"report: {Path(summary['run_dir']) / summary['artifacts']['html']}",
                  highlight=False, soft_wrap=True)
