"""`python -m loadtests`: run Locust the way the Makefile does.

    python -m loadtests web                      # web UI on LOCUST_PORT (8089), app on APP_PORT
    python -m loadtests headless --scenario step --users 20 --duration 2m \\
                                 [--chaos-schedule loadtests/schedules/latency-then-errors.yaml]
    python -m loadtests distributed --workers 2 [--web] [the headless options]

Before Locust starts, the scenario, the chaos schedule and the target are checked (/health, and
the admin API when a schedule is given); a problem exits 2 with one line naming it, before any
load. The admin token comes from FAULT_ADMIN_TOKEN or .stack/env and reaches Locust through its
environment, never its command line. Headless runs keep Locust's web server up on 127.0.0.1
(--autostart --autoquit 0), so /metrics and the Chaos tab work during the run, and exit when the
scenario ends; the CLI stops Locust if it overruns the scenario by more than a margin.

Each test writes reports/<run-id>/ (REPORTS_DIR overrides reports/): run.json (see record.py),
Locust's report.html and its CSV files (locust_stats.csv, locust_failures.csv,
locust_exceptions.csv: what `--csv reports/<run-id>/locust` writes, written at test stop so web
UI sessions and interrupted runs get them too).

Exit codes: 0 the run went through (failed requests included: the SLO checker judges them);
1 Locust failed, overran or wrote no record; 2 bad input or unreachable target.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness_common import exitcodes
from harness_common.stackenv import admin_token_for, fault_target
from loadtests.errors import LoadTestError
from loadtests.preflight import check_target
from loadtests.record import load_record, new_run_id, reports_dir
from loadtests.scenarios import SCENARIOS, LoadPlan, build_plan
from loadtests.schedule import load_schedule
from stack.procs import die_with_parent, free_port, port_in_use, stop_pid

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
STARTUP_MARGIN_S = 20
WORKER_WAIT_S = 30
SCENARIO_FLAGS = ("ramp_time", "step_users", "step_time", "spike_users", "spike_at", "spike_time")


def build_parser() -> argparse.ArgumentParser:
    """Subcommands web, headless, distributed; Locust options may follow `--`."""
    parser = argparse.ArgumentParser(prog="python -m loadtests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--host", default=None, help="target app URL (default APP_URL or "
                                                    "http://127.0.0.1:$APP_PORT)")
        p.add_argument("--port", type=int, default=None,
                       help="Locust web port (default LOCUST_PORT, 8089; headless runs take a "
                            "free port when it is busy)")
        p.add_argument("--web-host", default=os.environ.get("LOCUST_WEB_HOST", "127.0.0.1"),
                       help="interface for the web UI (default 127.0.0.1: the Chaos tab can "
                            "inject faults, keep it local or use Locust's --web-login)")
        p.add_argument("--scenario", default=os.environ.get("SCENARIO") or "steady",
                       help=f"one of {', '.join(SCENARIOS)} (default steady, env SCENARIO)")
        p.add_argument("--users", "-u", default=None, help="peak users (scenario default 10)")
        p.add_argument("--spawn-rate", "-r", default=None, help="users started per second")
        p.add_argument("--duration", "-t", default=None, help="run time, e.g. 60s, 2m")
        for flag in SCENARIO_FLAGS:
            p.add_argument("--" + flag.replace("_", "-"), dest=flag, default=None)
        p.add_argument("--chaos-schedule", default=os.environ.get("CHAOS_SCHEDULE") or None,
                       help="YAML chaos schedule (see loadtests/schedule.py)")
        p.add_argument("--run-id", default=None, help="names reports/<run-id>/")
        p.add_argument("locust_args", nargs=argparse.REMAINDER,
                       help="after --: more Locust options")

    common(sub.add_parser("web", help="Locust web UI with the Chaos tab"))
    common(sub.add_parser("headless", help="run one scenario unattended, then exit"))
    dist = sub.add_parser("distributed", help="a Locust master and N workers on this machine")
    common(dist)
    dist.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    dist.add_argument("--web", action="store_true", help="serve the web UI instead of running "
                                                         "the scenario unattended")
    return parser


class Prepared:
    """Validated input for one invocation."""

    def __init__(self, args, plan: LoadPlan, host: str, token: str | None, run_id: str | None):
        self.args = args
        self.plan = plan
        self.host = host
        self.token = token
        self.run_id = run_id
        self.reports = reports_dir()


def prepare(args) -> Prepared:
    """Check scenario, schedule and target; LoadTestError naming the first problem."""
    plan = build_plan(args.scenario, users=args.users, spawn_rate=args.spawn_rate,
                      duration=args.duration, **{f: getattr(args, f) for f in SCENARIO_FLAGS})
    schedule = load_schedule(args.chaos_schedule) if args.chaos_schedule else None
    if schedule is not None and schedule.end_s > plan.duration_s:
        print(f"warning: the chaos schedule runs until {schedule.end_s:g}s but the scenario "
              f"ends at {plan.duration_s:g}s; later steps will not happen", file=sys.stderr)
    if getattr(args, "workers", 1) < 1:
        raise LoadTestError(f"--workers must be at least 1 (got {args.workers})")
    host = (args.host or fault_target()[0]).rstrip("/")
    token = admin_token_for(host)
    unattended = args.command == "headless" or (args.command == "distributed" and not args.web)
    try:
        check_target(host, token, needs_admin=schedule is not None)
    except LoadTestError as err:
        if unattended:
            raise
        print(f"warning: {err}", file=sys.stderr)
    run_id = args.run_id or (new_run_id(plan.scenario) if unattended else None)
    return Prepared(args, plan, host, token, run_id)


def locust_argv(prep: Prepared, port: int, unattended: bool) -> list[str]:
    """The Locust command line for the master (or the standalone process)."""
    a = prep.args
    users, rate, duration = a.users, a.spawn_rate, a.duration
    if not unattended:  # the web form shows these; make it show the scenario's defaults
        users = users or prep.plan.parameters.get("users")
        rate = rate or prep.plan.parameters.get("spawn_rate")
        duration = duration or f"{prep.plan.duration_s:g}s"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", prep.host,
            "--web-host", a.web_host, "--web-port", str(port), "--scenario", prep.plan.scenario,
            "--reports-dir", str(prep.reports)]
    for flag, value in (("-u", users), ("-r", rate), ("-t", duration),
                        ("--chaos-schedule", a.chaos_schedule), ("--run-id", prep.run_id)):
        if value is not None:
            argv += [flag, str(value)]
    for flag in SCENARIO_FLAGS:
        if getattr(a, flag) is not None:
            argv += ["--" + flag.replace("_", "-"), str(getattr(a, flag))]
    if unattended:
        argv += ["--autostart", "--autoquit", "0"]
    extra = list(a.locust_args)
    return argv + (extra[1:] if extra[:1] == ["--"] else extra)


def child_env(prep: Prepared) -> dict:
    """Locust's environment: ours plus the resolved token (never on a command line)."""
    env = dict(os.environ)
    if prep.token:
        env["FAULT_ADMIN_TOKEN"] = prep.token
    env.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    return env


