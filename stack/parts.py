"""The parts of the native stack: how each is started and how we know it is ready.

`build_parts()` turns settings + secrets + the binaries found into one `PartSpec` per part, in
start order (sandbox, app, the fault proxy when TARGET_URL is set, Alertmanager, Prometheus,
Grafana). Secrets travel in the child's environment or in mode-600 files, never in argv (argv is
public in `ps`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from stack.config import SANDBOX_CHAT_ID, StackSettings, port_var
from stack.grafana.env import HOME_DASHBOARD, grafana_env
from stack.grafana.exprs import DASHBOARDS_DIR, PROVISIONING_DIR
from stack.procs import find_binary, http_ok

# --rules.alert.resend-delay: see the comment block in stack/prometheus/prometheus.yml.
RESEND_DELAY = "5s"
GRAFANA_HOMES = (Path("/usr/share/grafana"), Path("/usr/local/share/grafana"))
INSTALL_HINT = "run `make setup` (apt-get install prometheus prometheus-alertmanager)"
GRAFANA_HINT = ("Grafana is not packaged by Debian: install it from Grafana's apt repository "
                "(https://grafana.com/docs/grafana/latest/setup-grafana/installation/debian/) "
                "or run the whole stack with Docker (`docker compose up -d`)")


@dataclass(frozen=True)
class PartSpec:
    """How to start one part and how to tell it is ready."""

    name: str
    title: str
    cmd: list[str]
    url: str
    ready: Callable[[], bool]
    ready_what: str
    env: dict[str, str] = field(default_factory=dict, repr=False)
    links: dict[str, str] = field(default_factory=dict)   # extra URLs worth printing
    ports: tuple[str, ...] = ()        # port keys it binds (default: its own name)
    one_line_errors: bool = False      # a failed start is the log's last `error:` line, exit 2

    @property
    def port_keys(self) -> tuple[str, ...]:
        """The settings.ports keys of the ports this part binds."""
        return self.ports or (self.name,)

    @property
    def port_var(self) -> str:
        """The environment variable that sets this part's port."""
        return port_var(self.name)


def _target_up(prometheus_url: str, job: str) -> bool:
    """True when Prometheus's active target of `job` reports health "up"."""
    try:
        resp = requests.get(f"{prometheus_url}/api/v1/targets", params={"state": "active"},
                            timeout=2)
        targets = resp.json()["data"]["activeTargets"]
    except (requests.RequestException, ValueError, KeyError):
        return False
    return any(t["labels"].get("job") == job and t.get("health") == "up" for t in targets)


def prometheus_ready(url: str, jobs: tuple[str, ...] = ("portfolio-app",)) -> bool:
    """Prometheus answers /-/ready and scrapes each job successfully (up == 1)."""
    return http_ok(url + "/-/ready") and all(_target_up(url, job) for job in jobs)


# part -> path that answers 2xx once the part serves (Prometheus: see prometheus_ready).
READY_PATHS = {
    "telegram-sandbox": "/health",
    "app": "/health",
    "alertmanager": "/-/ready",
    "prometheus": "/-/ready",
    "grafana": "/api/health",
    "proxy": "/health",          # the fault API's: 200 when Envoy is ready and in line
}


def ready_check(name: str, url: str, proxy: bool = False) -> Callable[[], bool]:
    """A no-argument readiness probe for part `name` served at `url` (`proxy`: the stack runs
    in front of TARGET_URL, so Prometheus scrapes Envoy, not the demo app)."""
    if name == "prometheus":
        return lambda: prometheus_ready(url, ("envoy",) if proxy else ("portfolio-app",))
    return lambda: http_ok(url + READY_PATHS[name])


def grafana_binary() -> tuple[str, list[str]] | None:
    """(path, argv prefix) of an installed Grafana server, or None."""
    if path := find_binary("grafana"):
        return path, [path, "server"]
    if path := find_binary("grafana-server"):
        return path, [path]
    return None


def proxy_part(settings: StackSettings, secrets: dict[str, str]) -> PartSpec:
    """The fault proxy: `python -m stack.proxy` (Envoy, its fault controller and their
    watchdog; the token in the controller's environment only). Its URL is the fault API's,
    where readiness is read."""
    control = settings.url("proxy-control")
    return PartSpec(
        name="proxy", title="Fault proxy (Envoy)",
        cmd=[sys.executable, "-m", "stack.proxy", "--target", settings.target_url,
             "--listen-port", str(settings.ports["proxy"]),
             "--admin-port", str(settings.ports["proxy-admin"]),
             "--control-port", str(settings.ports["proxy-control"]),
             "--routes", ",".join(settings.proxy_routes), "--host", settings.host,
             "--control-host", settings.host,
             "--run-dir", str(settings.paths.part_dir("proxy"))],
        env={"FAULT_ADMIN_TOKEN": secrets["FAULT_ADMIN_TOKEN"]},
        url=control,
        ready=ready_check("proxy", control),
        ready_what="the fault proxy's /health (Envoy ready)",
        links={"proxy": settings.url("proxy"), "envoy admin": settings.url("proxy-admin"),
               "target": settings.target_url},
        ports=("proxy", "proxy-admin", "proxy-control"),
        one_line_errors=True,
    )


