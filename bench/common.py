"""Shared helpers for the benchmarks: wrk runs, medians with min/max, JSON output."""

import json
import platform
import re
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def bench_dir() -> Path:
    """reports/bench/ (created)."""
    path = Path("reports") / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_wrk(url: str, seconds: int = 5, threads: int = 2, connections: int = 16) -> dict:
    """Run wrk against a loopback URL; return requests/s and latency percentiles in ms."""
    if not url.startswith(("http://127.0.0.1", "http://localhost")):
        raise ValueError(f"benchmarks target loopback only (got {url})")
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    """wrk --latency's output -> requests/s, p50/p90/p99 in ms and non-2xx responses."""
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        result[f"p{pct}_ms"] = round(float(m.group(1)) * UNITS[m.group(2)], 3) if m else None
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    return result


def summarize(values: list[float]) -> dict:
    """Median, min and max of repeated measurements."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": len(values)}


def write_result(name: str, payload: dict) -> Path:
    """Write reports/bench/<name>.json with machine context; return its path."""
    path = bench_dir() / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        **payload,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
