"""Shared fixtures: real processes (gunicorn app, Prometheus, Alertmanager) on free ports.

Every fixture picks free ports, writes its state under pytest's tmp dirs and stops what it
started, also when a test fails.
"""

import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stack.procs import Proc, find_binary, free_port, http_ok, spawn, wait_until

REPO = Path(__file__).resolve().parent.parent


def fake_bot_token(bot_id: int = 123456789, first: str = "AA", last: str = "67") -> str:
    """A well-formed but obviously fake Telegram bot token (id:35 chars), built at run time so
    no token-shaped secret is committed. Masks as f"{bot_id}:{first}…{last}"."""
    return f"{bot_id}:{first}{'x' * 31}{last}"


@dataclass
class Server:
    """A started server: base URL, port, process, and (for the app) its admin token."""

    url: str
    port: int
    proc: Proc
    token: str | None = None
    config_path: Path | None = None
    workdir: Path | None = None


def _start_app(workdir: Path, **env) -> Server:
    port = free_port()
    token = env.pop("FAULT_ADMIN_TOKEN", None) or secrets.token_urlsafe(24)
    full_env = {
        "APP_PORT": str(port),
        "FAULT_ADMIN_TOKEN": token,
        "APP_BASELINE_DELAY_MS": "0",
        "APP_LOG_LEVEL": "warning",
        **{k: str(v) for k, v in env.items()},
    }
    proc = spawn("target-app", [sys.executable, "-m", "target_app", "serve"],
                 workdir / "app.log", env=full_env, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: http_ok(url + "/health"), 30, "the target app's /health", proc=proc)
    return Server(url=url, port=port, proc=proc, token=token, workdir=workdir)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One real gunicorn target app for the session (baseline delay 0, admin token set)."""
    server = _start_app(tmp_path_factory.mktemp("app"))
    yield server
    server.proc.stop()


@pytest.fixture
def start_app(tmp_path):
    """Factory: start a fresh real target app with extra environment; stopped after the test."""
    started: list[Server] = []

    def start(**env) -> Server:
        server = _start_app(tmp_path / f"app{len(started)}", **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.stop()


def _need(*names: str) -> str:
    path = find_binary(*names)
    if path is None:
        pytest.fail(f"{names[0]} is not installed: run `make setup` "
                    f"(apt-get install prometheus prometheus-alertmanager)")
    return path


def launch_prometheus(workdir: Path, targets: dict, rule_files=(), scrape_interval="1s",
                      evaluation_interval="1s", alertmanager: str | None = None,
                      extra_args=()) -> Server:
    """Start a real Prometheus in `workdir` scraping `targets` ({job: ["127.0.0.1:port"]})."""
    binary = _need("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "global": {"scrape_interval": scrape_interval,
                   "evaluation_interval": evaluation_interval},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(hosts)}]}
            for job, hosts in targets.items()
        ],
        "rule_files": [str(Path(r).resolve()) for r in rule_files],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager.removeprefix("http://")]}]}]}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = spawn("prometheus", [
        binary, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", *extra_args,
    ], workdir / "prometheus.log")
    url = f"http://127.0.0.1:{port}"
    server = Server(url=url, port=port, proc=proc, config_path=config_path, workdir=workdir)
    try:
        wait_until(lambda: http_ok(url + "/-/ready"), 30, "Prometheus /-/ready", proc=proc)
    except TimeoutError:
        proc.stop()
        raise
    return server


@pytest.fixture
def start_prometheus(tmp_path):
    """Factory: a real Prometheus scraping `targets` ({job: ["127.0.0.1:port", ...]})."""
    started: list[Server] = []

    def start(targets: dict, **kwargs) -> Server:
        server = launch_prometheus(tmp_path / f"prometheus{len(started)}", targets, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.stop()


@pytest.fixture
def start_alertmanager(tmp_path):
    """Factory: a real Alertmanager (clustering off) with the given config text."""
    started: list[Server] = []

    def start(config_text: str) -> Server:
        binary = _need("prometheus-alertmanager", "alertmanager")
        workdir = tmp_path / f"alertmanager{len(started)}"
        workdir.mkdir()
        port = free_port()
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(config_text)
        proc = spawn("alertmanager", [
            binary, f"--config.file={config_path}", f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
            "--log.level=warn",
        ], workdir / "alertmanager.log")
        url = f"http://127.0.0.1:{port}"
        server = Server(url=url, port=port, proc=proc, config_path=config_path, workdir=workdir)
        started.append(server)
        wait_until(lambda: http_ok(url + "/-/ready"), 30, "Alertmanager /-/ready", proc=proc)
        return server

    yield start
    for server in started:
        server.proc.stop()