def prometheus_part(settings: StackSettings, binaries: dict[str, str]) -> PartSpec:
    """Prometheus: scrapes, evaluates the rule files, sends to Alertmanager."""
    paths, url = settings.paths, settings.url
    return PartSpec(
        name="prometheus", title="Prometheus",
        cmd=[binaries["prometheus"],
             f"--config.file={paths.part_dir('prometheus') / 'prometheus.yml'}",
             f"--storage.tsdb.path={paths.part_dir('prometheus') / 'data'}",
             f"--web.listen-address={settings.address('prometheus')}",
             f"--web.external-url={url('prometheus')}",
             f"--rules.alert.resend-delay={RESEND_DELAY}",
             "--log.level=info"],
        url=url("prometheus"),
        # with TARGET_URL the demo app is not scraped: Envoy in front of the service is
        ready=ready_check("prometheus", url("prometheus"), settings.proxy),
        ready_what=('Prometheus to scrape Envoy (up{job="envoy"} == 1)' if settings.proxy
                    else 'Prometheus to scrape the app (up{job="portfolio-app"} == 1)'),
        links={"alerts": url("prometheus") + "/alerts",
               "targets": url("prometheus") + "/targets"},
    )


def victoriametrics_parts(settings: StackSettings, binaries: dict[str, str]) -> list[PartSpec]:
    """STACK_BACKEND=victoriametrics: VictoriaMetrics in Prometheus's place (its port, its
    rendered prometheus.yml for scraping, PROMETHEUS_URL answers from it) and vmalert
    evaluating the same rule files, sending to the same Alertmanager, writing its recordings
    and alert states back to VictoriaMetrics, which proxies its /api/v1/rules."""
    import yaml

    from stack.render import native_prometheus_config

    paths, url = settings.paths, settings.url
    config = paths.part_dir("prometheus") / "prometheus.yml"
    rendered = yaml.safe_load(native_prometheus_config(settings)[0]) or {}
    rule_files = [str(f) for f in rendered.get("rule_files") or []]
    evaluation = (rendered.get("global") or {}).get("evaluation_interval", "5s")
    jobs = ("envoy",) if settings.proxy else ("portfolio-app",)
    return [
        PartSpec(
            name="prometheus", title="VictoriaMetrics",
            cmd=[binaries["victoria-metrics"], f"-promscrape.config={config}",
                 # prometheus.yml's rule_files and alerting are vmalert's, not the scraper's
                 "-promscrape.config.strictParse=false",
                 f"-storageDataPath={paths.part_dir('prometheus') / 'data'}",
                 f"-httpListenAddr={settings.address('prometheus')}",
                 f"-vmalert.proxyURL={url('vmalert')}",
                 # newest data visible after 5 s (default 30 s); slo check waits for it
                 "-search.latencyOffset=5s", "-loggerLevel=WARN"],
            url=url("prometheus"),
            ready=lambda: prometheus_ready(url("prometheus"), jobs),
            ready_what=f"VictoriaMetrics to scrape {' and '.join(jobs)} (up == 1)",
            links={"targets": url("prometheus") + "/targets"},
        ),
        PartSpec(
            name="vmalert", title="vmalert",
            cmd=[binaries["vmalert"], *(f"-rule={f}" for f in rule_files),
                 f"-datasource.url={url('prometheus')}",
                 f"-remoteWrite.url={url('prometheus')}",
                 f"-remoteRead.url={url('prometheus')}",
                 f"-notifier.url={url('alertmanager')}",
                 f"-evaluationInterval={evaluation}",
                 f"-httpListenAddr={settings.address('vmalert')}",
                 f"-external.url={url('prometheus')}", "-loggerLevel=WARN"],
            url=url("vmalert"),
            ready=lambda: http_ok(url("vmalert") + "/health"),
            ready_what="vmalert's /health",
            links={"alerts": url("vmalert") + "/vmalert/alerts"},
        ),
    ]


