"""`make bench-slo`: how fast `slo check` answers, and how close its p95 is to the truth.

1. A real app and a real Prometheus (1 s scrapes). The app gets a latency fault with a known
   distribution (delay 200 ms +/- 100 ms, uniform) while a client records every request's
   duration. The exact p95 of those samples is compared with the checker's p95, which
   histogram_quantile interpolates from the default buckets (relative error reported), and
   with the bucket the checker says holds it (the exact p95 must lie inside).
2. Wall time of one check, in-process (`evaluate`) and as a CLI process (`slo check`), for the
   default spec and for a generated spec with 100 SLOs, each the median of several runs. A
   check includes proving each metric's labels (one /api/v1/labels per metric), what each
   distinct event query selects without its status matchers (one label-values query each),
   the census of series born or restarted inside the window (one query per metric) and the
   scrapes each count runs between (one query per denominator).
Output: reports/bench/slo.json.
"""

import argparse
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
import yaml

from bench.common import summarize, write_result
from harness_common.faults.client import FaultClient
from slo.judge.observe import evaluate
from slo.judge.prom import Prometheus
from slo.judge.window import Window
from slo.spec import load_spec, parse_spec
from stack.procs import find_binary, free_port, http_ok, spawn, wait_until

WORKDIR = Path("reports") / "bench" / "slo-work"


def start_app_and_prometheus():
    """A fresh app (baseline delay 0) and a Prometheus scraping it every second."""
    import secrets

    WORKDIR.mkdir(parents=True, exist_ok=True)
    app_port, prom_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    app = spawn("app", [sys.executable, "-m", "target_app", "serve"], WORKDIR / "app.log",
                {"APP_PORT": str(app_port), "FAULT_ADMIN_TOKEN": token,
                 "APP_BASELINE_DELAY_MS": "0", "APP_LOG_LEVEL": "warning"})
    config = WORKDIR / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [{"job_name": "portfolio-app",
                            "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}]}]}))
    data = WORKDIR / f"data-{prom_port}"
    prom = spawn("prometheus", [find_binary("prometheus"), f"--config.file={config}",
                                f"--storage.tsdb.path={data}", "--log.level=warn",
                                f"--web.listen-address=127.0.0.1:{prom_port}"],
                 WORKDIR / "prometheus.log")
    app_url, prom_url = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{prom_port}"
    wait_until(lambda: http_ok(app_url + "/health"), 30, "the app", proc=app)
    wait_until(lambda: http_ok(prom_url + "/-/ready"), 30, "Prometheus", proc=prom)
    return app, prom, app_url, prom_url, token


def drive(url: str, seconds: float, threads: int) -> list[float]:
    """Request the API from `threads` loops for `seconds`; return every duration (s)."""
    durations: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop():
        with requests.Session() as s:
            while time.monotonic() < stop:
                began = time.perf_counter()
                s.get(url + "/api/projects", timeout=10)
                took = time.perf_counter() - began
                with lock:
                    durations.append(took)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return durations


def hundred_slo_spec(base: str = "slo/slos.yaml") -> str:
    """The default spec with its SLOs repeated to 100 (distinct names and selectors)."""
    doc = yaml.safe_load(Path(base).read_text())
    slos = []
    for i in range(100):
        slo = dict(doc["slos"][i % len(doc["slos"])])
        slo["name"] = f"{slo['name']}-{i}"
        slos.append(slo)
    doc["slos"] = slos
    return yaml.safe_dump(doc, sort_keys=False)


def time_evaluate(spec, prom: Prometheus, window: Window, runs: int) -> list[float]:
    """Wall seconds of `runs` in-process evaluations."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        evaluate(spec, prom, window)
        times.append(time.perf_counter() - began)
    return times


def time_cli(spec_path: Path, prom_url: str, window: Window, runs: int) -> list[float]:
    """Wall seconds of `runs` `slo check` processes (interpreter start-up included)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "slo.cli", "check", "--spec", str(spec_path),
                        "--prometheus", prom_url, "--start", f"{window.start:.3f}", "--end",
                        f"{window.end:.3f}", "--no-settle", "--json", str(WORKDIR / "r.json")],
                       capture_output=True, timeout=120)
        times.append(time.perf_counter() - began)
    return times