def pick_port(requested: int | None, unattended: bool) -> int:
    """The web port: --port, else LOCUST_PORT (8089); unattended runs dodge a busy default."""
    if requested is not None:
        return requested
    default = int(os.environ.get("LOCUST_PORT") or "8089")
    if unattended and port_in_use(default):
        return free_port()
    return default


class Supervisor:
    """Starts the Locust processes, forwards Ctrl-C/SIGTERM once, enforces the deadline."""

    def __init__(self):
        self.procs: list = []  # (name, Popen); the first is the master/standalone process
        self.signals: list[int] = []

    def start(self, name: str, argv: list[str], env: dict, log_path: Path | None = None):
        """Start one process in its own session (signals reach it only through us)."""
        out = open(log_path, "ab") if log_path else None  # closed by stop_all()
        popen = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT if out else None,
                                 start_new_session=True, preexec_fn=die_with_parent)
        self.procs.append((name, popen, out))
        return popen

    def _on_signal(self, signum, _frame):
        self.signals.append(signum)

    def wait(self, deadline: float | None) -> int:
        """Wait for the main process; forward the first signal, escalate on the second."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        name, main, _ = self.procs[0]
        forwarded = 0
        try:
            while main.poll() is None:
                if len(self.signals) > forwarded:
                    forwarded = len(self.signals)
                    sig = self.signals[-1] if forwarded == 1 else signal.SIGTERM
                    print(f"forwarding {signal.Signals(sig).name} to Locust; it clears the faults "
                          f"it set and writes the record", file=sys.stderr)
                    main.send_signal(sig)
                    if forwarded >= 3:
                        stop_pid(main.pid, timeout=5, popen=main)
                if deadline is not None and time.monotonic() > deadline:
                    print("error: Locust overran its scenario; stopping it", file=sys.stderr)
                    stop_pid(main.pid, timeout=15, popen=main)
                    return exitcodes.FAILED
                time.sleep(0.2)
            return main.returncode
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.stop_all()

    def stop_all(self) -> None:
        """Give the remaining processes (workers) a moment to exit, then stop them."""
        grace = time.monotonic() + 10
        for _name, popen, out in self.procs:
            while popen.poll() is None and time.monotonic() < grace:
                time.sleep(0.1)
            if popen.poll() is None:
                stop_pid(popen.pid, timeout=5, popen=popen)
            if out:
                out.close()


def summarize(path: Path) -> str:
    """A few lines about a finished run, from its record."""
    record = load_record(path)
    agg = record.stats.aggregated
    lines = [f"run {record.run_id} {record.status}: {record.start:%H:%M:%S}-{record.end:%H:%M:%S} "
             f"UTC, {agg.requests} requests, {agg.failures} failed, {agg.rps:g} req/s, "
             f"p95 {agg.p95_ms} ms",
             *(f"  fault {f.kind} {f.start_offset_s:g}s-{f.end_offset_s:g}s ({f.source}"
               f"{'' if f.applied else ', NOT applied'})" for f in record.faults),
             f"  record: {path}"]
    return "\n".join(lines)


def run(args) -> int:
    """Carry out one subcommand."""
    try:
        prep = prepare(args)
    except LoadTestError as err:
        print(f"error: {err}", file=sys.stderr)
        return exitcodes.NOT_EVALUATED
    unattended = args.command == "headless" or (args.command == "distributed" and not args.web)
    port = pick_port(args.port, unattended)
    supervisor = Supervisor()
    argv = locust_argv(prep, port, unattended)
    env = child_env(prep)
    deadline = None
    if unattended:
        (prep.reports / prep.run_id).mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + prep.plan.duration_s + STARTUP_MARGIN_S
    if args.command == "distributed":
        master_port = free_port()
        argv += ["--master", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", str(master_port), "--expect-workers", str(args.workers),
                 "--expect-workers-max-wait", str(WORKER_WAIT_S)]
        if deadline is not None:
            deadline += WORKER_WAIT_S
    print(f"locust: {prep.plan.describe()} against {prep.host}; web UI and /metrics on "
          f"http://{args.web_host}:{port}", file=sys.stderr)
    started = time.time()
    supervisor.start("locust", argv, env)
    if args.command == "distributed":
        logs = prep.reports / (prep.run_id or "workers")
        logs.mkdir(parents=True, exist_ok=True)
        worker_argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                       "--master-host", "127.0.0.1", "--master-port", str(master_port)]
        worker_env = {k: v for k, v in env.items() if k != "FAULT_ADMIN_TOKEN"}
        for i in range(args.workers):
            supervisor.start(f"worker-{i + 1}", worker_argv, worker_env,
                             logs / f"worker-{i + 1}.log")
    code = supervisor.wait(deadline)
    records = sorted(p for p in prep.reports.glob("*/run.json") if p.stat().st_mtime >= started)
    for path in records:
        print(summarize(path), file=sys.stderr)
    if code != 0:
        print(f"error: Locust exited with code {code}; see its output above", file=sys.stderr)
        return exitcodes.FAILED
    if unattended and not (prep.reports / prep.run_id / "run.json").is_file():
        print(f"error: no run record in {prep.reports / prep.run_id}", file=sys.stderr)
        return exitcodes.FAILED
    return exitcodes.OK


def main(argv=None) -> int:
    """Entry point of `python -m loadtests`."""
    return run(build_parser().parse_args(argv))
