"""`make bench-app`: what the RED instrumentation costs.

Two copies of the app run side by side under the same gunicorn settings, one instrumented and
one with APP_INSTRUMENTATION=off, baseline delay 0. wrk loads each in alternating rounds
(A B A B ...) so machine noise hits both; each figure is the median of the rounds with min/max,
and the overhead is the ratio of the medians. Output: reports/bench/app.json. Goal: <= 10 %.
"""

import argparse
import secrets
import shutil
import sys
from pathlib import Path

from bench.common import run_wrk, summarize, write_result
from stack.procs import free_port, http_ok, spawn, wait_until

ENDPOINT = "/api/projects"


def start(name: str, workdir: Path, instrumented: bool):
    """Start one app copy; return (proc, url)."""
    port = free_port()
    env = {"APP_PORT": str(port), "APP_BASELINE_DELAY_MS": "0", "APP_LOG_LEVEL": "warning",
           "FAULT_ADMIN_TOKEN": secrets.token_urlsafe(16),
           "APP_INSTRUMENTATION": "on" if instrumented else "off"}
    proc = spawn(name, [sys.executable, "-m", "target_app", "serve"], workdir / f"{name}.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(url + "/health"), 30, f"{name} to answer", proc=proc)
    return proc, url


def main(argv=None) -> int:
    """Run the rounds and write the result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("bench-app needs wrk: run `make setup` (apt-get install wrk)", file=sys.stderr)
        return 2
    workdir = Path("reports") / "bench" / "logs"
    procs = []
    try:
        on_proc, on_url = start("instrumented", workdir, True)
        off_proc, off_url = start("uninstrumented", workdir, False)
        procs = [on_proc, off_proc]
        rounds = {"instrumented": [], "uninstrumented": []}
        for _ in range(args.rounds):
            for name, url in (("instrumented", on_url), ("uninstrumented", off_url)):
                rounds[name].append(run_wrk(url + ENDPOINT, args.seconds,
                                            connections=args.connections))
    finally:
        for proc in procs:
            proc.stop()
    figures = {
        name: {key: summarize([r[key] for r in runs]) for key in ("rps", "p50_ms", "p99_ms")}
        for name, runs in rounds.items()
    }
    ratio = figures["instrumented"]["rps"]["median"] / figures["uninstrumented"]["rps"]["median"]
    result = {
        "endpoint": ENDPOINT,
        "settings": {"server": "gunicorn 1 worker gthread", "tool": "wrk -t2",
                     "connections": args.connections, "seconds_per_round": args.seconds},
        "figures": figures,
        "throughput_ratio_instrumented_vs_off": round(ratio, 3),
        "overhead_percent": round((1 - ratio) * 100, 1),
        "goal": "overhead_percent <= 10",
        "rounds": rounds,
    }
    path = write_result("app", result)
    print(f"instrumented {figures['instrumented']['rps']['median']:.0f} req/s vs off "
          f"{figures['uninstrumented']['rps']['median']:.0f} req/s -> overhead "
          f"{result['overhead_percent']}%  (p99 {figures['instrumented']['p99_ms']['median']} ms "
          f"vs {figures['uninstrumented']['p99_ms']['median']} ms); written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
