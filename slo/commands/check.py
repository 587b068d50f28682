"""`slo check`: the CI gate. Judge every SLO of the spec over a window against Prometheus.

    slo check                                   # the latest run record under reports/
    slo check --run reports/<id>/run.json       # that run's window
    slo check --last 5m | --start T --end T     # an explicit window
    slo check --step 30s --slices 90%           # must hold in >= 90% of 30 s slices
    slo check --baseline prev.json --max-regression 10%
    slo check --min-coverage 95%                # exit 2 unless 95% of the window was scraped
    slo check --json out.json --junit junit.xml --markdown pr.md

A run record's window also shows the client's exact p50/p95/p99 (the load generator's HDR
histograms) beside the server histogram's, with a warning where they disagree.

Exit codes: 0 every SLO met (warnings allowed unless --strict), 1 at least one violated (or
a warning under --strict), 2 could not evaluate (Prometheus unreachable after bounded retries,
bad spec, no data). The terminal, JSON, JUnit and Markdown tell the same outcome (one
slo.judge.outcome.Outcome, decided once).
"""

import json
import time

from rich.console import Console

from harness_common.durations import whole_seconds
from harness_common.errors import InputError
from harness_common.inputs import read_input
from harness_common.stackenv import read_stack_env, resolve_prometheus_url
from slo.alerting.budget import budget_queries, window_cost
from slo.alerting.burnrate import PROFILES, Profile
from slo.errors import PrometheusError, SpecError, WindowError
from slo.judge import outputs
from slo.judge.backend import Backend
from slo.judge.checker import baseline_values
from slo.judge.coverage import MIN_SHARE
from slo.judge.judgement import Judgement, Request, judge_window
from slo.judge.observe import observe
from slo.judge.prom import Prometheus
from slo.judge.window import CLOCK_SLACK_S, Window
from slo.spec import load_spec
from slo.spec.choice import choose_spec

HELP = "judge the SLOs over a run/window against Prometheus (exit 0 met, 1 violated, 2 no eval)"
DEFAULT_SPEC = "slo/slos.yaml"
# Prometheus scrapes every 5 s: wait this long after a window's end so the last scrape that
# belongs to the window has happened before judging it.
SETTLE_S = 6.0
BASELINE_MAX_BYTES = 16 * 1024 * 1024


