"""Load for a service this project did not write (`python -m http.server`): a user's own
locustfile with `import loadtests.plugin`, an endpoints file, and a distributed run whose only
worker is on another loopback address (the master binds 127.0.0.2, not 127.0.0.1)."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from loadtests.record import load_record
from stack.procs import free_port, stop_pid

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration

MY_LOCUSTFILE = """\
from locust import FastHttpUser, constant, task

import loadtests.plugin  # noqa: F401  the harness


class Reader(FastHttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/")

    @task
    def items(self):
        self.client.get("/api/items")
"""


def env_for(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APP_", "FAULT_", "TARGET_", "PROXY_", "LOCUST"))}
    return {**env, "REPORTS_DIR": str(tmp_path / "reports"), "STACK_DIR": str(tmp_path / "none")}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "loadtests", *args]


def run(cmd, env, timeout=90) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, check=False)


def test_a_users_own_locustfile_gets_the_scenarios_and_the_run_record(tmp_path, static_server):
    locustfile = tmp_path / "my_locustfile.py"
    locustfile.write_text(MY_LOCUSTFILE)
    done = run(cli("headless", "--locustfile", str(locustfile), "--host", static_server.url,
                   "--scenario", "ramp", "--users", "4", "--duration", "4s", "--run-id", "mine"),
               env_for(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    record = load_record(tmp_path / "reports" / "mine" / "run.json")
    assert record.scenario.name == "ramp" and record.status == "completed"
    names = {e.name for e in record.stats.endpoints}
    assert {"/", "/api/items"} <= names
    assert record.stats.aggregated.requests > 20 and record.stats.aggregated.failures == 0


def test_a_locustfile_without_the_harness_is_refused_before_any_load(tmp_path, static_server):
    locustfile = tmp_path / "plain.py"
    locustfile.write_text(MY_LOCUSTFILE.replace("import loadtests.plugin", "import os"))
    done = run(cli("headless", "--locustfile", str(locustfile), "--host", static_server.url),
               env_for(tmp_path))
    assert done.returncode == 2
    assert f"error: --locustfile {locustfile}: does not import the harness; add `import " \
           f"loadtests.plugin`" in done.stderr


def test_an_endpoints_file_loads_a_service_and_counts_a_wrong_status_as_a_failure(
        tmp_path, static_server):
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text(textwrap.dedent("""\
        wait: 0.05s
        endpoints:
          - {path: /, weight: 2}
          - {path: /nope, expect: 404}
          - {path: /api/items, expect: 201}
        """))
    done = run(cli("headless", "--endpoints", str(endpoints), "--host", static_server.url,
                   "--users", "3", "--duration", "3s", "--run-id", "ep"), env_for(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    record = load_record(tmp_path / "reports" / "ep" / "run.json")
    by_name = {e.name: e for e in record.stats.endpoints}
    assert by_name["/"].failures == 0 and by_name["/nope"].failures == 0
    assert by_name["/api/items"].requests > 0
    assert by_name["/api/items"].failures == by_name["/api/items"].requests


def test_a_bad_endpoints_file_is_refused_naming_the_field(tmp_path, static_server):
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("- {path: /, expect: 999}\n")
    done = run(cli("headless", "--endpoints", str(endpoints), "--host", static_server.url),
               env_for(tmp_path))
    assert done.returncode == 2
    assert f"{endpoints}: [0].expect: a status is 100-599 (got 999)" in done.stderr


def client_requests(url: str) -> float | None:
    try:
        text = requests.get(url, timeout=2).text
    except requests.RequestException:
        return None
    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples if s.name == "locust_client_requests_total")


def test_a_worker_on_another_address_makes_a_complete_distributed_run(tmp_path, static_server):
    env = env_for(tmp_path)
    endpoints = tmp_path / "endpoints.yaml"
    endpoints.write_text("wait: 0.05s\nendpoints: [{path: /}, {path: /api/items}]\n")
    master_port, web_port = free_port("127.0.0.2"), free_port()
    with open(tmp_path / "master.log", "ab") as out:
        master = subprocess.Popen(
            cli("distributed", "--workers", "0", "--remote-workers", "1",
                "--master-bind-host", "127.0.0.2", "--master-port", str(master_port),
                "--endpoints", str(endpoints), "--host", static_server.url, "--users", "4",
                "--spawn-rate", "4", "--duration", "3s", "--run-id", "remote",
                "--port", str(web_port), "--", "--autoquit", "2"),
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    worker = subprocess.Popen(
        cli("worker", "--master-host", "127.0.0.2", "--master-port", str(master_port),
            "--endpoints", str(endpoints), "--log-dir", str(tmp_path / "worker")),
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    last = None
    try:
        deadline = time.monotonic() + 90
        while master.poll() is None and time.monotonic() < deadline:
            seen = client_requests(f"http://127.0.0.1:{web_port}/metrics")
            last = seen if seen is not None else last
            time.sleep(0.3)
        assert master.wait(timeout=5) == 0, (tmp_path / "master.log").read_text()
        assert worker.wait(timeout=30) == 0
    finally:
        for proc in (master, worker):
            if proc.poll() is None:
                stop_pid(proc.pid, popen=proc)
    record = load_record(tmp_path / "reports" / "remote" / "run.json")
    assert record.mode == "distributed" and record.workers == 1
    assert record.stats.aggregated.requests > 20
    # the client-side metrics the master serves add up to the record's requests
    assert last == record.stats.aggregated.requests
