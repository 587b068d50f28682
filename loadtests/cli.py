"""`python -m loadtests`: run Locust the way the Makefile does.

    python -m loadtests web                      # web UI on LOCUST_PORT (8089), app on APP_PORT
    python -m loadtests headless --scenario step --users 20 --duration 2m \\
                                 [--chaos-schedule loadtests/schedules/latency-then-errors.yaml]
    python -m loadtests distributed --workers 2 [--web] [the headless options]
    python -m loadtests headless --locustfile my_locustfile.py --host http://127.0.0.1:8000
    python -m loadtests headless --endpoints endpoints.yaml --host http://127.0.0.1:8000

Any service: --locustfile names your own locustfile (it must `import loadtests.plugin`), or
--endpoints a YAML list of endpoints (loadtests/endpoints.py); --host is where the load goes
(default APP_URL, else the stack's fault proxy when it runs one, else the app).

More cores on this machine: `python -m loadtests headless ... -- --processes -1` (Locust forks
one worker a core; the record and client latency merge as for separate workers).

More than one machine: the master binds --master-bind-host (default 127.0.0.1; 0.0.0.0 or the
machine's address for workers elsewhere) on --master-port, starts --workers local workers and
waits for --remote-workers more, which are started on the other machines with

    python -m loadtests worker --master-host MASTER --master-port PORT [--workers N] \\
                               [--locustfile ... | --endpoints ...]

Before Locust starts, the scenario, the chaos schedule and the target are checked (the target
answers HTTP, and the fault API accepts the token when a schedule is given); a problem exits 2
with one line naming it, before any load. Faults go to the stack's fault backend (the fault
proxy when the stack runs one in front of TARGET_URL, else the app's admin API), with its
token from FAULT_ADMIN_TOKEN or .stack/env; it reaches Locust through its environment, never
its command line, and never a worker. Headless runs keep Locust's web server up on 127.0.0.1
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
import ast
import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness_common import exitcodes
from harness_common.stackenv import fault_api_for, resolve_target_url
from loadtests.endpoints import load_endpoints
from loadtests.errors import LoadTestError
from loadtests.preflight import check_target
from loadtests.record import RUN_ID_PATTERN, load_record, new_run_id, reports_dir
from loadtests.scenarios import SCENARIOS, LoadPlan, build_plan
from loadtests.schedule import load_schedule
from stack.procs import die_with_parent, free_port, port_in_use, stop_pid

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
ENDPOINTS_LOCUSTFILE = Path(__file__).with_name("endpoints_locustfile.py")
PLUGIN = "loadtests.plugin"
DEFAULT_MASTER_PORT = 5557
STARTUP_MARGIN_S = 20
WORKER_WAIT_S = 30
SCENARIO_FLAGS = ("ramp_time", "step_users", "step_time", "spike_users", "spike_at", "spike_time")


def build_parser() -> argparse.ArgumentParser:
    """Subcommands web, headless, distributed; Locust options may follow `--`."""
    parser = argparse.ArgumentParser(prog="python -m loadtests", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def users(p):
        p.add_argument("--locustfile", "-f", default=os.environ.get("LOCUSTFILE") or None,
                       help="your own locustfile (it imports loadtests.plugin); default: the "
                            "demo app's users (env LOCUSTFILE)")
        p.add_argument("--endpoints", default=os.environ.get("ENDPOINTS") or None,
                       help="a YAML list of endpoints with weights and expected status, for a "
                            "service without a locustfile (env ENDPOINTS)")

    def common(p):
        users(p)
        p.add_argument("--host", default=None, help="where the load goes (default APP_URL, "
                                                    "else the stack's fault proxy, else the app)")
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
    dist.add_argument("--workers", type=int, default=2, help="local worker processes "
                                                             "(default 2)")
    dist.add_argument("--remote-workers", type=int, default=0,
                      help="workers started on other machines (`python -m loadtests worker`) "
                           "to wait for before the test starts")
    dist.add_argument("--master-bind-host", default="127.0.0.1",
                      help="interface the master listens on for workers (default 127.0.0.1; "
                           "0.0.0.0 or this machine's address for workers elsewhere)")
    dist.add_argument("--master-port", type=int, default=None,
                      help=f"the master's port for workers (default {DEFAULT_MASTER_PORT} with "
                           f"remote workers, else a free one)")
    dist.add_argument("--web", action="store_true", help="serve the web UI instead of running "
                                                         "the scenario unattended")
    worker = sub.add_parser("worker", help="workers for a master on another machine")
    users(worker)
    worker.add_argument("--master-host", required=True, help="the master's address")
    worker.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT)
    worker.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    worker.add_argument("--log-dir", default=None, help="one log per worker here (default: "
                                                        "this terminal)")
    return parser


class Prepared:
    """Validated input for one invocation."""

    def __init__(self, args, plan: LoadPlan, host: str, fault_api, run_id: str | None,
                 locustfile: Path):
        self.args = args
        self.plan = plan
        self.host = host
        self.fault_api = fault_api
        self.run_id = run_id
        self.locustfile = locustfile
        self.reports = reports_dir()


def imports_plugin(path: Path) -> bool:
    """True when the locustfile imports loadtests.plugin (anywhere at its top level)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True  # let Locust report what is wrong with it
    for node in tree.body:
        if isinstance(node, ast.Import) and any(a.name == PLUGIN for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and (
                node.module == PLUGIN or (node.module == "loadtests"
                                          and any(a.name == "plugin" for a in node.names))):
            return True
    return False


def choose_locustfile(args) -> Path:
    """The locustfile to run: --endpoints' (the file checked), --locustfile, or the demo's."""
    if args.endpoints and args.locustfile:
        raise LoadTestError("--endpoints and --locustfile: give one (an endpoints file is for "
                            "a service without a locustfile)")
    if args.endpoints:
        load_endpoints(args.endpoints)
        return ENDPOINTS_LOCUSTFILE
    if not args.locustfile:
        return LOCUSTFILE
    path = Path(args.locustfile)
    if not path.is_file():
        raise LoadTestError(f"--locustfile {path}: no such file")
    if not imports_plugin(path):
        raise LoadTestError(f"--locustfile {path}: does not import the harness; add "
                            f"`import loadtests.plugin` to it (README: your own locustfile)")
    return path.resolve()


def is_loopback(hostname: str | None) -> bool:
    """True for localhost and 127.0.0.0/8 / ::1 addresses."""
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname or "").is_loopback
    except ValueError:
        return False


