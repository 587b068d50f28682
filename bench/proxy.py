"""`make bench-proxy`: what the fault proxy costs, and what one load generator can send.

Target: Debian's nginx serving a 6-byte static file (one worker process), a target that is not
the bottleneck. The fault proxy runs as the stack runs it (`python -m stack.proxy`: Envoy with
one worker thread, no fault on), in front of that nginx. In one run:

1. Added latency. One keep-alive connection, requests one after another (Python's http.client),
   alternating blocks direct / through Envoy so machine noise hits both; per path the median and
   p99 of every request, and the added latency = proxied - direct (median and p99). Goal: under
   1 ms at the median. wrk -t1 -c1 --latency gives the same comparison from a C client.
   A third path, /health/static.txt through Envoy, goes from its front layer straight to nginx
   (a never-faulted path), while /static.txt also crosses the fault layer (an internal listener:
   stack.proxy.bootstrap); `fault_layer_hop` = proxied - front only, what the per-route stats'
   extra hop costs.
2. Load generator capacity, each for a few seconds: one Locust process with FastHttpUser (no
   wait) against nginx, wrk against nginx (what the target can serve), and both through Envoy.

Output: reports/bench/proxy.json. Figures describe this machine (2 shared cores: the client,
nginx and Envoy share them); the 1-minute load average is recorded before and after.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.common import bench_dir, run_wrk, summarize, write_result
from bench.load_capacity import run_locust
from bench.nginx import STATIC_PATH, start_nginx
from stack.procs import Proc, free_port, http_ok, spawn, wait_until

PATH = STATIC_PATH
EXEMPT_PATH = "/health/static.txt"   # never faulted: the proxy's front layer only


def start_proxy(workdir: Path, target: str) -> tuple[Proc, str]:
    """The fault proxy as the stack runs it, in front of `target`; returns (proc, url)."""
    listen, admin, control = free_port(), free_port(), free_port()
    proc = spawn("proxy", [sys.executable, "-m", "stack.proxy", "--target", target,
                           "--listen-port", str(listen), "--admin-port", str(admin),
                           "--control-port", str(control), "--run-dir", str(workdir / "proxy")],
                 workdir / "proxy.log", env={"FAULT_ADMIN_TOKEN": secrets.token_urlsafe(16)})
    wait_until(lambda: http_ok(f"http://127.0.0.1:{control}/health"), 30, "the proxy",
               proc=proc)
    return proc, f"http://127.0.0.1:{listen}"


def sequential_ms(url: str, count: int, path: str = PATH) -> list[float]:
    """`count` GETs of `path` on one keep-alive connection; each one's latency in ms."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    out = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            out.append((time.perf_counter() - start) * 1000)
            if resp.status != 200:
                raise RuntimeError(f"{url}{path} answered {resp.status}")
    finally:
        conn.close()
    return out


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def added_latency(direct: str, proxied: str, rounds: int, count: int) -> dict:
    """Alternating blocks of sequential requests; medians and p99s per path, and the gap."""
    samples = {"direct": [], "proxied": [], "front_only": []}
    sequential_ms(direct, 200)  # warm every path (connections, caches)
    sequential_ms(proxied, 200)
    sequential_ms(proxied, 200, EXEMPT_PATH)
    for _ in range(rounds):
        samples["direct"] += sequential_ms(direct, count)
        samples["proxied"] += sequential_ms(proxied, count)
        samples["front_only"] += sequential_ms(proxied, count, EXEMPT_PATH)
    figures = {path: {"median_ms": round(statistics.median(v), 4), "p99_ms": round(p99(v), 4),
                      "requests": len(v)} for path, v in samples.items()}
    figures["added"] = {
        "median_ms": round(figures["proxied"]["median_ms"] - figures["direct"]["median_ms"], 4),
        "p99_ms": round(figures["proxied"]["p99_ms"] - figures["direct"]["p99_ms"], 4)}
    figures["fault_layer_hop"] = {
        key: round(figures["proxied"][key] - figures["front_only"][key], 4)
        for key in ("median_ms", "p99_ms")}
    figures["goal_median_under_ms"] = 1.0
    figures["goal_met"] = figures["added"]["median_ms"] < 1.0
    return figures


