"""`make bench-app`: what the RED instrumentation and its histogram layout cost.

Three copies of the app run side by side under the same gunicorn settings, baseline delay 0:
instrumented with the default (dense) latency buckets, instrumented with the coarse 20-bucket
layout it replaced (APP_LATENCY_BUCKETS), and with APP_INSTRUMENTATION=off. wrk loads each in
alternating rounds (A B C A B C ...) so machine noise hits all; each figure is the median of the
rounds with min/max, and the overhead is the ratio of the medians. After the rounds, each copy's
/metrics is scraped: series per scrape and bytes per scrape, what the layout costs Prometheus.
Output: reports/bench/app.json. Goal: overhead <= 10 %.
"""

import argparse
import secrets
import shutil
import sys
from pathlib import Path

import requests

from bench.common import run_wrk, summarize, write_result
from harness_common.buckets import COARSE_BUCKETS, DEFAULT_BUCKETS
from stack.procs import free_port, http_ok, spawn, wait_until

ENDPOINT = "/api/projects"


VARIANTS = {  # name -> extra environment
    "instrumented": {},
    "coarse-buckets": {"APP_LATENCY_BUCKETS": ",".join(str(b) for b in COARSE_BUCKETS)},
    "uninstrumented": {"APP_INSTRUMENTATION": "off"},
}
SCRAPE_PATHS = ("/", "/api/projects", "/api/projects/1", "/health")


def start(name: str, workdir: Path, extra: dict):
    """Start one app copy; return (proc, url)."""
    port = free_port()
    env = {"APP_PORT": str(port), "APP_BASELINE_DELAY_MS": "0", "APP_LOG_LEVEL": "warning",
           "FAULT_ADMIN_TOKEN": secrets.token_urlsafe(16), **extra}
    proc = spawn(name, [sys.executable, "-m", "target_app", "serve"], workdir / f"{name}.log", env)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(url + "/health"), 30, f"{name} to answer", proc=proc)
    return proc, url


def scrape_cost(url: str) -> dict:
    """Series and bytes of one /metrics scrape after the user routes have each been used."""
    for path in SCRAPE_PATHS:
        requests.get(url + path, timeout=5)
    text = requests.get(url + "/metrics", timeout=5).text
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    return {"series": series, "bytes": len(text.encode())}


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
    procs, urls = [], {}
    rounds: dict[str, list] = {name: [] for name in VARIANTS}
    scrapes = {}
    try:
        for name, extra in VARIANTS.items():
            proc, urls[name] = start(name, workdir, extra)
            procs.append(proc)
        for _ in range(args.rounds):
            for name, url in urls.items():
                rounds[name].append(run_wrk(url + ENDPOINT, args.seconds,
                                            connections=args.connections))
        for name, url in urls.items():
            scrapes[name] = scrape_cost(url)
    finally:
        for proc in procs:
            proc.stop()
    figures = {
        name: {key: summarize([r[key] for r in runs]) for key in ("rps", "p50_ms", "p99_ms")}
        for name, runs in rounds.items()
    }
    off = figures["uninstrumented"]["rps"]["median"]
    ratio = figures["instrumented"]["rps"]["median"] / off
    coarse_ratio = figures["coarse-buckets"]["rps"]["median"] / off
    result = {
        "endpoint": ENDPOINT,
        "settings": {"server": "gunicorn 1 worker gthread", "tool": "wrk -t2",
                     "connections": args.connections, "seconds_per_round": args.seconds,
                     "buckets": {"instrumented": len(DEFAULT_BUCKETS),
                                 "coarse-buckets": len(COARSE_BUCKETS)}},
        "figures": figures,
        "scrape": scrapes,
        "throughput_ratio_instrumented_vs_off": round(ratio, 3),
        "overhead_percent": round((1 - ratio) * 100, 1),
        "coarse_overhead_percent": round((1 - coarse_ratio) * 100, 1),
        "goal": "overhead_percent <= 10",
        "rounds": rounds,
    }
    path = write_result("app", result)
    print(f"instrumented {figures['instrumented']['rps']['median']:.0f} req/s "
          f"({len(DEFAULT_BUCKETS)} buckets; coarse {len(COARSE_BUCKETS)}: "
          f"{figures['coarse-buckets']['rps']['median']:.0f}) vs off "
          f"{figures['uninstrumented']['rps']['median']:.0f} req/s -> overhead "
          f"{result['overhead_percent']}% (coarse {result['coarse_overhead_percent']}%); "
          f"scrape {scrapes['instrumented']['series']} series / {scrapes['instrumented']['bytes']}"
          f" B vs coarse {scrapes['coarse-buckets']['series']} / "
          f"{scrapes['coarse-buckets']['bytes']} B; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
