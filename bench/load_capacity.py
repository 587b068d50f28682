"""`make bench-load`: how much load the harness sends, next to wrk, on the same cores.

Target: nginx (bench/nginx.py, one worker) serving every path the users ask for as a 6-byte
static file: a target that is not the bottleneck. On the same target, with the same number of
connections (--users, 64) and for --seconds each (10), one after another:

    wrk             wrk -t<cores> -c<users>: the reference, a C load generator on every core
    bare_1          bare FastHttpUser (capacity_locustfile.py FastStatic), one Locust process
    bare_procs      the same, `--processes <cores>` (one Locust worker per core, one master)
    harness_static  the same user with the harness on (harness_capacity_locustfile.py
                    HarnessStatic), run as users run it: `python -m loadtests headless ...
                    -- --processes <cores>`: scenario shape, run record, client metrics and
                    the HdrHistogram client latency record every request
    harness_users   the harness's own users (PortfolioVisitor, ApiConsumer) without think time,
                    the same way: the headline ratio harness_users / wrk (goal >= 0.5)

Locust's req/s is the mean of its per-second counts after the first WARMUP_S seconds (ramp-up,
workers connecting) and before the last one; wrk's is its total over its run. Every run samples
the CPU of the load generator's process tree and of nginx over that same window (bench/cpu.py):
client_cores near the core count means the generator is the limit; nginx_cores near 1.0 means
the single nginx worker is. The harness runs also check their run record: the HdrHistogram
count equals Locust's request count, with --processes as with separate workers.

What the client latency recording costs: the harness's request listener (ClientMetrics and the
HdrHistogram) is timed in-process through Locust's own event hook, in µs per request, and
compared with Locust's CPU per request in harness_static.

The load generator, wrk and nginx share the machine's cores, and other work on a shared machine
moves every figure: the 1-minute load average is recorded before and after each run. Output:
reports/bench/load.json. A benchmark: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_dir, parse_wrk, write_result
from bench.cpu import CpuMeter
from bench.nginx import STATIC_PATH, start_nginx
from stack.procs import Proc, stop_pid

REPO = Path(__file__).resolve().parents[1]
BARE_LOCUSTFILE = Path(__file__).with_name("capacity_locustfile.py")
HARNESS_LOCUSTFILE = Path(__file__).with_name("harness_capacity_locustfile.py")
WARMUP_S = 3
GOAL_RATIO = 0.5
# What the harness's users ask for (loadtests/users.py), served as static files.
DEMO_FILES = {"/index.html": "hello\n", "/static/style.css": "hello\n",
              "/api/projects": '{"projects": [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]}\n',
              **{f"/api/projects/{i}": "hello\n" for i in range(1, 5)}}


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def steady_rps(json_file: Path, endpoint: str | None = None) -> tuple[float, float, float, dict]:
    """(req/s, window start, window end, totals) from Locust's --json-file: per-second counts
    summed over the request names (or `endpoint` only), WARMUP_S and the last second left out."""
    entries = json.loads(json_file.read_text())
    if endpoint is not None:
        entries = [e for e in entries if e["name"] == endpoint]
    per_second: dict[int, int] = {}
    for entry in entries:
        for second, count in entry["num_reqs_per_sec"].items():
            per_second[int(second)] = per_second.get(int(second), 0) + count
    seconds = sorted(per_second)
    steady = seconds[WARMUP_S:-1] or seconds
    totals = {"requests": sum(e["num_requests"] for e in entries),
              "failures": sum(e["num_failures"] for e in entries)}
    return (statistics.mean(per_second[s] for s in steady), float(steady[0]),
            float(steady[-1] + 1), totals)


def _figures(rps: float, meter: CpuMeter, start: float, end: float) -> dict:
    client, target = meter.cores("client", start, end), meter.cores("nginx", start, end)
    return {"rps": round(rps, 1), "client_cores": client, "nginx_cores": target,
            # CPU the load generator spends per request (all its processes)
            "client_cpu_us_per_request": round(client / rps * 1e6, 1) if client and rps else None}


def run_locust(url: str, user_class: str, users: int, seconds: int, workdir: Path,
               endpoint: str | None = None, label: str | None = None,
               processes: int | None = None, nginx: Proc | None = None) -> dict:
    """Bare Locust (no harness) headless with `users` users of `user_class`; steady req/s."""
    label = label or user_class
    out = workdir / f"locust-{label}"
    cmd = [sys.executable, "-m", "locust", "-f", str(BARE_LOCUSTFILE), user_class, "--headless",
           "--host", url, "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
           "--only-summary", "--json-file", str(out), "--loglevel", "WARNING"]
    if processes:
        cmd += ["--processes", str(processes)]
    return _measure(cmd, out.with_suffix(".json"), workdir / f"locust-{label}.log", seconds,
                    endpoint, nginx, {"users": users, "processes": processes or 1})


def run_harness(url: str, user_classes: list[str], users: int, seconds: int, workdir: Path,
                label: str, processes: int, nginx: Proc | None = None) -> dict:
    """The harness's CLI (`python -m loadtests headless`) with --processes; steady req/s and
    what its run record says."""
    out = workdir / f"harness-{label}"
    run_id = f"bench-load-{label}-{time.strftime('%H%M%S')}"
    reports = workdir / "reports"
    cmd = [sys.executable, "-m", "loadtests", "headless", "--locustfile",
           str(HARNESS_LOCUSTFILE), "--host", url, "--users", str(users), "--spawn-rate",
           str(users), "--duration", f"{seconds}s", "--run-id", run_id, "--",
           "--processes", str(processes), "--json-file", str(out), "--loglevel", "WARNING",
           *user_classes]
    env = {**os.environ, "REPORTS_DIR": str(reports)}
    env.pop("FAULT_ADMIN_TOKEN", None)
    result = _measure(cmd, out.with_suffix(".json"), workdir / f"harness-{label}.log", seconds,
                      None, nginx, {"users": users, "processes": processes,
                                    "user_classes": user_classes}, env=env)
    record = json.loads((reports / run_id / "run.json").read_text())
    counted = record["stats"]["aggregated"]["requests"]
    recorded = record["client_latency"]["overall"]["count"]
    result["run_record"] = {"path": str(reports / run_id / "run.json"), "mode": record["mode"],
                            "workers": record["workers"], "requests": counted,
                            "client_latency_count": recorded,
                            "client_latency_p50_ms": record["client_latency"]["overall"][
                                "p50_ms"],
                            "client_latency_p99_ms": record["client_latency"]["overall"][
                                "p99_ms"],
                            "latency_counts_every_request": counted == recorded}
    return result


def _measure(cmd: list[str], json_file: Path, log: Path, seconds: int, endpoint: str | None,
             nginx: Proc | None, settings: dict, env: dict | None = None) -> dict:
    before = load_average()
    with open(log, "ab") as out:
        popen = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    roots = {"client": popen.pid, **({"nginx": nginx.pid} if nginx else {})}
    try:
        with CpuMeter(roots) as meter:
            code = popen.wait(timeout=seconds + 90)
    finally:
        if popen.poll() is None:
            stop_pid(popen.pid, timeout=5, popen=popen)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[2:5])} exited {code}; see {log}")
    rps, start, end, totals = steady_rps(json_file, endpoint)
    return {**_figures(rps, meter, start, end), **totals, **settings,
            "load_average_1m": {"before": before, "after": load_average()}}


def run_wrk_measured(url: str, seconds: int, threads: int, connections: int,
                     nginx: Proc | None) -> dict:
    """wrk with its CPU and nginx's sampled over its run."""
    before = load_average()
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    started = time.time()
    popen = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    with CpuMeter({"client": popen.pid, **({"nginx": nginx.pid} if nginx else {})}) as meter:
        out, _ = popen.communicate(timeout=seconds + 30)
    result = parse_wrk(out)
    figures = _figures(result["rps"], meter, started + 0.5, started + seconds - 0.2)
    return {**result, **figures, "threads": threads, "connections": connections,
            "load_average_1m": {"before": before, "after": load_average()}}