def _percent(flag: str, text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise WindowError(f"{flag}: expected a percentage like 10% (got {text!r})") from None
    if not 0 <= value <= 1:
        raise WindowError(f"{flag}: must be between 0% and 100% (got {text!r})")
    return value


def add_arguments(parser) -> None:
    """Register the options of `slo check`."""
    parser.add_argument("--spec", default=None,
                        help=f"spec file (default: the stack's SLO_SPEC in .stack/env; none in "
                             f"front of TARGET_URL; else {DEFAULT_SPEC})")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--run", help="run record (reports/<id>/run.json or its folder)")
    window.add_argument("--last", help="the window ending now, e.g. 5m")
    window.add_argument("--start", help="window start (ISO-8601 or unix seconds); needs --end")
    parser.add_argument("--end", help="window end (with --start)")
    parser.add_argument("--prometheus", help="Prometheus URL (default PROMETHEUS_URL, "
                        ".stack/env, or http://127.0.0.1:$PROMETHEUS_PORT)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per query try")
    parser.add_argument("--retries", type=int, default=3, help="tries per query")
    parser.add_argument("--slo", action="append", default=[], help="only this SLO (repeatable)")
    parser.add_argument("--step", help="sliding windows: judge each slice of this length")
    parser.add_argument("--slices", default="100%",
                        help="with --step: share of slices that must hold (default 100%%)")
    parser.add_argument("--baseline", help="a previous --json result to compare against")
    parser.add_argument("--max-regression", default="10%",
                        help="with --baseline: allowed relative regression (default 10%%)")
    parser.add_argument("--strict", action="store_true", help="a warning fails the check")
    parser.add_argument("--min-coverage", default=f"{MIN_SHARE:.0%}",
                        help="share of the window its targets' scrapes must have observed, "
                             "else exit 2 (default %(default)s)")
    parser.add_argument("--json", help="write the result as JSON ('-' for stdout)")
    parser.add_argument("--junit", help="write JUnit XML (one testcase per SLO)")
    parser.add_argument("--markdown", help="write a Markdown table (for a PR comment)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None,
                        help="time scale of the budget and burn rates shown with --json and "
                             "--markdown (default: the stack's SLO_PROFILE, else standard)")
    parser.add_argument("--no-settle", action="store_true",
                        help="do not wait for the scrape after the window's end")


def spec_path(given: str | None) -> str:
    """The spec to judge (slo.spec.choice); SpecError (exit 2) naming what to give when the
    stack runs in front of a service and records no spec."""
    choice = choose_spec(given, read_stack_env())
    if choice.path is None:
        raise SpecError("--spec", choice.why)
    return choice.path


def resolve_window(args) -> Window:
    """The window from --run / --last / --start+--end, or the latest run record."""
    if args.start or args.end:
        if not (args.start and args.end):
            raise WindowError("--start and --end go together")
        return Window.from_range(args.start, args.end)
    if args.last:
        return Window.from_last(args.last, time.time())
    if args.run:
        return Window.from_run(args.run)
    from loadtests.record import find_latest, reports_dir

    latest = find_latest()
    if latest is None:
        raise WindowError(f"no run record under {reports_dir()}/: run a load test first "
                          f"(make load-headless) or give --run, --last or --start/--end")
    return Window.from_run(latest)


def settle(window: Window, args, now: float, hidden_s: float = 0.0) -> None:
    """Wait (unless --no-settle) until SETTLE_S after the window's end, so the scrape after it
    is in; the end is at most CLOCK_SLACK_S ahead (Window.require_happened). `hidden_s`: the
    newest seconds the backend hides from queries (VictoriaMetrics's -search.latencyOffset)."""
    wait = window.end + SETTLE_S + hidden_s - now
    if not args.no_settle and wait > 0:
        time.sleep(min(wait, SETTLE_S + CLOCK_SLACK_S + hidden_s))


def run(args, console: Console) -> int:
    """Turn the arguments into a Request, observe the window, judge it (slo.judge.judgement:
    one pure function), print the judgement; return its exit code."""
    spec = load_spec(spec_path(args.spec))
    window = resolve_window(args)
    window.require_happened(time.time())
    try:
        step_s = whole_seconds(args.step) if args.step else None
    except ValueError as err:
        raise WindowError(f"--step: {err}") from None
    if step_s is not None and step_s > window.seconds:
        raise WindowError(f"--step {args.step} is longer than the window ({window.seconds}s)")
    unknown = [name for name in args.slo if name not in {s.name for s in spec.slos}]
    if unknown:
        raise WindowError(f"--slo {', '.join(unknown)}: no such SLO in {spec.source} (its SLOs: "
                          f"{', '.join(s.name for s in spec.slos)})")
    baseline = None
    if args.baseline:
        try:
            data = read_input(args.baseline, what="check result", max_bytes=BASELINE_MAX_BYTES,
                              missing_hint="pass a file written by `slo check --json`")
            baseline = baseline_values(json.loads(data))
        except (InputError, ValueError) as err:
            raise WindowError(f"--baseline {args.baseline}: cannot read a check result: "
                              f"{err}") from None
    prom = Prometheus(resolve_prometheus_url(args.prometheus), timeout=args.timeout,
                      attempts=args.retries)
    backend = prom.backend()
    settle(window, args, time.time(), backend.latency_offset_s)
    request = Request(strict=args.strict, baseline=baseline, step_s=step_s,
                      max_regression=_percent("--max-regression", args.max_regression),
                      slice_fraction=_percent("--slices", args.slices), only=tuple(args.slo),
                      min_coverage=_percent("--min-coverage", args.min_coverage))
    judgement = judge_window(spec, observe(prom, spec, window, request), window, request)
    costs = budget_costs(spec, prom, judgement, profile_of(args)) if (
        args.json or args.markdown) else []
    return report(judgement, args, console, costs, backend)


def report(judgement: Judgement, args, console: Console, costs: list[dict],
           backend: Backend | None = None) -> int:
    """Print the judgement and write every output asked for from its one outcome; return its
    exit code. A backend other than Prometheus is named, with where it differs."""
    outcome, client = judgement.outcome, judgement.client
    if args.json != "-":
        outputs.print_table(judgement, outcome, console, client)
        if backend is not None and backend.notes:
            console.print(f"backend: {backend.name}", markup=False, soft_wrap=True)
            for note in backend.notes:
                console.print(f"  {note}", markup=False, soft_wrap=True)
    for path, render in ((args.json, lambda: outputs.to_json(judgement, outcome, costs, client,
                                                             backend)),
                         (args.junit, lambda: outputs.to_junit(judgement, outcome)),
                         (args.markdown,
                          lambda: outputs.to_markdown(judgement, outcome, costs, client))):
        if path:
            outputs.write(path, render(), console)
    return outcome.exit_code


def profile_of(args) -> Profile:
    """--profile, else the stack's (.stack/env SLO_PROFILE), else standard."""
    name = args.profile or read_stack_env().get("SLO_PROFILE") or "standard"
    return PROFILES.get(name, PROFILES["standard"])


def budget_costs(spec, prom: Prometheus, result, profile: Profile) -> list[dict]:
    """What the window cost each SLO with a budget: burn rate, share of the period's budget
    spent, and every burn-rate row at the window's end (the rows' queries at its end)."""
    by_name = {s.name: s for s in spec.slos}
    costs = []
    for verdict in result.verdicts:
        slo = by_name.get(verdict.name)
        if slo is None or slo.error_budget is None:
            continue
        bad = None if verdict.good_fraction is None else max(0.0, 1.0 - verdict.good_fraction)
        try:
            ratios = {w: prom.scalar(expr, result.window.end)
                      for w, expr in budget_queries(slo, profile).items()}
        except PrometheusError:
            ratios = None
        cost = window_cost(slo, profile, bad, result.window.seconds, ratios)
        costs.append({**cost.as_dict(), "profile": profile.name})
    return costs
