"""The fault proxy as a part of the stack: settings, the rendered configs, .stack/env, and the
native stack for real with TARGET_URL (up, faults through the CLI, status, down; and each kind
of bad input: one line, exit 2, nothing left running)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests
import yaml

from harness_common.stackenv import read_stack_env, resolve_fault_api, resolve_target_url
from stack.config import StackSettings, private_stack_env
from stack.errors import StackConfigError
from stack.procs import free_port, port_in_use, spawn_ready
from stack.proxy.envoy import envoy_binary
from stack.render import native_prometheus_config
from stack.state import load_state

REPO = Path(__file__).resolve().parent.parent


def settings_for(tmp_path, **env) -> StackSettings:
    return StackSettings.from_env({"STACK_DIR": str(tmp_path), **env})


def test_without_target_url_the_stack_has_no_proxy_and_no_envoy_job(tmp_path):
    settings = settings_for(tmp_path)
    assert not settings.proxy and "proxy" not in settings.ports
    jobs = [j["job_name"] for j in yaml.safe_load(native_prometheus_config(settings)[0])
            ["scrape_configs"]]
    assert "envoy" not in jobs and "target" not in jobs


def test_with_target_url_prometheus_scrapes_envoys_admin_and_the_services_metrics(tmp_path):
    settings = settings_for(tmp_path, TARGET_URL="http://127.0.0.1:8000/",
                            TARGET_METRICS_URL="http://127.0.0.1:8000/internal/metrics?x=1",
                            PROXY_ADMIN_PORT="19901", PROXY_ROUTES="/api")
    assert settings.target_url == "http://127.0.0.1:8000" and settings.proxy_routes == ("/api",)
    assert settings.ports["proxy"] == 10000 and settings.ports["proxy-control"] == 9902
    jobs = {j["job_name"]: j for j in yaml.safe_load(native_prometheus_config(settings)[0])
            ["scrape_configs"]}
    assert jobs["envoy"]["metrics_path"] == "/stats/prometheus"
    assert jobs["envoy"]["static_configs"] == [{"targets": ["127.0.0.1:19901"]}]
    assert jobs["target"] == {"job_name": "target", "scheme": "http",
                              "metrics_path": "/internal/metrics", "params": {"x": ["1"]},
                              "static_configs": [{"targets": ["127.0.0.1:8000"]}]}


@pytest.mark.parametrize(("env", "fragment"), [
    ({"TARGET_URL": "https://example.org"}, "TARGET_URL: expected http://host:port"),
    ({"TARGET_URL": "http://127.0.0.1:8000/api"}, "TARGET_URL: expected a base URL"),
    ({"TARGET_URL": "127.0.0.1:8000"}, "TARGET_URL: expected http://host:port"),
    ({"TARGET_URL": "http://h:1", "PROXY_ROUTES": "/api/"}, "PROXY_ROUTES: '/api/' is not"),
    ({"TARGET_URL": "http://h:1", "PROXY_ROUTES": "/metrics"}, "PROXY_ROUTES: '/metrics' is"),
    ({"TARGET_URL": "http://h:1", "PROXY_PORT": "9090"}, "PROXY_PORT and PROMETHEUS_PORT"),
    ({"TARGET_URL": "http://h:1", "PROXY_CONTROL_PORT": "x"}, "PROXY_CONTROL_PORT: expected"),
    ({"TARGET_URL": "http://h:1", "TARGET_METRICS_URL": "ftp://h/m"}, "TARGET_METRICS_URL:"),
    ({"PROXY_ROUTES": "/api"}, "PROXY_ROUTES is set but TARGET_URL is not"),
    ({"TARGET_METRICS_URL": "http://h:1/metrics"}, "TARGET_METRICS_URL is set but TARGET_URL"),
], ids=["https", "a path", "no scheme", "a bad prefix", "a never-faulted prefix",
        "a port clash", "a bad port", "a bad metrics URL", "routes without target",
        "metrics without target"])
def test_bad_proxy_settings_are_refused_naming_the_variable(tmp_path, env, fragment):
    with pytest.raises(StackConfigError, match=fragment):
        settings_for(tmp_path, **env)


def test_proxy_ports_clash_only_when_there_is_a_proxy(tmp_path):
    assert not settings_for(tmp_path, PROXY_PORT="9090").proxy


def write_env(path: Path, pairs: dict) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "env").write_text("".join(f"{k}={v}\n" for k, v in pairs.items()))


@pytest.mark.parametrize(("environ", "stack", "expected"), [
    ({}, {"APP_URL": "http://127.0.0.1:5000", "FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://127.0.0.1:5000", "stack-secret", "app")),
    ({}, {"APP_URL": "http://a:1", "FAULT_API_URL": "http://p:2", "FAULT_BACKEND": "proxy",
          "PROXY_URL": "http://p:10000", "FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://p:2", "stack-secret", "proxy")),
    ({"FAULT_API_URL": "http://elsewhere:1"}, {"FAULT_API_URL": "http://p:2",
                                                "FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://elsewhere:1", None, "app")),
    ({"APP_URL": "http://a:1"}, {"APP_URL": "http://a:1", "FAULT_API_URL": "http://p:2",
                                 "FAULT_BACKEND": "proxy", "PROXY_URL": "http://p:10000",
                                 "FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://a:1", "stack-secret", "app")),
    ({"APP_URL": "http://mine:1", "FAULT_ADMIN_TOKEN": "env-secret"},
     {"FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://mine:1", "env-secret", "app")),
    ({"APP_PORT": "5001"}, {}, ("http://127.0.0.1:5001", None, "app")),
    ({"APP_PORT": "5001"}, {"APP_URL": "http://127.0.0.1:5001", "FAULT_API_URL": "http://p:2",
                            "FAULT_BACKEND": "proxy", "PROXY_URL": "http://p:10000",
                            "FAULT_ADMIN_TOKEN": "stack-secret"},
     ("http://p:2", "stack-secret", "proxy")),
], ids=["the stack's app", "the stack's proxy", "another API never gets the stack's token",
        "the stack's app named in APP_URL", "the environment's own app and token",
        "no stack", "the stack's own APP_PORT means the stack"])
def test_the_fault_api_is_resolved_with_the_token_that_belongs_to_it(tmp_path, environ,
                                                                     stack, expected):
    write_env(tmp_path, stack)
    api = resolve_fault_api(environ={"STACK_DIR": str(tmp_path), **environ})
    assert (api.url, api.token, api.backend) == expected
    # what its faults act on: the stack's proxy, else the app itself
    assert api.affects == (stack.get("PROXY_URL") if api.backend == "proxy" else api.url)
    assert "secret" not in repr(api)


def test_load_goes_through_the_proxy_when_the_stack_runs_one(tmp_path):
    write_env(tmp_path, {"APP_URL": "http://127.0.0.1:5001", "PROXY_URL": "http://p:10000"})
    assert resolve_target_url({"STACK_DIR": str(tmp_path)}) == "http://p:10000"
    # the stack's own app port, as the stack was started with, still means the stack
    assert resolve_target_url({"STACK_DIR": str(tmp_path), "APP_PORT": "5001"}) == \
        "http://p:10000"
    assert resolve_target_url({"STACK_DIR": str(tmp_path), "APP_URL": "http://x:2"}) == \
        "http://x:2"


def test_render_envoy_for_compose_is_a_bootstrap_the_real_envoy_accepts(tmp_path):
    out = tmp_path / "envoy.json"
    env = {**os.environ, "STACK_DIR": str(tmp_path),
           "TARGET_URL": "http://host.docker.internal:8000", "PROXY_ROUTES": "/api"}
    done = subprocess.run([sys.executable, "-m", "stack", "render-envoy", "--out", str(out),
                           "--container"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["admin"]["address"]["socket_address"] == {"address": "0.0.0.0",
                                                         "port_value": 9901}
    check = subprocess.run([str(envoy_binary()), "--mode", "validate", "-c", str(out),
                            "--disable-hot-restart", "--log-level", "error"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


# ------------------------------------------------------------------------- the real stack

def cli(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=120)


def envoys_of(stack_dir: Path) -> list[int]:
    """Envoy processes running this stack's bootstrap."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(stack_dir) in cmdline and "envoy" in cmdline and \
                proc.info["status"] != psutil.STATUS_ZOMBIE and "stack.proxy" not in cmdline:
            found.append(proc.pid)
    return found