def recording_cost() -> dict:
    """bench.recording_cost in its own process (it imports Locust): µs per request."""
    out = subprocess.run([sys.executable, "-m", "bench.recording_cost"], cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def ratio(a: dict | None, b: dict | None) -> float | None:
    return round(a["rps"] / b["rps"], 3) if a and b and b.get("rps") else None


def cpu_ratio(a: dict | None, b: dict | None) -> float | None:
    """The load generator's CPU per request in run a over run b."""
    key = "client_cpu_us_per_request"
    return round(a[key] / b[key], 3) if a and b and a.get(key) and b.get(key) else None


def main(argv=None) -> int:
    """Run wrk, bare Locust and the harness against nginx; write reports/bench/load.json."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=64, help="Locust users = wrk connections")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="Locust worker processes (default: one per core); also wrk's "
                             "thread count")
    args = parser.parse_args(argv)
    workdir = bench_dir() / "logs" / "load"
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = load_average()
    cost = recording_cost()
    nginx, url = start_nginx(workdir, DEMO_FILES)
    runs: dict[str, dict | None] = {}
    try:
        runs["wrk"] = (run_wrk_measured(url + STATIC_PATH, args.seconds, args.processes,
                                        args.users, nginx) if shutil.which("wrk") else None)
        runs["bare_1"] = run_locust(url, "FastStatic", args.users, args.seconds, workdir,
                                    label="bare-1", nginx=nginx)
        runs["bare_procs"] = run_locust(url, "FastStatic", args.users, args.seconds, workdir,
                                        label="bare-procs", processes=args.processes,
                                        nginx=nginx)
        runs["harness_static"] = run_harness(url, ["HarnessStatic"], args.users, args.seconds,
                                             workdir, "static", args.processes, nginx)
        runs["harness_users"] = run_harness(url, ["Visitor", "Api"], args.users, args.seconds,
                                            workdir, "users", args.processes, nginx)
    finally:
        nginx.stop()
    wrk, static = runs["wrk"], runs["harness_static"]
    ratios = {
        "harness_users_vs_wrk": ratio(runs["harness_users"], wrk),
        "harness_static_vs_wrk": ratio(static, wrk),
        "bare_procs_vs_wrk": ratio(runs["bare_procs"], wrk),
        "bare_1_vs_wrk": ratio(runs["bare_1"], wrk),
        "harness_static_vs_bare_procs": ratio(static, runs["bare_procs"]),
        "processes_vs_one": ratio(runs["bare_procs"], runs["bare_1"]),
        # steadier than the req/s ratio when other work takes the cores: CPU per request
        "harness_static_cpu_vs_bare_procs": cpu_ratio(static, runs["bare_procs"]),
    }
    users_cost = runs["harness_users"].get("client_cpu_us_per_request")
    goal_rps = GOAL_RATIO * wrk["rps"] if wrk else None
    per_request = static.get("client_cpu_us_per_request")
    cost["share_of_locust_cpu_per_request"] = (
        round(cost["harness_listener_us_per_request"] / per_request, 3) if per_request else None)
    result = {
        "target": f"nginx (1 worker) serving 6-byte static files ({STATIC_PATH} and the demo "
                  f"app's paths)",
        "settings": {"seconds": args.seconds, "users_and_connections": args.users,
                     "processes_and_wrk_threads": args.processes,
                     "locust_steady_window": f"per-second counts after the first {WARMUP_S}s, "
                                             f"without the last second"},
        "load_average_1m": {"before": load_before, "after": load_average()},
        "runs": runs,
        "ratios": ratios,
        "goal": {"harness_users_vs_wrk_at_least": GOAL_RATIO,
                 "met_in_this_run": (ratios["harness_users_vs_wrk"] >= GOAL_RATIO
                                     if ratios["harness_users_vs_wrk"] is not None else None),
                 # at the measured CPU per request, the cores Locust's workers would need
                 "client_cores_needed": (round(goal_rps * users_cost / 1e6, 1)
                                         if goal_rps and users_cost else None)},
        "latency_recording": cost,
    }
    path = write_result("load", result)
    wrk_text = f"wrk {wrk['rps']:.0f} req/s" if wrk else "wrk not installed"
    print(f"against nginx, {args.users} connections, {args.processes} processes/threads: "
          f"{wrk_text}; bare Locust {runs['bare_1']['rps']:.0f} (1 process), "
          f"{runs['bare_procs']['rps']:.0f} (--processes {args.processes}); harness "
          f"{static['rps']:.0f} (same user), {runs['harness_users']['rps']:.0f} (its users) = "
          f"{ratios['harness_users_vs_wrk']} of wrk; latency recording "
          f"{cost['harness_listener_us_per_request']} us/request; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