def main(argv=None) -> int:
    """Run both parts; write reports/bench/proxy.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per block")
    parser.add_argument("--seconds", type=int, default=5, help="per capacity run")
    parser.add_argument("--users", type=int, default=32, help="Locust users / wrk connections")
    args = parser.parse_args(argv)
    workdir = bench_dir() / "logs" / "proxy"
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    procs: list[Proc] = []
    try:
        nginx, direct = start_nginx(workdir, {EXEMPT_PATH: "hello\n"})
        procs.append(nginx)
        proxy, proxied = start_proxy(workdir, direct)
        procs.append(proxy)
        latency = added_latency(direct, proxied, args.rounds, args.requests)
        have_wrk = shutil.which("wrk") is not None
        if have_wrk:
            latency["wrk_c1"] = {name: run_wrk(url + PATH, args.seconds, threads=1,
                                               connections=1)
                                 for name, url in (("direct", direct), ("proxied", proxied))}
        capacity = {
            "locust_fasthttp_direct": run_locust(direct, "FastStatic", args.users, args.seconds,
                                                 workdir, endpoint=PATH, label="static-direct"),
            "locust_fasthttp_proxied": run_locust(proxied, "FastStatic", args.users,
                                                  args.seconds, workdir, endpoint=PATH,
                                                  label="static-proxied"),
        }
        if have_wrk:
            capacity["wrk_direct"] = run_wrk(direct + PATH, args.seconds, threads=1,
                                             connections=args.users)
            capacity["wrk_proxied"] = run_wrk(proxied + PATH, args.seconds, threads=1,
                                              connections=args.users)
    finally:
        for proc in reversed(procs):
            proc.stop()
    rps = {name: run["rps"] for name, run in capacity.items()}
    result = {
        "target": f"nginx (1 worker) serving {PATH}, 6 bytes",
        "settings": {"latency": f"{args.rounds} alternating rounds x {args.requests} sequential "
                                f"keep-alive requests per path (http.client)",
                     "capacity": f"{args.seconds}s each; Locust 1 process, {args.users} "
                                 f"FastHttpUsers, no wait; wrk -t1 -c{args.users}",
                     "proxy": "python -m stack.proxy: Envoy --concurrency 1, no fault on"},
        "load_average_1m": {"before": round(load_before, 2),
                            "after": round(os.getloadavg()[0], 2)},
        "added_latency": latency,
        "capacity": capacity,
        "capacity_rps": rps,
        "ratios": {
            "locust_vs_wrk_direct": (round(rps["locust_fasthttp_direct"] / rps["wrk_direct"], 3)
                                     if "wrk_direct" in rps else None),
            "proxied_vs_direct_wrk": (round(rps["wrk_proxied"] / rps["wrk_direct"], 3)
                                      if "wrk_direct" in rps else None),
            "proxied_vs_direct_locust": round(rps["locust_fasthttp_proxied"]
                                              / rps["locust_fasthttp_direct"], 3),
        },
        "summary": {"added_median_ms": summarize([latency["added"]["median_ms"]])},
    }
    path = write_result("proxy", result)
    print(f"fault proxy adds {latency['added']['median_ms'] * 1000:.0f} us at the median "
          f"({latency['direct']['median_ms']:.3f} -> {latency['proxied']['median_ms']:.3f} ms), "
          f"{latency['added']['p99_ms'] * 1000:.0f} us at p99 (its fault layer "
          f"{latency['fault_layer_hop']['median_ms'] * 1000:.0f} us, "
          f"{latency['fault_layer_hop']['p99_ms'] * 1000:.0f} us); capacity req/s: "
          + ", ".join(f"{k} {v:.0f}" for k, v in rps.items()) + f"; written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
