"""How a check's result is shown: a terminal table, JSON, JUnit XML and Markdown."""

import json
import math
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from slo.judge.checker import MET, NO_DATA, VIOLATED, WARN, CheckResult, Verdict, format_value

STYLE = {MET: "green", WARN: "yellow", VIOLATED: "bold red", NO_DATA: "magenta"}
LABEL = {MET: "MET", WARN: "WARN", VIOLATED: "VIOLATED", NO_DATA: "NO DATA"}
VERDICT_LINE = {0: "all SLOs met", 1: "SLO violated", 2: "could not evaluate (no data)"}


def _margin(v: Verdict) -> str:
    if v.margin is None:
        return "—"
    if math.isinf(v.margin):
        return "-Inf" if v.margin < 0 else "+Inf"
    sign = "+" if v.margin >= 0 else "-"
    return sign + format_value(abs(v.margin), v.unit)


def _under(v: Verdict) -> str:
    if v.good_fraction is None:
        return "—"
    what = f"≤{v.threshold_s * 1000:g}ms" if v.threshold_s is not None else "good"
    return f"{v.good_fraction * 100:.2f}% {what}"


def _events(v: Verdict) -> str:
    return "—" if v.total_events is None else f"{v.total_events:.0f}"


def print_table(result: CheckResult, console: Console) -> None:
    """The verdicts as a table (colour on a TTY), then one verdict line."""
    table = Table(title=f"{result.service}: {result.window.iso('start')} → "
                        f"{result.window.iso('end')} ({result.window.seconds}s, "
                        f"{result.window.source})", title_justify="left")
    for col in ("SLO", "objective", "measured", "margin", "under threshold", "requests",
                "verdict"):
        table.add_column(col, overflow="fold")
    for v in result.verdicts:
        name = v.name + (" (key)" if v.key else "")
        table.add_row(name, v.objective, format_value(v.value, v.unit), _margin(v), _under(v),
                      _events(v), f"[{STYLE[v.status]}]{LABEL[v.status]}[/]")
    console.print(table)
    for v in result.verdicts:
        extra = [] if v.status in (MET,) else [v.reason]
        if v.slices is not None:
            extra.append(f"slices {v.slices.passed}/{v.slices.total} held "
                         f"(step {v.slices.step_s}s, {v.slices.no_data} without data)")
        for line in extra + v.notes:
            console.print(f"  {v.name}: {line}")
    code = result.exit_code
    colour = "green" if code == 0 else "red" if code == 1 else "magenta"
    console.print(f"[{colour}]{VERDICT_LINE[code]}[/] (exit {code}; "
                  f"evaluated in {result.evaluated_in_s * 1000:.0f} ms against "
                  f"{result.prometheus})")


def to_json(result: CheckResult) -> str:
    """The result as JSON text (the --baseline input format)."""
    return json.dumps(result.to_json(), indent=2) + "\n"


def to_junit(result: CheckResult) -> str:
    """JUnit XML: one testsuite, one testcase per SLO (failure = violated, error = no data)."""
    failures = sum(v.status == VIOLATED for v in result.verdicts)
    errors = sum(v.status == NO_DATA for v in result.verdicts)
    suite = ET.Element("testsuite", name=f"slo-check {result.service}",
                       tests=str(len(result.verdicts)), failures=str(failures),
                       errors=str(errors), skipped="0",
                       time=f"{result.evaluated_in_s:.3f}", timestamp=result.window.iso("end"))
    props = ET.SubElement(suite, "properties")
    for name, value in (("spec", result.spec), ("prometheus", result.prometheus),
                        ("window.start", result.window.iso("start")),
                        ("window.end", result.window.iso("end"))):
        ET.SubElement(props, "property", name=name, value=value)
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"slo.{result.service}", name=v.name,
                             time="0")
        detail = (f"{v.objective}: measured {format_value(v.value, v.unit)}, "
                  f"requests {_events(v)}; {v.reason}")
        if v.status == VIOLATED:
            ET.SubElement(case, "failure", message=v.reason, type="violated").text = detail
        elif v.status == NO_DATA:
            ET.SubElement(case, "error", message=v.reason, type="no_data").text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    root = ET.Element("testsuites", name="slo-check", tests=str(len(result.verdicts)),
                      failures=str(failures), errors=str(errors))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def to_markdown(result: CheckResult) -> str:
    """A Markdown table for a pull-request comment."""
    icon = {MET: "✅", WARN: "⚠️", VIOLATED: "❌", NO_DATA: "❔"}
    lines = [f"### SLO check: {VERDICT_LINE[result.exit_code]}", "",
             f"`{result.service}` from {result.window.iso('start')} to "
             f"{result.window.iso('end')} ({result.window.seconds}s, {result.window.source})", "",
             "| SLO | objective | measured | margin | under threshold | requests | verdict |",
             "|---|---|---|---|---|---|---|"]
    for v in result.verdicts:
        lines.append(f"| {v.name}{' (key)' if v.key else ''} | {v.objective} | "
                     f"{format_value(v.value, v.unit)} | {_margin(v)} | {_under(v)} | "
                     f"{_events(v)} | {icon[v.status]} {LABEL[v.status]} |")
    notes = [f"- **{v.name}**: {line}" for v in result.verdicts
             for line in ([v.reason] if v.status != MET else []) + v.notes]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def write(path: str, text: str, console: Console) -> None:
    """Write text to a file, or to stdout for '-'."""
    if path == "-":
        console.out(text, end="")
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