def loopback_warnings(host: str, master_bind_host: str) -> list[str]:
    """Remote workers with a master or target on loopback: fine when those workers run on this
    machine, wrong on another one (one cannot reach the master, or loads its own loopback while
    the record names this target). The CLI cannot tell which, so it warns."""
    warnings = []
    if is_loopback(master_bind_host):
        warnings.append(f"--remote-workers with --master-bind-host {master_bind_host}: workers "
                        f"on other machines cannot reach a master listening on loopback; give "
                        f"this machine's address (or 0.0.0.0), e.g. make load-distributed "
                        f"MASTER_BIND_HOST=10.0.0.5 REMOTE_WORKERS=1")
    if is_loopback(urlsplit(host).hostname):
        warnings.append(f"--host {host} with --remote-workers: a worker on another machine "
                        f"loads its own loopback, not this target, while the record names this "
                        f"one; give an address the workers reach, e.g. HOST=http://10.0.0.5:5000 "
                        f"(and start the app with APP_HOST=0.0.0.0)")
    return warnings


def prepare(args) -> Prepared:
    """Check scenario, schedule and target; LoadTestError naming the first problem."""
    plan = build_plan(args.scenario, users=args.users, spawn_rate=args.spawn_rate,
                      duration=args.duration, **{f: getattr(args, f) for f in SCENARIO_FLAGS})
    schedule = load_schedule(args.chaos_schedule) if args.chaos_schedule else None
    if schedule is not None and schedule.end_s > plan.duration_s:
        print(f"warning: the chaos schedule runs until {schedule.end_s:g}s but the scenario "
              f"ends at {plan.duration_s:g}s; later steps will not happen", file=sys.stderr)
    if args.command == "distributed":
        if args.workers < 0 or args.remote_workers < 0 or args.workers + args.remote_workers < 1:
            raise LoadTestError(f"--workers and --remote-workers: at least one worker in all "
                                f"(got {args.workers} local, {args.remote_workers} remote)")
    if args.run_id and not RUN_ID_PATTERN.match(args.run_id):
        raise LoadTestError(f"--run-id {args.run_id}: use 1-100 letters, digits, '.', '_' or "
                            f"'-', starting with a letter or digit (it names a folder under "
                            f"reports/)")
    locustfile = choose_locustfile(args)
    if args.host and not args.host.startswith(("http://", "https://")):
        raise LoadTestError(f"--host {args.host}: not a URL; give it with http:// or https://, "
                            f"e.g. --host http://{args.host}")
    host = (args.host or resolve_target_url()).rstrip("/")
    if args.command == "distributed" and args.remote_workers:
        for warning in loopback_warnings(host, args.master_bind_host):
            print(f"warning: {warning}", file=sys.stderr)
    fault_api = fault_api_for(host)
    unattended = args.command == "headless" or (args.command == "distributed" and not args.web)
    try:
        check_target(host, fault_api, needs_admin=schedule is not None)
    except LoadTestError as err:
        if unattended:
            raise
        print(f"warning: {err}", file=sys.stderr)
    run_id = args.run_id or (new_run_id(plan.scenario) if unattended else None)
    return Prepared(args, plan, host, fault_api, run_id, locustfile)