def main(argv=None) -> int:
    """Run the benchmark and write reports/bench/slo.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="load duration (data held)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if find_binary("prometheus") is None:
        print("bench-slo needs Prometheus: run `make setup`", file=sys.stderr)
        return 2
    app, prom_proc, app_url, prom_url, token = start_app_and_prometheus()
    try:
        FaultClient(app_url, token).set("latency", delay_ms=200, jitter_ms=100,
                                        ttl_s=args.seconds + 60)
        # the window opens once Prometheus has scraped the app (else the check refuses it: its
        # data would begin inside the window)
        scrapes = 'count_over_time(up{job="portfolio-app"}[1m])'
        wait_until(lambda: (Prometheus(prom_url).scalar(scrapes, time.time()) or 0) >= 3, 30,
                   "three scrapes of the app", proc=prom_proc)
        start = time.time()
        durations = drive(app_url, args.seconds, threads=8)
        end = time.time()
        time.sleep(3)
        window = Window(start, end, "bench")
        prom = Prometheus(prom_url)
        default = load_spec("slo/slos.yaml")
        result = evaluate(default, prom, window)
        p95 = next(v for v in result.verdicts if v.name == "latency-p95")
        if p95.value is None:
            raise SystemExit(f"bench-slo: the checker judged no p95 ({p95.status}: "
                             f"{p95.reason})")
        exact = statistics.quantiles(durations, n=100, method="inclusive")[94]
        big_path = WORKDIR / "hundred-slos.yaml"
        big_path.write_text(hundred_slo_spec())
        big = parse_spec(big_path.read_text(), str(big_path))
        figures = {
            "evaluate_default_spec_s": summarize(time_evaluate(default, prom, window, args.runs)),
            "evaluate_100_slos_s": summarize(time_evaluate(big, prom, window, args.runs)),
            "cli_default_spec_s": summarize(time_cli(Path("slo/slos.yaml"), prom_url, window,
                                                     args.runs)),
            "cli_100_slos_s": summarize(time_cli(big_path, prom_url, window, args.runs)),
        }
    finally:
        prom_proc.stop()
        app.stop()
    accuracy = {
        "distribution": "latency fault 200 ms +/- 100 ms uniform on /api/projects",
        "requests": len(durations),
        "exact_p95_ms": round(exact * 1000, 1),
        "checker_p95_ms": round(p95.value * 1000, 1),
        "checker_p95_bucket_ms": [round(b * 1000, 1) for b in p95.value_bounds or ()],
        "exact_within_bucket": bool(p95.value_bounds
                                    and p95.value_bounds[0] <= exact <= p95.value_bounds[1]),
        "relative_error": round((p95.value - exact) / exact, 4),
        "buckets_around": "0.25 / 0.3 s (target_app.config.DEFAULT_BUCKETS)",
    }
    path = write_result("slo", {"data_seconds": args.seconds, "figures": figures,
                                "p95_accuracy": accuracy})
    ratio = figures["evaluate_100_slos_s"]["median"] / figures["evaluate_default_spec_s"]["median"]
    ms = {k: v["median"] * 1000 for k, v in figures.items()}
    print(f"slo check in-process: default spec {ms['evaluate_default_spec_s']:.0f} ms, "
          f"100 SLOs {ms['evaluate_100_slos_s']:.0f} ms ({ratio:.1f}x); as a CLI "
          f"{ms['cli_default_spec_s']:.0f} ms / {ms['cli_100_slos_s']:.0f} ms. p95 exact "
          f"{accuracy['exact_p95_ms']} ms vs checker {accuracy['checker_p95_ms']} ms "
          f"({accuracy['relative_error']:+.1%}); written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
