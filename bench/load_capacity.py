"""`make bench-load`: the highest request rate one Locust process sustains on this machine.

Against the app's /health (baseline delay 0, the cheapest endpoint), one Locust process runs
users with no wait time, first FastHttpUser (geventhttpclient), then HttpUser (requests); wrk
loads the same endpoint as the reference for what the app itself can serve. Each run is short
(10 s by default, the first 2 s of Locust's ramp-up ignored). Locust's CPU use is sampled: near
100 % means one Locust process is the bottleneck; well below it, the app is, and
requests_per_locust_cpu_second (req/s divided by the CPU share) estimates the rate one busy
Locust process would reach against a faster target. Output: reports/bench/load.json.
The app and the load generator share the machine's cores, so the figures describe this
machine, not Locust in general; the 1-minute load average is recorded before and after, since
other work on a shared machine moves them.
"""

import argparse
import json
import os
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path

import psutil

from bench.common import bench_dir, run_wrk, write_result
from stack.procs import free_port, http_ok, spawn, wait_until

LOCUSTFILE = Path(__file__).with_name("capacity_locustfile.py")
ENDPOINT = "/health"
WARMUP_S = 2


def start_app(workdir: Path):
    """The target app, baseline delay 0, on a free port; returns (proc, url)."""
    port = free_port()
    env = {"APP_PORT": str(port), "APP_BASELINE_DELAY_MS": "0", "APP_LOG_LEVEL": "warning",
           "FAULT_ADMIN_TOKEN": secrets.token_urlsafe(16)}
    proc = spawn("bench-app", [sys.executable, "-m", "target_app", "serve"],
                 workdir / "load-app.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(url + "/health"), 30, "the app to answer", proc=proc)
    return proc, url


def run_locust(url: str, user_class: str, users: int, seconds: int, workdir: Path,
               endpoint: str = ENDPOINT, label: str | None = None) -> dict:
    """One headless Locust process with `users` users of `user_class`; its steady req/s."""
    label = label or user_class
    out = workdir / f"locust-{label}"
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), user_class, "--headless",
           "--host", url, "-u", str(users), "-r", str(users), "-t", f"{seconds}s",
           "--only-summary", "--json-file", str(out), "--loglevel", "WARNING"]
    proc = spawn(f"locust-{label}", cmd, workdir / f"locust-{label}.log")
    cpu = []
    try:
        ps = psutil.Process(proc.pid)
        time.sleep(WARMUP_S)
        while proc.alive():
            try:
                cpu.append(ps.cpu_percent(interval=1.0))
            except psutil.NoSuchProcess:
                break
        proc.popen.wait(timeout=seconds + 30)
    finally:
        proc.stop()
    entries = json.loads(Path(f"{out}.json").read_text())
    entry = next(e for e in entries if e["name"] == endpoint)
    per_second = sorted((int(t), n) for t, n in entry["num_reqs_per_sec"].items())
    steady = [n for _, n in per_second[WARMUP_S:-1]] or [n for _, n in per_second]
    rps = statistics.mean(steady)
    cpu_pct = statistics.median(cpu) if cpu else None
    return {"rps": round(rps, 1), "rps_max_second": max(steady),
            "requests": entry["num_requests"], "failures": entry["num_failures"],
            "users": users, "locust_cpu_percent": round(cpu_pct, 1) if cpu_pct else None,
            # what one fully busy Locust core would do at this cost per request
            "requests_per_locust_cpu_second": round(rps / (cpu_pct / 100)) if cpu_pct else None}


def main(argv=None) -> int:
    """Run FastHttpUser, HttpUser and wrk against /health; write reports/bench/load.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--users", type=int, default=64)
    args = parser.parse_args(argv)
    workdir = bench_dir() / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    proc, url = start_app(workdir)
    load_before = os.getloadavg()[0]
    try:
        fast = run_locust(url, "FastHealth", args.users, args.seconds, workdir)
        slow = run_locust(url, "RequestsHealth", args.users, args.seconds, workdir)
        wrk = (run_wrk(url + ENDPOINT, args.seconds, connections=args.users)
               if shutil.which("wrk") else None)
    finally:
        proc.stop()
    result = {
        "endpoint": ENDPOINT,
        "settings": {"server": "gunicorn 1 worker gthread, baseline delay 0",
                     "locust": f"1 process, {args.users} users, no wait, {args.seconds}s "
                               f"(first {WARMUP_S}s ignored)",
                     "wrk": f"-t2 -c{args.users} -d{args.seconds}s"},
        "load_average_1m": {"before": round(load_before, 2),
                            "after": round(os.getloadavg()[0], 2)},  # other work on the machine
        "fasthttpuser": fast,
        "httpuser": slow,
        "wrk": wrk,
        "fasthttp_vs_httpuser": round(fast["rps"] / slow["rps"], 2) if slow["rps"] else None,
        "locust_fasthttp_vs_wrk": round(fast["rps"] / wrk["rps"], 2) if wrk else None,
    }
    path = write_result("load", result)
    wrk_text = f"{wrk['rps']:.0f} req/s" if wrk else "not installed"
    print(f"one Locust process against {ENDPOINT}: FastHttpUser {fast['rps']:.0f} req/s "
          f"(Locust CPU {fast['locust_cpu_percent']}%), HttpUser {slow['rps']:.0f} req/s "
          f"(CPU {slow['locust_cpu_percent']}%); wrk {wrk_text}; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
