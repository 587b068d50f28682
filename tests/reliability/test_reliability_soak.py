"""Soak: the app at ~70% of its measured capacity for minutes, with faults switching on and off.

1. Capacity: Locust users that never wait (tests/reliability/soak_users.py CapacityUser, the
   same request mix) find the rate the app and one Locust process reach together here.
2. Soak: SoakUser at a fixed pace (4 req/s each) holds 70% of it for SOAK_SECONDS (default
   210 s) through the load-test harness, with a chaos schedule toggling a latency fault and a
   5% error fault (503) every 30 s. Prometheus scrapes the app every 2 s.
3. Judged: the rate held (Prometheus, 20 s rates after the ramp-up); no unexpected errors (the
   only failures are the injected 503s, inside the error windows, and Locust counted exactly
   the 503s the app served); the app's resident memory after warm-up does not grow (reported,
   and bounded); every scrape succeeded (`up` stayed 1, no scrape missing); the run record is
   complete (status, window, every scheduled fault with its window, stats, artifacts); no fault
   is left on. The figures go to reports/reliability/soak-<time>.json and the test's output.

Slow (about 4 minutes): `make test-reliability` runs it; `SOAK_SECONDS=1800` soaks longer.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness_common.faults.client import FaultClient
from loadtests.record import load_record
from stack.procs import stop_pid, wait_until
from tests.helpers import metric_samples
from tests.reliability.support import REPO, prom_value

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
SOAK_S = int(os.environ.get("SOAK_SECONDS", "210"))
# each SoakUser's pace (soak_users.py reads it; importing Locust here would monkey-patch pytest)
RATE_PER_USER = float(os.environ.get("SOAK_USER_RATE", "4"))
LOAD_SHARE = 0.7
WARMUP_S = 30
SCRAPE_S = 2
USER_ROUTES = 'endpoint!~"/metrics|/health|/admin/.*|<unmatched>"'


def locust(args: list[str], env: dict, log: Path, timeout: float) -> int:
    """Run Locust from the repository root; its exit code."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "locust", *args], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                stop_pid(proc.pid, popen=proc)


def measure_capacity(url: str, workdir: Path, seconds: int = 12) -> float:
    """Requests per second of zero-wait users over the steady seconds of a short run."""
    out = workdir / "capacity"
    code = locust(["-f", str(HERE / "soak_users.py"), "CapacityUser", "--headless", "--host",
                   url, "-u", "64", "-r", "64", "-t", f"{seconds}s", "--only-summary",
                   "--json-file", str(out), "--loglevel", "WARNING"],
                  dict(os.environ), workdir / "capacity.log", timeout=seconds + 60)
    assert code == 0, (workdir / "capacity.log").read_text()[-3000:]
    per_second: Counter = Counter()
    for entry in json.loads(Path(f"{out}.json").read_text()):
        for second, count in entry["num_reqs_per_sec"].items():
            per_second[int(second)] += count
    seconds_seen = sorted(per_second)
    steady = [per_second[s] for s in seconds_seen[3:-1]]  # skip the ramp and the last second
    return statistics.median(steady)


def chaos_schedule(seconds: int) -> str:
    """Latency and error windows of 20 s, alternating, one starting every 30 s."""
    steps, at, kind = [], 20, "latency"
    while at + 20 <= seconds - 10:
        params = ("{delay_ms: 20, jitter_ms: 10, probability: 0.5, routes: ['/api/*']}"
                  if kind == "latency" else "{status: 503, probability: 0.05}")
        steps.append(f"- {{at: {at}s, set: {kind}, params: {params}, for: 20s}}")
        at, kind = at + 30, "error" if kind == "latency" else "latency"
    return "\n".join(steps) + "\n"


def series(prom_url: str, expr: str, start: float, end: float, step: int) -> list[tuple]:
    """(t, value) of a one-series range query."""
    import requests

    body = requests.get(prom_url + "/api/v1/query_range", timeout=30, params={
        "query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"}).json()
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return [(float(t), float(v)) for t, v in result[0]["values"]] if result else []


@pytest.fixture
def soak_target(start_app, start_prometheus):
    """A fresh app (32 threads, baseline delay 0) and a Prometheus scraping it every 2 s."""
    app = start_app()
    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app.port}"]},
                            scrape_interval=f"{SCRAPE_S}s")
    wait_until(lambda: prom_value(prom.url, 'up{job="portfolio-app"}') == 1.0, 30,
               "Prometheus to scrape the app")
    return app, prom