@pytest.fixture
def proxied_stack_env(tmp_path, static_server):
    env = private_stack_env(tmp_path / "stack", TARGET_URL=static_server.url,
                            PROXY_ROUTES="/api", APP_BASELINE_DELAY_MS="0")
    env.pop("APP_URL", None)
    yield env
    cli(env, "stack", "down")


@pytest.mark.integration
def test_the_stack_with_target_url_runs_the_proxy_faults_act_on_it_and_down_stops_it(
        proxied_stack_env, static_server):
    env = proxied_stack_env
    up = cli(env, "stack", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    pairs = read_stack_env(env["STACK_DIR"])
    assert pairs["TARGET_URL"] == static_server.url and pairs["FAULT_BACKEND"] == "proxy"
    assert f"{pairs['PROXY_URL']} -> {static_server.url}" in " ".join(up.stdout.split())
    # the address to send load to comes first, not the control port it is checked on
    assert (f"starting Fault proxy (Envoy) on {pairs['PROXY_URL']} (fault API "
            f"{pairs['FAULT_API_URL']})") in " ".join(up.stdout.split()), up.stdout
    status = cli(env, "stack", "status")
    assert status.returncode == 0 and "Fault proxy" in status.stdout, status.stdout
    assert requests.get(pairs["PROXY_URL"] + "/", timeout=5).status_code == 200
    fault = cli(env, "harness_common.faults", "set", "error", "--status", "502", "--routes",
                "/api/*", "--ttl", "60")
    assert fault.returncode == 0 and "error fault on (proxy)" in fault.stdout, fault.stderr
    assert requests.get(pairs["PROXY_URL"] + "/api/x", timeout=5).status_code == 502
    assert requests.get(pairs["PROXY_URL"] + "/", timeout=5).status_code == 200
    # in front of a service nothing of the demo app runs (issue 21: no demo in the way)
    assert "APP_URL" not in pairs and "Target app" not in up.stdout
    assert load_state(Path(env["STACK_DIR"]) / "state.json").part("app") is None
    refused = cli(env, "harness_common.faults", "set", "abort")
    assert refused.returncode == 2
    assert "kind: the fault proxy (Envoy's fault filter) cannot drop" in refused.stderr
    targets = requests.get(pairs["PROMETHEUS_URL"] + "/api/v1/targets", timeout=5).json()
    health = {t["labels"]["job"]: t["health"] for t in targets["data"]["activeTargets"]}
    assert health["envoy"] == "up"
    assert envoys_of(Path(env["STACK_DIR"]))
    down = cli(env, "stack", "down")
    assert down.returncode == 0 and "stopped proxy" in down.stdout
    assert not port_in_use(int(env["PROXY_PORT"])) and not envoys_of(Path(env["STACK_DIR"]))


def test_an_unreachable_target_url_is_one_line_exit_2_before_anything_starts(tmp_path):
    env = private_stack_env(tmp_path / "stack", TARGET_URL=f"http://127.0.0.1:{free_port()}")
    up = cli(env, "stack", "up")
    assert up.returncode == 2
    assert up.stderr.strip().splitlines() == [
        f"error: TARGET_URL {env['TARGET_URL']} is unreachable (Connection refused): start the "
        f"service first, or point TARGET_URL at it"]
    assert not (tmp_path / "stack" / "state.json").exists()


@pytest.mark.integration
def test_a_taken_proxy_port_is_one_line_exit_2_before_anything_starts(tmp_path,
                                                                      static_server):
    env = private_stack_env(tmp_path / "stack", TARGET_URL=static_server.url)
    blocker = spawn_ready("blocker", [sys.executable, "-m", "http.server", env["PROXY_PORT"],
                                      "--bind", "127.0.0.1"], tmp_path / "blocker.log",
                          f"http://127.0.0.1:{env['PROXY_PORT']}/")
    try:
        up = cli(env, "stack", "up")
    finally:
        blocker.stop()
    assert up.returncode == 2
    (line,) = up.stderr.strip().splitlines()
    assert line.startswith(f"error: port {env['PROXY_PORT']} (PROXY_PORT) is taken by a "
                           f"process the stack did not start: stop it, or choose another port")
    assert not (tmp_path / "stack" / "state.json").exists()


@pytest.mark.integration
def test_a_proxy_that_does_not_come_up_is_one_line_exit_2_and_nothing_is_left(
        proxied_stack_env):
    env = {**proxied_stack_env, "ENVOY_PATH": "/bin/false"}
    up = cli(env, "stack", "up")
    assert up.returncode == 2
    errors = up.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(
        "error: the fault proxy did not come up: Envoy exited (code 1) before it was ready")
    assert not (Path(env["STACK_DIR"]) / "state.json").exists()
    for var in ("APP_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "TELEGRAM_SANDBOX_PORT",
                "PROXY_CONTROL_PORT"):
        assert not port_in_use(int(env[var])), var