def build_parts(settings: StackSettings, secrets: dict[str, str], binaries: dict[str, str],
                grafana: tuple[str, list[str]] | None) -> list[PartSpec]:
    """The part specs, in start order. `binaries` maps prometheus/alertmanager to paths."""
    paths = settings.paths
    py = sys.executable
    url = settings.url
    redact = [py, "-m", "stack.redact", "--"]
    parts = [
        PartSpec(
            name="telegram-sandbox", title="Telegram sandbox",
            cmd=[py, "-m", "stack.telegram_sandbox", "--host", settings.host,
                 "--port", str(settings.ports["telegram-sandbox"]),
                 "--data", str(paths.part_dir("telegram-sandbox") / "messages.jsonl")],
            # strict, as Telegram: only the stack's bot token and chat exist (the token is a
            # secret: environment, never argv)
            env={"TELEGRAM_SANDBOX_TOKENS": secrets["TELEGRAM_SANDBOX_TOKEN"],
                 "TELEGRAM_SANDBOX_CHATS": str(SANDBOX_CHAT_ID)},
            url=url("telegram-sandbox"),
            ready=ready_check("telegram-sandbox", url("telegram-sandbox")),
            ready_what="the Telegram sandbox's /health",
            links={"messages": url("telegram-sandbox") + "/sandbox/messages"},
        ),
        # the demo app only without TARGET_URL: in front of your service nothing of it runs
        *([] if settings.proxy else [PartSpec(
            name="app", title="Target app",
            cmd=[py, "-m", "target_app", "serve"],
            env={"APP_HOST": settings.host, "APP_PORT": str(settings.ports["app"]),
                 "FAULT_ADMIN_TOKEN": secrets["FAULT_ADMIN_TOKEN"],
                 "APP_BASELINE_DELAY_MS": settings.app_baseline_delay_ms},
            url=url("app"),
            ready=ready_check("app", url("app")),
            ready_what="the app's /health",
            links={"metrics": url("app") + "/metrics"},
        )]),
        *([proxy_part(settings, secrets)] if settings.proxy else []),
        PartSpec(
            name="alertmanager", title="Alertmanager",
            cmd=[*redact, binaries["alertmanager"],
                 f"--config.file={paths.part_dir('alertmanager') / 'alertmanager.yml'}",
                 f"--storage.path={paths.part_dir('alertmanager') / 'data'}",
                 f"--web.listen-address={settings.address('alertmanager')}",
                 f"--web.external-url={url('alertmanager')}",
                 # no gossip: clustering would also bind 0.0.0.0:9094 and wait for peers
                 "--cluster.listen-address=",
                 "--log.level=info"],
            url=url("alertmanager"),
            ready=ready_check("alertmanager", url("alertmanager")),
            ready_what="Alertmanager's /-/ready",
        ),
        *(victoriametrics_parts(settings, binaries) if settings.backend == "victoriametrics"
          else [prometheus_part(settings, binaries)]),
    ]
    if grafana is not None:
        home = next((h for h in GRAFANA_HOMES if h.is_dir()), None)
        grafana_dir = paths.part_dir("grafana")
        # in front of TARGET_URL: the files target_provisioning() writes there (no demo)
        own = settings.proxy
        dashboards = grafana_dir / "dashboards" if own else DASHBOARDS_DIR
        home = (grafana_dir / "dashboards" / HOME_DASHBOARD if own
                else DASHBOARDS_DIR / "portfolio.json")
        parts.append(PartSpec(
            name="grafana", title="Grafana",
            cmd=[*redact, *grafana[1], *([f"--homepath={home}"] if home else [])],
            env={
                # the provisioning's variables (datasource URL, dashboards dir, contact points)
                **grafana_env(url("prometheus"), url("alertmanager"), dashboards_dir=dashboards,
                              provisioning_dir=(grafana_dir / "provisioning" if own
                                                else PROVISIONING_DIR),
                              telegram_bot_token=settings.telegram_bot_token,
                              telegram_chat_id=(str(settings.telegram_chat_id)
                                                if settings.telegram_chat_id is not None
                                                else None)),
                "GF_SERVER_HTTP_ADDR": settings.host,
                "GF_SERVER_HTTP_PORT": str(settings.ports["grafana"]),
                "GF_SERVER_ROOT_URL": url("grafana") + "/",
                "GF_PATHS_DATA": str(grafana_dir / "data"),
                "GF_PATHS_LOGS": str(grafana_dir / "logs"),
                "GF_PATHS_PLUGINS": str(grafana_dir / "plugins"),
                "GF_SECURITY_ADMIN_USER": "admin",
                "GF_SECURITY_ADMIN_PASSWORD": secrets["GRAFANA_ADMIN_PASSWORD"],
                "GF_USERS_ALLOW_SIGN_UP": "false",
                "GF_AUTH_ANONYMOUS_ENABLED": "false",
                "GF_ANALYTICS_REPORTING_ENABLED": "false",
                "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
                "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
                "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH": str(home),
            },
            url=url("grafana"),
            ready=ready_check("grafana", url("grafana")),
            ready_what="Grafana's /api/health",
        ))
    return parts
