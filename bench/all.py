"""`make bench`: every benchmark in one go -> reports/bench/summary.json and a table.

    python -m bench.all             # about 4-5 minutes
    python -m bench.all --quick     # about 1.5 minutes, fewer/shorter runs, no experiment
    python -m bench.all --only app,slo   # the others keep their last entry in
                                                    # summary.json

Runs, each as its own process (a crash in one does not lose the others):
    app         bench.app_overhead    RED instrumentation on vs off (wrk, alternating)
    load        bench.load_capacity   the harness's load vs wrk and bare Locust against nginx
                                                (--processes per core); repeated
    proxy       bench.proxy           the fault proxy's added latency (median, p99) vs direct,
                                                and Locust vs wrk vs Envoy-proxied against nginx
    slo         bench.slo_check       `slo check` wall time; p95 vs the exact p95
    detection   `slo run slo/experiments/smoke.yaml` on a private native stack (free ports,
                its own run directory): time-to-fire / -notify / -resolve of the page alert

Every figure is the median of several runs with min and max; every comparison is a ratio of
two figures measured in the same run (this machine is shared and noisy: figures from different
runs are not compared). A benchmark that cannot run here (no wrk, no Prometheus, no `slo run`)
is skipped with a note; one that fails is reported as failed, and the exit code is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import bench_dir, summarize, write_result
from stack.config import private_stack_env
from stack.procs import find_binary

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = REPO / "slo" / "experiments" / "smoke.yaml"


@dataclass
class Outcome:
    """What one benchmark produced: figures (median/min/max) and same-run ratios."""

    name: str
    status: str = "ok"  # ok | skipped | failed
    note: str = ""
    seconds: float = 0.0
    figures: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    source: str | None = None
    runs: list[dict] = field(default_factory=list)  # raw results of repeated runs

    def figure(self, name: str, unit: str, stats: dict) -> None:
        """Add a figure from a summarize()-shaped dict."""
        self.figures.append({"name": name, "unit": unit, **stats})

    def ratio(self, name: str, stats: dict, meaning: str) -> None:
        """Add a comparison (a ratio of two figures of the same run)."""
        self.comparisons.append({"name": name, "meaning": meaning, **stats})


def one(value: float) -> dict:
    """A single measurement in summarize()'s shape."""
    return summarize([value])