def test_the_app_soaks_at_70_percent_of_capacity_with_faults_toggling(soak_target, tmp_path):
    app, prom = soak_target
    capacity = measure_capacity(app.url, tmp_path)
    target = LOAD_SHARE * capacity
    users = max(1, round(target / RATE_PER_USER))
    schedule = tmp_path / "chaos.yaml"
    schedule.write_text(chaos_schedule(SOAK_S))
    time.sleep(5)  # let the capacity burst leave the 20 s rate windows

    env = {**os.environ, "FAULT_ADMIN_TOKEN": app.token, "SOAK_USER_RATE": str(RATE_PER_USER)}
    started = time.time()
    code = locust(["-f", str(HERE / "soak_locustfile.py"), "SoakUser", "--headless", "--host",
                   app.url, "-u", str(users), "-r", str(max(1, users // 5)), "-t", f"{SOAK_S}s",
                   "--scenario", "steady", "--chaos-schedule", str(schedule), "--run-id",
                   "soak", "--reports-dir", str(tmp_path / "reports"), "--loglevel", "WARNING"],
                  env, tmp_path / "soak.log", timeout=SOAK_S + 120)
    ended = time.time()
    time.sleep(2 * SCRAPE_S + 1)
    assert code == 0, (tmp_path / "soak.log").read_text()[-3000:]

    # -- the run record is complete
    record = load_record(tmp_path / "reports" / "soak" / "run.json")
    assert record.status == "completed"
    assert abs((record.end - record.start).total_seconds() - SOAK_S) <= 5
    planned = [line for line in schedule.read_text().splitlines() if line]
    assert len(record.faults) == len(planned) and all(f.applied for f in record.faults)
    for fault, line in zip(record.faults, planned, strict=True):
        at = float(line.split("at: ")[1].split("s,")[0])
        assert fault.kind in line and abs(fault.start_offset_s - at) <= 2, (fault, line)
        assert abs(fault.end_offset_s - fault.start_offset_s - 20) <= 2, fault
    assert record.stats.aggregated.requests > 0 and record.users[-1][1] in (0, users)
    run_dir = tmp_path / "reports" / "soak"
    for name in record.artifacts.values():
        assert (run_dir / name).stat().st_size > 0, name
    assert FaultClient(app.url, app.token).list() == []

    # -- no unexpected errors: only the injected 503s, and Locust saw exactly those
    statuses: Counter = Counter()
    for (name, labels), value in metric_samples(app.url + "/metrics").items():
        labels = dict(labels)
        if name == "app_requests_total" and labels["endpoint"] not in (
                "/metrics", "/health", "/admin/faults", "/admin/faults/<kind>"):
            statuses[labels["status"]] += value
    # every status series exists from the start at 0 (so a first burst is counted): only
    # those that counted something
    assert {status for status, count in statuses.items() if count} <= {"200", "503"}, statuses
    errors = {e.error for e in record.stats.errors}
    assert all("503" in e for e in errors), errors
    capacity_requests = statuses["200"] + statuses["503"] - record.stats.aggregated.requests
    assert record.stats.aggregated.failures == statuses["503"], (record.stats, statuses,
                                                                 capacity_requests)
    error_windows = [(record.start.timestamp() + f.start_offset_s,
                      record.start.timestamp() + f.end_offset_s)
                     for f in record.faults if f.kind == "error"]
    rate_503 = f'sum(rate(app_requests_total{{status="503"}}[{SCRAPE_S * 2}s]))'
    for t, value in series(prom.url, rate_503, started, ended, SCRAPE_S):
        inside = any(lo - 2 * SCRAPE_S <= t <= hi + 3 * SCRAPE_S for lo, hi in error_windows)
        assert inside or value == 0, f"503s outside the error windows at {t}: {value}/s"

    # -- the rate held (20 s rates, after the ramp-up)
    steady_from, steady_to = started + WARMUP_S, ended - 5
    user_rate = f"sum(rate(app_requests_total{{{USER_ROUTES}}}[20s]))"
    rates = [v for _, v in series(prom.url, user_rate, steady_from, steady_to, 10)]
    assert rates, "no rate samples"
    held = statistics.median(rates)

    # -- memory after warm-up, and every scrape
    rss = [v for _, v in series(prom.url, 'process_resident_memory_bytes{job="portfolio-app"}',
                                steady_from, ended, SCRAPE_S)]
    growth_mb = (rss[-1] - rss[0]) / 2**20
    window_s = int(ended - started) + 1
    up_min = prom_value(prom.url, f'min_over_time(up{{job="portfolio-app"}}[{window_s}s])')
    scrapes = prom_value(prom.url, f'count_over_time(up{{job="portfolio-app"}}[{window_s}s])')
    slowest_scrape = prom_value(
        prom.url, f'max_over_time(scrape_duration_seconds{{job="portfolio-app"}}[{window_s}s])')

    figures = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "soak_seconds": SOAK_S,
        "capacity_rps": round(capacity, 1),
        "target_rps": round(target, 1),
        "users": users,
        "rate_held_rps": {"median": round(held, 1), "min": round(min(rates), 1),
                          "max": round(max(rates), 1), "samples": len(rates),
                          "median_vs_target": round(held / target, 3)},
        "requests": int(record.stats.aggregated.requests),
        "failures": int(record.stats.aggregated.failures),
        "app_statuses": {k: int(v) for k, v in statuses.items()},
        "unexpected_errors": 0,
        "p95_ms": record.stats.aggregated.p95_ms,
        "rss_mb": {"after_warmup": round(rss[0] / 2**20, 1), "end": round(rss[-1] / 2**20, 1),
                   "max": round(max(rss) / 2**20, 1), "growth": round(growth_mb, 1),
                   "growth_percent": round(100 * growth_mb * 2**20 / rss[0], 1)},
        "scrapes": {"up_min": up_min, "count": scrapes,
                    "expected": round(window_s / SCRAPE_S), "slowest_s": slowest_scrape},
        "faults": [{"kind": f.kind, "start_s": f.start_offset_s, "end_s": f.end_offset_s}
                   for f in record.faults],
    }
    out = REPO / "reports" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"soak-{datetime.now(UTC):%Y%m%d-%H%M%S}.json").write_text(
        json.dumps(figures, indent=2) + "\n")
    print("soak figures:", json.dumps(figures, indent=2))

    assert held >= 0.9 * target, figures
    assert up_min == 1.0 and scrapes >= 0.95 * window_s / SCRAPE_S, figures
    assert growth_mb < 20, figures  # a leak of ~1 KiB per request would show as 100s of MB
