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

from stack.procs import Proc, find_binary, free_port, spawn_ready

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


def _need(*names: str) -> str:
    path = find_binary(*names)
    if path is None:
        pytest.fail(f"{names[0]} is not installed: run `make setup` "
                    f"(apt-get install prometheus prometheus-alertmanager)")
    return path


def start_app_at(port: int, token: str, log: Path, **env) -> Proc:
    """The real target app under gunicorn on `port` (baseline delay 0), ready."""
    full_env = {"APP_PORT": str(port), "FAULT_ADMIN_TOKEN": token, "APP_BASELINE_DELAY_MS": "0",
                "APP_LOG_LEVEL": "warning", **{k: str(v) for k, v in env.items()}}
    return spawn_ready("target-app", [sys.executable, "-m", "target_app", "serve"], log,
                       f"http://127.0.0.1:{port}/health", env=full_env, cwd=REPO)


def start_prometheus_at(config: Path, data: Path, port: int, log: Path, *extra: str) -> Proc:
    """A real Prometheus with a config file, data folder and port, ready."""
    return spawn_ready("prometheus", [
        _need("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", *extra,
    ], log, f"http://127.0.0.1:{port}/-/ready")


def start_alertmanager_at(config: Path, storage: Path, port: int, log: Path,
                          log_level: str = "warn") -> Proc:
    """A real Alertmanager (clustering off) with a config file, storage and port, ready."""
    return spawn_ready("alertmanager", [
        _need("prometheus-alertmanager", "alertmanager"), f"--config.file={config}",
        f"--storage.path={storage}", f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=", f"--log.level={log_level}",
    ], log, f"http://127.0.0.1:{port}/-/ready")


def start_stack_sandbox(workdir: Path) -> Server:
    """The Telegram sandbox exactly as `make stack` starts it (stack.parts.build_parts: strict,
    only its own bot token and chat), on a free port; `token` is the stack's bot token."""
    from stack.config import StackSettings, private_stack_env
    from stack.files import resolve_secrets
    from stack.parts import build_parts

    settings = StackSettings.from_env(private_stack_env(workdir / "stack"))
    secrets_ = resolve_secrets({}, {})
    (part,) = [p for p in build_parts(settings, secrets_, {"prometheus": "-",
                                                           "alertmanager": "-"}, None)
               if p.name == "telegram-sandbox"]
    proc = spawn_ready(part.name, part.cmd, workdir / "sandbox.log", part.url + "/health",
                       env=part.env)
    return Server(url=part.url, port=settings.ports["telegram-sandbox"], proc=proc,
                  token=secrets_["TELEGRAM_SANDBOX_TOKEN"], workdir=workdir)


def _start_app(workdir: Path, **env) -> Server:
    port = free_port()
    token = env.pop("FAULT_ADMIN_TOKEN", None) or secrets.token_urlsafe(24)
    proc = start_app_at(port, token, workdir / "app.log", **env)
    return Server(url=f"http://127.0.0.1:{port}", port=port, proc=proc, token=token,
                  workdir=workdir)


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


def launch_prometheus(workdir: Path, targets: dict, rule_files=(), scrape_interval="1s",
                      evaluation_interval="1s", alertmanager: str | None = None,
                      extra_args=(), metrics_paths: dict | None = None) -> Server:
    """Start a real Prometheus in `workdir` scraping `targets` ({job: ["127.0.0.1:port"]});
    `metrics_paths` ({job: path}) for jobs whose page is not /metrics (Envoy's)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "global": {"scrape_interval": scrape_interval,
                   "evaluation_interval": evaluation_interval},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(hosts)}],
             **({"metrics_path": metrics_paths[job]} if job in (metrics_paths or {}) else {})}
            for job, hosts in targets.items()
        ],
        "rule_files": [str(Path(r).resolve()) for r in rule_files],
    }
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [
            {"targets": [alertmanager.removeprefix("http://")]}]}]}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    proc = start_prometheus_at(config_path, workdir / "data", port, workdir / "prometheus.log",
                               *extra_args)
    return Server(url=f"http://127.0.0.1:{port}", port=port, proc=proc,
                  config_path=config_path, workdir=workdir)


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


def build_tsdb(openmetrics: str, data: Path) -> Path:
    """A TSDB in `data` holding exactly the samples of `openmetrics` (OpenMetrics text with a
    timestamp on every sample, ending in `# EOF`), written by promtool as blocks."""
    import subprocess

    data.mkdir(parents=True, exist_ok=True)
    source = data.parent / "samples.om"
    source.write_text(openmetrics, encoding="utf-8")
    result = subprocess.run([_need("promtool"), "tsdb", "create-blocks-from", "openmetrics",
                             str(source), str(data)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return data


def prometheus_on_samples(workdir: Path, openmetrics: str, scrape_interval: str = "5s"
                          ) -> Server:
    """A real Prometheus in `workdir` answering from exactly the samples of `openmetrics`
    (build_tsdb), scraping nothing; its config's `scrape_interval` is what the checker reads
    as the services' one. The caller stops it (server.proc.stop())."""
    data = build_tsdb(openmetrics, workdir / "data")
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": scrape_interval}}))
    port = free_port()
    proc = start_prometheus_at(config, data, port, workdir / "prometheus.log")
    return Server(url=f"http://127.0.0.1:{port}", port=port, proc=proc, config_path=config,
                  workdir=workdir)


def openmetrics(series: dict[str, list[tuple[float, float]]]) -> str:
    """OpenMetrics text of exact samples: `series` maps a series ('x_bucket{le="0.3"}') to its
    (unix time, value) points; the series of one metric name are kept together, as the format
    wants."""
    lines = [f"{name} {value!r} {moment:.3f}"
             for name in sorted(series, key=lambda n: n.partition("{")[0])
             for moment, value in series[name]]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture
def prometheus_with_samples(tmp_path):
    """Factory: a real Prometheus that scrapes nothing, over exact samples (a window with
    gaps, spellings or counts no live scrape gives on cue): `series` as openmetrics() takes
    it; `promtool tsdb create-blocks-from openmetrics` writes them as TSDB blocks before
    Prometheus starts (keep them within its retention: the last days)."""
    started: list[Server] = []

    def start(series: dict[str, list[tuple[float, float]]]) -> Server:
        workdir = tmp_path / f"prometheus-samples{len(started)}"
        build_tsdb(openmetrics(series), workdir / "data")
        server = launch_prometheus(workdir, {}, scrape_interval="5s")
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.stop()


def start_static_server(workdir: Path, files: dict[str, str] | None = None) -> Server:
    """`python -m http.server` (a service this project did not write) serving `files`."""
    root = workdir / "www"
    for name, text in (files or {"index.html": "hello\n"}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    port = free_port()
    proc = spawn_ready("http.server", [sys.executable, "-m", "http.server", str(port), "--bind",
                                       "127.0.0.1", "--directory", str(root)],
                       workdir / "http-server.log", f"http://127.0.0.1:{port}/")
    return Server(url=f"http://127.0.0.1:{port}", port=port, proc=proc, workdir=workdir)


@dataclass
class Proxy:
    """A started fault proxy (python -m stack.proxy): Envoy's listener, its admin endpoint and
    the fault API with its token."""

    url: str
    admin_url: str
    control_url: str
    token: str
    proc: Proc


def launch_proxy(workdir: Path, target: str, routes: str = "", **env) -> Proxy:
    """Envoy + its fault controller in front of `target`, on free ports, ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    listen, admin, control = free_port(), free_port(), free_port()
    token = secrets.token_urlsafe(16)
    proc = spawn_ready("fault-proxy", [
        sys.executable, "-m", "stack.proxy", "--target", target, "--listen-port", str(listen),
        "--admin-port", str(admin), "--control-port", str(control), "--routes", routes,
        "--run-dir", str(workdir)], workdir / "proxy.log",
        f"http://127.0.0.1:{control}/health", env={"FAULT_ADMIN_TOKEN": token, **env}, cwd=REPO)
    return Proxy(f"http://127.0.0.1:{listen}", f"http://127.0.0.1:{admin}",
                 f"http://127.0.0.1:{control}", token, proc)


@pytest.fixture
def start_proxy(tmp_path):
    """Factory: a fault proxy in front of a target URL; stopped after the test."""
    started: list[Proxy] = []

    def start(target: str, routes: str = "", **env) -> Proxy:
        proxy = launch_proxy(tmp_path / f"proxy{len(started)}", target, routes, **env)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.proc.stop()


@pytest.fixture
def static_server(tmp_path):
    """A `python -m http.server` with a few files; stopped after the test."""
    server = start_static_server(tmp_path / "static", {
        "index.html": "home\n", "api/items": "[1, 2, 3]\n", "health": "ok\n",
        "metrics": "# none\n"})
    yield server
    server.proc.stop()


@pytest.fixture
def start_alertmanager(tmp_path):
    """Factory: a real Alertmanager (clustering off) with the given config text."""
    started: list[Server] = []

    def start(config_text: str) -> Server:
        workdir = tmp_path / f"alertmanager{len(started)}"
        workdir.mkdir()
        port = free_port()
        config_path = workdir / "alertmanager.yml"
        config_path.write_text(config_text)
        proc = start_alertmanager_at(config_path, workdir / "data", port,
                                     workdir / "alertmanager.log")
        server = Server(url=f"http://127.0.0.1:{port}", port=port, proc=proc,
                        config_path=config_path, workdir=workdir)
        started.append(server)
        return server

    yield start
    for server in started:
        server.proc.stop()