def run_module(argv: list[str], log: Path, timeout: float, env: dict | None = None) -> int:
    """Run `python -m ...` from the repository root with output in `log`; its exit code."""
    with open(log, "ab") as out:
        try:
            return subprocess.run([sys.executable, "-m", *argv], cwd=REPO, stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  env=env, timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            return -1


def fresh_result(name: str, since: float) -> dict | None:
    """reports/bench/<name>.json if a run that started at `since` wrote it, else None."""
    path = bench_dir() / f"{name}.json"
    if not path.is_file() or path.stat().st_mtime < since:
        return None
    return json.loads(path.read_text())


def log_tail(log: Path, lines: int = 5) -> str:
    """The last lines of a log, for a failure note."""
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_bench(out: Outcome, name: str, args: list[str], logs: Path, timeout: float,
              what: str = "") -> dict | None:
    """Run bench.<module> writing reports/bench/<name>.json; its data, or None with `out`
    marked failed (exit code and the log's tail)."""
    module = {"app": "app_overhead", "load": "load_capacity", "slo": "slo_check",
              "proxy": "proxy"}[name]
    log = logs / f"{name}.log"
    began = time.time()
    code = run_module([f"bench.{module}", *args], log, timeout=timeout)
    data = fresh_result(name, began)
    if code != 0 or data is None:
        out.status, out.note = "failed", f"{what}exit {code}: {log_tail(log)}"
        return None
    return data


# ----------------------------------------------------------------------------- benchmarks

def bench_app(quick: bool, logs: Path) -> Outcome:
    """Instrumented vs uninstrumented app under wrk (bench.app_overhead)."""
    out = Outcome("app", source="reports/bench/app.json")
    if shutil.which("wrk") is None:
        out.status, out.note = "skipped", "wrk is not installed (make setup)"
        return out
    args = ["--rounds", "2", "--seconds", "3"] if quick else ["--rounds", "3", "--seconds", "5"]
    data = run_bench(out, "app", args, logs, timeout=300)
    if data is None:
        return out
    for variant in ("instrumented", "uninstrumented"):
        out.figure(f"{variant} /api/projects throughput", "req/s", data["figures"][variant]["rps"])
        out.figure(f"{variant} p99", "ms", data["figures"][variant]["p99_ms"])
    on, off = data["rounds"]["instrumented"], data["rounds"]["uninstrumented"]
    ratios = [a["rps"] / b["rps"] for a, b in zip(on, off, strict=True) if b["rps"]]
    out.ratio("throughput instrumented / off (per round)", summarize(ratios),
              "1.0 = no cost; the goal is >= 0.90 (overhead <= 10%)")
    out.note = f"overhead {data['overhead_percent']}% (ratio of the medians)"
    return out


LOAD_SERIES = (  # (figure, unit, run, field) of reports/bench/load.json
    ("wrk -t<cores> against nginx", "req/s", "wrk", "rps"),
    ("bare FastHttpUser, 1 process", "req/s", "bare_1", "rps"),
    ("bare FastHttpUser, --processes <cores>", "req/s", "bare_procs", "rps"),
    ("harness, same user, --processes <cores>", "req/s", "harness_static", "rps"),
    ("harness, its own users, --processes <cores>", "req/s", "harness_users", "rps"),
    ("Locust CPU per request, bare", "us", "bare_procs", "client_cpu_us_per_request"),
    ("Locust CPU per request, harness (same user)", "us", "harness_static",
     "client_cpu_us_per_request"),
    ("wrk CPU per request", "us", "wrk", "client_cpu_us_per_request"),
    ("cores used by Locust, harness users", "cores", "harness_users", "client_cores"),
    ("cores used by nginx under wrk", "cores", "wrk", "nginx_cores"),
)
LOAD_RATIOS = (  # (comparison, ratios key, meaning)
    ("harness users / wrk", "harness_users_vs_wrk",
     "the harness's load as a share of wrk's on the same cores and target; goal >= 0.5"),
    ("harness same user / wrk", "harness_static_vs_wrk", "same request as wrk"),
    ("bare Locust --processes / wrk", "bare_procs_vs_wrk", "Locust without the harness"),
    ("harness / bare Locust (same user)", "harness_static_vs_bare_procs",
     "1.0 = the harness's recording costs nothing"),
    ("--processes <cores> / 1 process", "processes_vs_one", "what more processes give"),
    ("harness / bare Locust, CPU per request", "harness_static_cpu_vs_bare_procs",
     "1.0 = the harness costs nothing; steadier than req/s when other work takes the cores"),
)


def load_outcome(runs: list[dict]) -> Outcome:
    """The summary entry for reports/bench/load.json results (one per repeat)."""
    out = Outcome("load", source="reports/bench/load.json (last run; every run in "
                                 "summary.json)")
    for name, unit, run, key in LOAD_SERIES:
        values = [r["runs"][run][key] for r in runs
                  if r["runs"].get(run) and r["runs"][run].get(key) is not None]
        if values:
            out.figure(name, unit, summarize(values))
    cost = [r["latency_recording"]["harness_listener_us_per_request"] for r in runs]
    out.figure("harness request listener (client metrics + HdrHistogram)", "us",
               summarize(cost))
    for name, key, meaning in LOAD_RATIOS:
        values = [r["ratios"][key] for r in runs if r["ratios"].get(key) is not None]
        if values:
            out.ratio(name, summarize(values), meaning)
    shares = [r["latency_recording"]["share_of_locust_cpu_per_request"] for r in runs
              if r["latency_recording"].get("share_of_locust_cpu_per_request") is not None]
    if shares:
        out.ratio("latency recording / Locust CPU per request", summarize(shares),
                  "what keeping every response time costs")
    headline = [r["ratios"].get("harness_users_vs_wrk") for r in runs]
    if None in headline:
        out.note = "wrk is not installed: no ratio to wrk (make setup)"
    else:
        needed = [r["goal"].get("client_cores_needed") for r in runs]
        out.note = (f"harness users / wrk {', '.join(f'{v:g}' for v in headline)} (goal >= "
                    f"{runs[-1]['goal']['harness_users_vs_wrk_at_least']}); at the measured CPU "
                    f"per request the goal needs {', '.join(f'{v:g}' for v in needed if v)} "
                    f"cores of Locust workers; load average "
                    + ", ".join(f"{r['load_average_1m']['before']}->"
                                f"{r['load_average_1m']['after']}" for r in runs))
    records = [r["runs"]["harness_users"]["run_record"] for r in runs]
    if not all(rec["latency_counts_every_request"] for rec in records):
        out.status = "failed"
        out.note = ("the HdrHistogram count differs from Locust's request count in a run "
                    "record with --processes: " + "; ".join(rec["path"] for rec in records))
    out.runs = runs
    return out


def bench_load(quick: bool, logs: Path) -> Outcome:
    """The harness's load next to wrk and bare Locust, repeated (bench.load_capacity)."""
    if find_binary("nginx") is None and not Path("/usr/sbin/nginx").is_file():
        return Outcome("load", status="skipped",
                       note="nginx is not installed (apt-get install nginx)")
    repeats, args = (1, ["--seconds", "6"]) if quick else (2, ["--seconds", "10"])
    runs = []
    for i in range(repeats):
        out = Outcome("load")
        data = run_bench(out, "load", args, logs, timeout=400, what=f"run {i + 1}: ")
        if data is None:
            return out
        runs.append(data)
    return load_outcome(runs)


def bench_proxy(quick: bool, logs: Path) -> Outcome:
    """The fault proxy's cost and the load generator's capacity against nginx (bench.proxy)."""
    out = Outcome("proxy", source="reports/bench/proxy.json")
    if find_binary("nginx") is None and not Path("/usr/sbin/nginx").is_file():
        out.status, out.note = "skipped", "nginx is not installed (apt-get install nginx)"
        return out
    args = (["--rounds", "2", "--requests", "1000", "--seconds", "3"] if quick
            else ["--rounds", "3", "--requests", "2000", "--seconds", "5"])
    data = run_bench(out, "proxy", args, logs, timeout=300)
    if data is None:
        return out
    latency = data["added_latency"]
    for path in ("direct", "proxied"):
        out.figure(f"{path} median (1 connection, sequential)", "ms",
                   one(latency[path]["median_ms"]))
        out.figure(f"{path} p99", "ms", one(latency[path]["p99_ms"]))
    out.figure("added by the proxy, median", "ms", one(latency["added"]["median_ms"]))
    out.figure("added by the proxy, p99", "ms", one(latency["added"]["p99_ms"]))
    for name, rps in data["capacity_rps"].items():
        out.figure(f"capacity {name.replace('_', ' ')}", "req/s", one(rps))
    for name, value in data["ratios"].items():
        if value is not None:
            out.ratio(name.replace("_", " "), one(value), "same run, same target")
    out.note = (f"adds {latency['added']['median_ms'] * 1000:.0f} us at the median (goal < 1 ms: "
                f"{'met' if latency['goal_met'] else 'NOT met'})")
    return out


def bench_slo(quick: bool, logs: Path) -> Outcome:
    """`slo check` speed and p95 accuracy (bench.slo_check)."""
    out = Outcome("slo", source="reports/bench/slo.json")
    if find_binary("prometheus") is None:
        out.status, out.note = "skipped", "Prometheus is not installed (make setup)"
        return out
    args = ["--seconds", "15", "--runs", "2"] if quick else ["--seconds", "30", "--runs", "3"]
    data = run_bench(out, "slo", args, logs, timeout=300)
    if data is None:
        return out
    names = {"evaluate_default_spec_s": "check in-process, default spec",
             "evaluate_100_slos_s": "check in-process, 100 SLOs",
             "cli_default_spec_s": "`slo check` process, default spec",
             "cli_100_slos_s": "`slo check` process, 100 SLOs"}
    figures = data["figures"]
    for key, label in names.items():
        if key in figures:
            out.figure(label, "ms", {k: (round(v * 1000, 1) if k != "runs" else v)
                                     for k, v in figures[key].items()})
    accuracy = data.get("p95_accuracy") or {}
    if accuracy:
        out.figure("exact p95 of the client's samples", "ms", one(accuracy["exact_p95_ms"]))
        out.figure("checker p95 (histogram_quantile)", "ms", one(accuracy["checker_p95_ms"]))
        out.ratio("checker p95 / exact p95",
                  one(round(accuracy["checker_p95_ms"] / accuracy["exact_p95_ms"], 4)),
                  f"1.0 = exact; {accuracy.get('distribution', '')}")
    default, big = figures.get("evaluate_default_spec_s"), figures.get("evaluate_100_slos_s")
    if default and big and default["median"]:
        out.ratio("100 SLOs / default spec (in-process)",
                  one(round(big["median"] / default["median"], 2)),
                  "how the check's time grows with the number of SLOs")
    return out


def bench_detection(quick: bool, logs: Path) -> Outcome:
    """Alert timings from `slo run slo/experiments/smoke.yaml` (one run: it takes ~2 minutes)."""
    out = Outcome("detection", source="reports/bench/experiment/<run-id>/summary.json")
    if quick:
        out.status, out.note = "skipped", "--quick skips the ~2 minute experiment"
        return out
    if find_binary("prometheus") is None or find_binary("prometheus-alertmanager",
                                                        "alertmanager") is None:
        out.status, out.note = "skipped", "Prometheus/Alertmanager are not installed (make setup)"
        return out
    run_id = time.strftime("smoke-%Y%m%d-%H%M%S", time.gmtime())
    reports = bench_dir() / "experiment"
    # A fresh run directory each time: a kept Prometheus TSDB would still hold the previous
    # run's outage, and its long-window alerts would fire during this run's baseline.
    stack_dir = bench_dir() / f"stack-{run_id}"
    code = run_module(["slo.cli", "run", str(EXPERIMENT), "--reports-dir", str(reports),
                       "--run-id", run_id, "--no-live"], logs / "detection.log", timeout=420,
                      env=private_stack_env(stack_dir))
    summary_path = reports / run_id / "summary.json"
    if code in (0, 1) and summary_path.is_file():
        shutil.rmtree(stack_dir, ignore_errors=True)  # the run stopped the stack it started
    if not summary_path.is_file():
        out.status, out.note = "failed", f"exit {code}, no summary: " \
                                         f"{log_tail(logs / 'detection.log')}"
        return out
    summary = json.loads(summary_path.read_text())
    out.source = str(summary_path)
    out.note = f"experiment {summary.get('status')} (exit {code}), " \
               f"{summary['totals']['passed']}/{summary['totals']['expectations']} expectations"
    keys = (("fire_s", "time to fire"), ("notify_s", "time to notify"),
            ("resolve_s", "time to resolve"), ("notify_resolved_s", "time to notify resolution"))
    page = [a for a in summary.get("alerts", []) if a.get("labels", {}).get("severity") == "page"]
    for timing in page or summary.get("alerts", []):
        labels = timing["labels"]
        window = f" {labels['long']}/{labels['short']}" if "long" in labels else ""
        label = f"{timing['alert']}{{{labels.get('slo', '')}}}{window}"
        for key, title in keys:
            if timing.get(key) is not None:
                out.figure(f"{label} {title}", "s", one(timing[key]))
        if timing.get("detection_ratio") is not None:
            out.ratio(f"{label} time to fire / theory", one(timing["detection_ratio"]),
                      "measured over the burn-rate maths' prediction (same run)")
    if code not in (0, 1):
        out.status = "failed"
    return out


BENCHES: dict[str, Callable[[bool, Path], Outcome]] = {
    "app": bench_app,
    "load": bench_load,
    "proxy": bench_proxy,
    "slo": bench_slo,
    "detection": bench_detection,
}


# ----------------------------------------------------------------------------- output

def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:,.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def render(outcomes: list[Outcome], console: Console) -> None:
    """The readable table: one row per figure and per comparison."""
    table = Table(title="slo-harness benchmarks (median, min-max over runs)")
    for column in ("benchmark", "figure", "median", "min", "max", "runs", "unit"):
        table.add_column(column, justify="right" if column in ("median", "min", "max", "runs")
                         else "left")
    for outcome in outcomes:
        if outcome.status != "ok":
            table.add_row(outcome.name, f"[yellow]{outcome.status}[/]: {outcome.note}",
                          "", "", "", "", "")
            continue
        for fig in outcome.figures:
            table.add_row(outcome.name, fig["name"], _fmt(fig["median"]), _fmt(fig["min"]),
                          _fmt(fig["max"]), str(fig["runs"]), fig["unit"])
        for comp in outcome.comparisons:
            table.add_row(outcome.name, f"[bold]ratio[/] {comp['name']}", _fmt(comp["median"]),
                          _fmt(comp["min"]), _fmt(comp["max"]), str(comp["runs"]), "×")
        table.add_section()
    console.print(table)
    for outcome in outcomes:
        if outcome.status == "ok" and outcome.note:
            console.print(f"  {outcome.name}: {outcome.note}")


def to_json(outcomes: list[Outcome], quick: bool, total_s: float, load_avg: tuple,
            previous: dict | None = None) -> dict:
    """The summary document (reports/bench/summary.json).

    Benchmarks not run this time (--only) keep their previous entry, with its own time.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    benches = dict((previous or {}).get("benchmarks", {}))
    for o in outcomes:
        item = {"status": o.status, "note": o.note, "measured_at": now,
                "seconds": round(o.seconds, 1), "source": o.source, "figures": o.figures,
                "comparisons": o.comparisons}
        if o.runs:
            item["runs"] = o.runs
        benches[o.name] = item
    benches = {name: benches[name] for name in BENCHES if name in benches}
    return {"command": "python -m bench.all" + (" --quick" if quick else ""),
            "quick": quick, "total_seconds": round(total_s, 1),
            "load_average_1m": {"before": round(load_avg[0], 2),
                                "after": round(os.getloadavg()[0], 2)},
            "benchmarks": benches}


def main(argv=None) -> int:
    """Run the chosen benchmarks, print the table, write summary.json; 1 if one failed."""
    parser = argparse.ArgumentParser(prog="python -m bench.all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="fewer and shorter runs, no experiment (about 1.5 minutes)")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated subset of {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(BENCHES)}")
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 120  # a log file or CI: rich's default of 80 wraps every row
    logs = bench_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_avg = os.getloadavg()
    began = time.monotonic()
    outcomes = []
    for name in chosen:
        console.print(f"[bold]bench {name}[/] ... (log: {logs / (name + '.log')})")
        started = time.monotonic()
        outcome = BENCHES[name](args.quick, logs)
        outcome.seconds = time.monotonic() - started
        console.print(f"  {outcome.status} in {outcome.seconds:.0f}s"
                      + (f": {outcome.note}" if outcome.status != "ok" else ""))
        outcomes.append(outcome)
    total = time.monotonic() - began
    render(outcomes, console)
    previous_path = bench_dir() / "summary.json"
    previous = None
    if set(chosen) != set(BENCHES) and previous_path.is_file():
        try:
            previous = json.loads(previous_path.read_text())
        except ValueError:
            previous = None  # a damaged summary: start a new one
    path = write_result("summary", to_json(outcomes, args.quick, total, load_avg, previous))
    console.print(f"written to {path} in {total:.0f}s")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
