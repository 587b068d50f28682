"""`python -m loadtests headless ... -- --processes 2`: Locust's own workers in one command.

Locust forks a master and N workers; the harness must see the same master/worker path as with
separate workers: a record that says distributed with 2 workers, whose request count and
HdrHistogram count equal what the worker processes counted themselves
(tests/distributed_locustfile.py). This is what `make bench-load` runs to use every core.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.record import load_record
from stack.procs import free_port

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("distributed_locustfile.py")

pytestmark = pytest.mark.integration


def test_locusts_processes_option_merges_like_separate_workers(static_server, tmp_path):
    counts = tmp_path / "counts"
    counts.mkdir()
    env = {**os.environ, "REPORTS_DIR": str(tmp_path / "reports"),
           "SLO_TEST_COUNTS_DIR": str(counts), "SLO_TEST_WORKER_TAG": "forked"}
    for key in ("FAULT_ADMIN_TOKEN", "SCENARIO", "CHAOS_SCHEDULE", "RUN_ID", "APP_URL"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "loadtests", "headless", "--locustfile", str(LOCUSTFILE),
         "--host", static_server.url, "--users", "4", "--spawn-rate", "4", "--duration", "4s",
         "--run-id", "forked", "--port", str(free_port()), "--", "--processes", "2"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    sent = [json.loads(p.read_text()) for p in counts.glob("forked-*.json")]
    assert len(sent) == 2 and all(t["requests"] > 0 for t in sent), (sent, output)
    record = load_record(tmp_path / "reports" / "forked" / "run.json")
    assert record.mode == "distributed" and record.workers == 2
    assert record.stats.aggregated.requests == sum(t["requests"] for t in sent)
    assert record.client_latency.overall.count == sum(t["latency_requests"] for t in sent)
