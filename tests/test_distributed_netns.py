"""A distributed run across two network addresses: the master on one, a worker in a network
namespace this test creates, joined by a veth pair (traffic stays on this machine).

    host side  10.200.N.1/30  master (--master-bind-host), one local worker, the target
    namespace  10.200.N.2/30  one worker (`python -m loadtests worker --master-host 10.200.N.1`)

Each worker counts the requests it sent itself (tests/distributed_locustfile.py), and the target
counts requests by client address; the master's run record (Locust's merged stats) and its
HdrHistogram client latency (merged from the workers' reports) must equal the sum of the
workers' own counts, and the namespace's worker must have reached the target from 10.200.N.2.
Skipped, naming why, where network namespaces cannot be made (not root, no CAP_SYS_ADMIN, no
`ip`). The namespace, the veth pair and every process in the namespace go away after the test,
whatever happens.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from loadtests.record import load_record
from stack.procs import free_port, stop_pid

REPO = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path(__file__).with_name("distributed_locustfile.py")
USERS = 4  # 2 a worker

pytestmark = pytest.mark.integration


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20,
                          check=check)


@dataclass(frozen=True)
class Netns:
    """A network namespace joined to this one by a veth pair."""

    name: str
    host_addr: str  # the host-side end
    ns_addr: str  # the namespace's end

    def exec_argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]


def _free_subnet() -> int:
    """N for 10.200.N.0/30 not on any interface here (other tests may hold some)."""
    used = ip("-o", "-4", "addr", "show").stdout
    for n in [os.getpid() % 250, *range(250)]:
        if f" 10.200.{n}." not in used:
            return n
    pytest.skip("every 10.200.N.0/30 for N < 250 is in use on this machine")


def _kill_namespace_processes(name: str) -> None:
    pids = ip("netns", "pids", name, check=False).stdout.split()
    for pid in pids:
        stop_pid(int(pid), timeout=5)


@pytest.fixture
def netns():
    """The namespace and veth pair (skip when they cannot be made); always torn down."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2): cannot make a network namespace")
    tag = uuid.uuid4().hex[:6]
    name, host_if, ns_if = f"slo-{tag}", f"slo{tag}h", f"slo{tag}n"
    made = ip("netns", "add", name, check=False)
    if made.returncode != 0:
        pytest.skip(f"`ip netns add` is not permitted here ({made.stderr.strip()}): the test "
                    f"needs root or CAP_SYS_ADMIN and CAP_NET_ADMIN")
    try:
        n = _free_subnet()
        space = Netns(name, f"10.200.{n}.1", f"10.200.{n}.2")
        ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        ip("link", "set", ns_if, "netns", name)
        ip("addr", "add", f"{space.host_addr}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("netns", "exec", name, "ip", "addr", "add", f"{space.ns_addr}/30", "dev", ns_if)
        ip("netns", "exec", name, "ip", "link", "set", ns_if, "up")
        ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        yield space
    finally:
        _kill_namespace_processes(name)
        ip("netns", "del", name, check=False)  # takes the veth pair with it
        ip("link", "del", host_if, check=False)  # in case the pair was made but never moved
        assert name not in ip("netns", "list").stdout, f"namespace {name} left behind"


class CountingServer(ThreadingHTTPServer):
    """A target that answers every GET with 200 and counts requests by client address."""

    daemon_threads = True

    def __init__(self, addr: str):
        self.by_client: Counter = Counter()
        self.lock = threading.Lock()
        super().__init__((addr, free_port(addr)), CountingHandler)


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real targets

    def do_GET(self):  # noqa: N802 - http.server's naming
        with self.server.lock:
            self.server.by_client[self.client_address[0]] += 1
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def target(netns):
    """The counting target on the host side of the veth, reachable from the namespace."""
    server = CountingServer(netns.host_addr)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid, timeout=5, popen=proc)


def test_a_worker_on_another_address_is_counted_once_in_the_record_and_the_latency(
        netns, target, tmp_path):
    counts = tmp_path / "counts"
    counts.mkdir()
    env = {**os.environ, "REPORTS_DIR": str(tmp_path / "reports"),
           "SLO_TEST_COUNTS_DIR": str(counts)}
    for key in ("FAULT_ADMIN_TOKEN", "SCENARIO", "CHAOS_SCHEDULE", "RUN_ID", "APP_URL"):
        env.pop(key, None)
    host_url = f"http://{netns.host_addr}:{target.server_port}"
    master_port = free_port(netns.host_addr)
    master = start([sys.executable, "-m", "loadtests", "distributed", "--locustfile",
                    str(LOCUSTFILE), "--host", host_url, "--workers", "1",
                    "--remote-workers", "1", "--master-bind-host", netns.host_addr,
                    "--master-port", str(master_port), "--users", str(USERS), "--spawn-rate",
                    str(USERS), "--duration", "6s", "--run-id", "two-hosts",
                    "--port", str(free_port())],
                   {**env, "SLO_TEST_WORKER_TAG": "host"}, tmp_path / "master.log")
    remote = start(netns.exec_argv([sys.executable, "-m", "loadtests", "worker",
                                    "--master-host", netns.host_addr, "--master-port",
                                    str(master_port), "--locustfile", str(LOCUSTFILE),
                                    "--log-dir", str(tmp_path / "remote")]),
                   {**env, "SLO_TEST_WORKER_TAG": "netns"}, tmp_path / "remote.log")
    try:
        code = finish(master, timeout=90)
        remote_code = finish(remote, timeout=30)
    finally:
        for proc in (master, remote):
            if proc.poll() is None:
                stop_pid(proc.pid, timeout=5, popen=proc)
    logs = "\n".join(p.read_text(errors="replace") for p in
                     [tmp_path / "master.log", tmp_path / "remote.log",
                      *sorted((tmp_path / "remote").glob("*.log"))] if p.is_file())
    assert code == 0, logs
    assert remote_code == 0, logs

    sent = {path.stem.split("-")[0]: json.loads(path.read_text())
            for path in counts.glob("*.json")}
    assert sorted(sent) == ["host", "netns"], (sorted(sent), logs)
    assert all(tally["requests"] > 0 for tally in sent.values()), sent
    record = load_record(tmp_path / "reports" / "two-hosts" / "run.json")
    assert record.mode == "distributed" and record.workers == 2
    assert record.stats.aggregated.requests == sum(t["requests"] for t in sent.values())
    assert record.stats.aggregated.failures == sum(t["failures"] for t in sent.values()) == 0
    assert record.client_latency.overall.count == sum(t["latency_requests"]
                                                            for t in sent.values())
    # The namespace's worker reached the target over the veth, from its own address: the
    # target saw at least what it counted (and at most its users' requests in flight more).
    seen = target.by_client
    assert seen[netns.ns_addr] >= sent["netns"]["requests"], (dict(seen), sent)
    assert seen[netns.ns_addr] - sent["netns"]["requests"] <= USERS, (dict(seen), sent)
    assert set(seen) == {netns.host_addr, netns.ns_addr}, dict(seen)
