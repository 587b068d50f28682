"""How a check's result is shown: a terminal table, JSON, JUnit XML and Markdown.

Every writer takes the check's Outcome (slo.judge.outcome.decide(), made once per check) beside
its result and shows it as it is: what passed, failed or could not be evaluated, and the exit
code, are never worked out again here from a verdict's status.
"""

import json
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness_common.console import print_table as print_table_titled
from harness_common.durations import format_duration
from slo.judge.checker import MET, WARN, CheckResult, Verdict, format_value
from slo.judge.clientside import LatencyComparison
from slo.judge.outcome import FAILED, NOT_EVALUATED, PASSED, Outcome, SloOutcome
from slo.junit import Case, junit_xml
from slo.units import share_text

COLOUR = {PASSED: "green", FAILED: "red", NOT_EVALUATED: "magenta"}


def _style(s: SloOutcome) -> str:
    """An SLO's colour: its outcome's, yellow for a warning that passed."""
    if s.outcome == FAILED:
        return "bold red"
    return "yellow" if s.outcome == PASSED and s.status == WARN else COLOUR[s.outcome]


def _icon(s: SloOutcome) -> str:
    """An SLO's Markdown icon: its outcome's, ⚠️ for a warning that passed."""
    if s.outcome == PASSED:
        return "⚠️" if s.status == WARN else "✅"
    return "❌" if s.outcome == FAILED else "❔"


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


def _reason(v: Verdict, outcome: Outcome) -> str:
    """The verdict's reason, and the flag's rule that decided its outcome: "met, inside the
    warning band; fails --strict"."""
    rule = outcome.slo(v.name).rule
    return v.reason + (f"; {rule}" if rule else "")


def _events(v: Verdict) -> str:
    return "—" if v.total_events is None else f"{v.total_events:.0f}"


def _observed(v: Verdict) -> str:
    """The share of the window its targets' scrapes observed (the gaps are in its notes)."""
    return "—" if v.coverage is None else share_text(v.coverage.observed)


def _lines(v: Verdict, outcome: Outcome) -> list[tuple[str, str]]:
    """What is said of a verdict below the table: its reason (unless met), its slices, its
    notes; as (label, text), the label "NOT EVALUATED" (or "INCONCLUSIVE") on the reason of
    a verdict the gate could not evaluate, else empty."""
    judged = outcome.slo(v.name)
    label = judged.label if judged.outcome == NOT_EVALUATED else ""
    lines = [] if v.status == MET else [(label, _reason(v, outcome))]
    if v.slices is not None:
        lines.append(("", f"slices {v.slices.passed}/{v.slices.total} held (step "
                          f"{v.slices.step_s}s, {v.slices.no_data} without data)"))
    return lines + [("", note) for note in v.notes]


def said_once(result: CheckResult, outcome: Outcome) -> list[tuple[tuple[str, ...], str, str]]:
    """Each thing said about the verdicts once, with the SLOs it is said of, in order: a cause
    several SLOs share (a down target, the proxy's faults, a stale metric) is one paragraph,
    not one per SLO. (names, label, text): label is "NOT EVALUATED" for a refusal's reason."""
    said: dict[tuple[str, str], list[str]] = {}
    for v in result.verdicts:
        for key in _lines(v, outcome):
            names = said.setdefault(key, [])
            if v.name not in names:
                names.append(v.name)
    return [(tuple(names), label, text) for (label, text), names in said.items()]


def _who(names: tuple[str, ...], result: CheckResult) -> str:
    if len(names) > 1 and len(names) == len(result.verdicts):
        return f"every SLO ({', '.join(names)})"
    return ", ".join(names)


def print_table(result: CheckResult, outcome: Outcome, console: Console,
                client: LatencyComparison | None = None) -> None:
    """The verdicts as a table (colour on a TTY; whole names on one line elsewhere: see
    harness_common.console), each reason and note once with the SLOs it is said of, the
    client's latency beside the server's when the window is a run's, then the outcome's line.
    Everything is printed as it is (never read as markup)."""
    table = Table(title_justify="left")
    for col in ("SLO", "objective", "measured", "margin", "under threshold", "requests",
                "verdict"):
        table.add_column(col, overflow="fold")
    for v in result.verdicts:
        name = v.name + (" (key)" if v.key else "")
        judged = outcome.slo(v.name)
        table.add_row(*(Text(cell) for cell in (name, v.objective, v.shown, _margin(v),
                                                 _under(v), _events(v))),
                      Text(judged.label, style=_style(judged)))
    print_table_titled(console, f"{result.service}: {result.window.iso('start')} → "
                                f"{result.window.iso('end')} ({result.window.seconds}s, "
                                f"{result.window.source})", table)
    for note in result.notes:
        console.print(Text(f"  note: {note}"), soft_wrap=True)
    for names, label, text in said_once(result, outcome):
        head = Text(f"  {_who(names, result)}: ")
        if label:
            head.append(label, style=_style(outcome.slo(names[0])))
            head.append(": ")
        console.print(head + Text(text), soft_wrap=True)
    if client is not None:
        console.print(Text(f"  client vs server latency ({client.slo}; {client.client_count} "
                           f"requests timed by the client, {client.server_count:.0f} in the "
                           f"server's histogram):"), soft_wrap=True)
        for q, mine, theirs, mark in client.rows():
            console.print(Text(f"    {q}: client {mine}, server {theirs}: {mark}"),
                          soft_wrap=True)
        for line in client.warnings:
            console.print(Text.assemble("  ", ("warning", "yellow"), f": {line}"),
                          soft_wrap=True)
    code = outcome.exit_code
    console.print(Text.assemble((outcome.headline, COLOUR[outcome.overall]),
                                f" (exit {code}; evaluated in "
                                f"{result.evaluated_in_s * 1000:.0f} ms against "
                                f"{result.prometheus})"), soft_wrap=True)