def locust_argv(prep: Prepared, port: int, unattended: bool) -> list[str]:
    """The Locust command line for the master (or the standalone process)."""
    a = prep.args
    users, rate, duration = a.users, a.spawn_rate, a.duration
    if not unattended:  # the web form shows these; make it show the scenario's defaults
        users = users or prep.plan.parameters.get("users")
        rate = rate or prep.plan.parameters.get("spawn_rate")
        duration = duration or f"{prep.plan.duration_s:g}s"
    argv = [sys.executable, "-m", "locust", "-f", str(prep.locustfile), "--host", prep.host,
            "--web-host", a.web_host, "--web-port", str(port), "--scenario", prep.plan.scenario,
            "--reports-dir", str(prep.reports)]
    for flag, value in (("-u", users), ("-r", rate), ("-t", duration),
                        ("--chaos-schedule", a.chaos_schedule), ("--run-id", prep.run_id),
                        ("--endpoints", a.endpoints)):
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
    """Locust's environment: ours plus the resolved fault API and its token (never on a
    command line), so Locust resolves the same backend."""
    env = dict(os.environ)
    env.pop("FAULT_ADMIN_TOKEN", None)
    if prep.fault_api.token:
        env["FAULT_ADMIN_TOKEN"] = prep.fault_api.token
    env["FAULT_API_URL"] = prep.fault_api.url
    env["FAULT_BACKEND"] = prep.fault_api.backend
    if prep.fault_api.affects:
        env["FAULT_AFFECTS_URL"] = prep.fault_api.affects
    env.pop("LOCUST_SKIP_MONKEY_PATCH", None)
    return env


def worker_env(environ=None) -> dict:
    """A worker's environment: no admin token (workers never set faults)."""
    env = dict(os.environ if environ is None else environ)
    for key in ("FAULT_ADMIN_TOKEN", "LOCUST_SKIP_MONKEY_PATCH"):
        env.pop(key, None)
    return env


def worker_argv(locustfile: Path, master_host: str, master_port: int,
                endpoints: str | None) -> list[str]:
    """One worker's Locust command line."""
    argv = [sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
            "--master-host", master_host, "--master-port", str(master_port)]
    return argv + (["--endpoints", endpoints] if endpoints else [])


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
        master_port = args.master_port or (DEFAULT_MASTER_PORT if args.remote_workers
                                           else free_port(args.master_bind_host))
        expected = args.workers + args.remote_workers
        argv += ["--master", "--master-bind-host", args.master_bind_host,
                 "--master-bind-port", str(master_port), "--expect-workers", str(expected),
                 "--expect-workers-max-wait", str(WORKER_WAIT_S)]
        if deadline is not None:
            deadline += WORKER_WAIT_S
        if args.remote_workers:
            print(f"locust master: waiting up to {WORKER_WAIT_S}s for {args.remote_workers} "
                  f"remote worker(s): python -m loadtests worker --master-host "
                  f"<this machine> --master-port {master_port}", file=sys.stderr)
    print(f"locust: {prep.plan.describe()} against {prep.host}; web UI and /metrics on "
          f"http://{args.web_host}:{port}", file=sys.stderr)
    started = time.time()
    supervisor.start("locust", argv, env)
    if args.command == "distributed":
        logs = prep.reports / (prep.run_id or "workers")
        logs.mkdir(parents=True, exist_ok=True)
        connect = ("127.0.0.1" if args.master_bind_host in ("0.0.0.0", "*", "")
                   else args.master_bind_host)
        argv_w = worker_argv(prep.locustfile, connect, master_port, args.endpoints)
        env_w = worker_env(env)
        for i in range(args.workers):
            supervisor.start(f"worker-{i + 1}", argv_w, env_w, logs / f"worker-{i + 1}.log")
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


def run_workers(args) -> int:
    """`worker`: start --workers Locust workers for the master at --master-host; wait."""
    try:
        if args.workers < 1:
            raise LoadTestError(f"--workers must be at least 1 (got {args.workers})")
        locustfile = choose_locustfile(args)
    except LoadTestError as err:
        print(f"error: {err}", file=sys.stderr)
        return exitcodes.NOT_EVALUATED
    supervisor = Supervisor()
    argv = worker_argv(locustfile, args.master_host, args.master_port, args.endpoints)
    logs = Path(args.log_dir) if args.log_dir else None
    if logs:
        logs.mkdir(parents=True, exist_ok=True)
    print(f"locust: {args.workers} worker(s) for the master at {args.master_host}:"
          f"{args.master_port}", file=sys.stderr)
    for i in range(args.workers):
        supervisor.start(f"worker-{i + 1}", argv, worker_env(),
                         logs / f"worker-{i + 1}.log" if logs else None)
    code = supervisor.wait(None)
    return exitcodes.OK if code == 0 else exitcodes.FAILED


def main(argv=None) -> int:
    """Entry point of `python -m loadtests`."""
    args = build_parser().parse_args(argv)
    if args.command == "worker":
        return run_workers(args)
    return run(args)