def to_json(result: CheckResult, outcome: Outcome, costs: list[dict] | None = None,
            client: LatencyComparison | None = None, backend=None) -> str:
    """The result as JSON text (the --baseline input format) with its outcome: "outcome"
    (passed, failed, not_evaluated), "exit_code", "verdict" (the headline), "strict" and
    "counts", and each SLO's "outcome" beside its verdict's "status"; `costs`: what the window
    cost each SLO's error budget (slo.alerting.budget.WindowCost.as_dict), under "budget";
    `client`: the run's client-side percentiles beside the server's, under "client_latency";
    `backend` (slo.judge.backend.Backend): which backend answered, under "backend"."""
    data = result.to_json()
    slos = data.pop("slos")
    data.update(outcome.as_dict())
    data["slos"] = [{**item, "outcome": outcome.slo(item["name"]).outcome} for item in slos]
    if costs is not None:
        data["budget"] = costs
    if client is not None:
        data["client_latency"] = client.as_dict()
    if backend is not None:
        data["backend"] = backend.as_dict()
    return json.dumps(data, indent=2) + "\n"


def budget_lines(costs: list[dict]) -> list[str]:
    """The Markdown table of what the window cost each SLO's error budget."""
    if not costs:
        return []
    period = format_duration(costs[0]["period_s"])
    lines = ["", f"#### Error budget ({costs[0]['profile']} profile: a {period} period)", "",
             "| SLO | bad events | burn rate | budget spent in the window | rows burning now |",
             "|---|---|---|---|---|"]
    for c in costs:
        burning = [f"{r['severity']} {r['factor']:g}× ({format_duration(r['long_s'])}/"
                   f"{format_duration(r['short_s'])}: {r['long_burn']}× / {r['short_burn']}×)"
                   for r in c["rows"] if r["burning"]]
        burn = "—" if c["burn_rate"] is None else f"{c['burn_rate']:g}×"
        lines.append(f"| {c['slo']} | {share_text(c['bad_ratio'])} | {burn} | "
                     f"{share_text(c['budget_spent'])} of {format_duration(c['period_s'])} | "
                     f"{'; '.join(burning) or 'none'} |")
    return lines


def client_lines(client: LatencyComparison | None) -> list[str]:
    """The Markdown table of the client's percentiles beside the server histogram's."""
    if client is None:
        return []
    lines = ["", f"#### Client vs server latency ({client.slo})", "",
             f"{client.client_count} requests timed by the load generator (exact to 0.1%), "
             f"{client.server_count:.0f} in the server's histogram.", "",
             "| quantile | client | server (bucket) | |", "|---|---|---|---|"]
    lines += [f"| {q} | {mine} | {theirs} | {mark} |" for q, mine, theirs, mark in client.rows()]
    if client.warnings:
        lines += [""] + [f"> ⚠️ {w}" for w in client.warnings]
    return lines


JUNIT = {PASSED: "passed", FAILED: "failure", NOT_EVALUATED: "error"}


def to_junit(result: CheckResult, outcome: Outcome) -> str:
    """JUnit XML: one testsuite, one testcase per SLO: a <failure> for a failed SLO (violated,
    or a warning under --strict), an <error> for one not evaluated (no data, inconclusive; the
    type says which), so the counts tell what the exit code does. No SLO judged at all (exit
    2) is one <error> case."""
    cases = []
    for v in result.verdicts:
        judged, reason = outcome.slo(v.name), _reason(v, outcome)
        detail = f"{v.objective}: measured {v.shown}, requests {_events(v)}; {reason}"
        kind = "" if judged.outcome == PASSED else v.status
        cases.append(Case(f"slo.{result.service}", v.name, JUNIT[judged.outcome], reason,
                          kind, detail))
    if not outcome.slos:
        cases.append(Case(f"slo.{result.service}", "every SLO judged", "error",
                          outcome.headline, NOT_EVALUATED))
    return junit_xml(f"slo-check {result.service}", cases, time_s=result.evaluated_in_s,
                     timestamp=result.window.iso("end"), root_name="slo-check",
                     properties=[("spec", result.spec), ("prometheus", result.prometheus),
                                 ("window.start", result.window.iso("start")),
                                 ("window.end", result.window.iso("end"))])


def to_markdown(result: CheckResult, outcome: Outcome, costs: list[dict] | None = None,
                client: LatencyComparison | None = None, backend=None) -> str:
    """A Markdown table for a pull-request comment (with the error budget it cost and the
    client's latency beside the server's)."""
    lines = [f"### SLO check: {outcome.headline}", "",
             f"`{result.service}` from {result.window.iso('start')} to "
             f"{result.window.iso('end')} ({result.window.seconds}s, {result.window.source})", "",
             "| SLO | objective | measured | margin | under threshold | requests | observed | "
             "verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for v in result.verdicts:
        judged = outcome.slo(v.name)
        lines.append(f"| {v.name}{' (key)' if v.key else ''} | {v.objective} | "
                     f"{v.shown} | {_margin(v)} | {_under(v)} | "
                     f"{_events(v)} | {_observed(v)} | {_icon(judged)} {judged.label} |")
    notes = [f"- **{_who(names, result)}**: {f'{label}: ' if label else ''}{text}"
             for names, label, text in said_once(result, outcome)]
    notes += [f"- {note}" for note in result.notes]
    return "\n".join(lines + budget_lines(costs or []) + client_lines(client)
                     + ([""] + notes if notes else [])) + "\n"


def write(path: str, text: str, console: Console) -> None:
    """Write text to a file, or to stdout for '-'."""
    if path == "-":
        console.out(text, end="")
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
