"""Stack settings: read once from the environment (at the edge), validated, then frozen.

    settings = StackSettings.from_env()                      # os.environ
    settings = StackSettings.from_env({"STACK_DIR": tmp, "APP_PORT": "18080", ...})

Environment (DESIGN.md): APP_PORT 5000, PROMETHEUS_PORT 9090, ALERTMANAGER_PORT 9093,
GRAFANA_PORT 3000, TELEGRAM_SANDBOX_PORT 8081, LOCUST_PORT 8089; STACK_DIR (.stack);
STACK_MODE auto|native|compose (auto: compose when a Docker engine answers); SLO_PROFILE
standard|fast (which generated SLO rule file Prometheus loads); STACK_EXTRA_RULES (more rule
files, separated by ':'); APP_BASELINE_DELAY_MS (5-50); TELEGRAM_BOT_TOKEN + TELEGRAM_CHAT_ID
(both set: real Telegram; neither: the sandbox), TELEGRAM_API_URL (https://api.telegram.org).

The fault proxy (stack/proxy), when TARGET_URL is set (http://host:port of any service): Envoy
on PROXY_PORT (10000) in front of it, its admin endpoint on PROXY_ADMIN_PORT (9901, loopback),
the fault API on PROXY_CONTROL_PORT (9902); PROXY_ROUTES lists the path prefixes a fault may
name one by one ("/api,/orders"); TARGET_METRICS_URL (the service's own /metrics) is scraped
too when given.

STACK_BACKEND prometheus|victoriametrics (`make stack BACKEND=victoriametrics`): the database
answering PROMETHEUS_URL. VictoriaMetrics (Debian's victoria-metrics) scrapes the same jobs from
the same rendered prometheus.yml and vmalert (VMALERT_PORT 8880) evaluates the same rule files,
sending to the same Alertmanager; native mode only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from stack.errors import StackConfigError

REPO = Path(__file__).resolve().parent.parent
STACK_PACKAGE = Path(__file__).resolve().parent
HOST = "127.0.0.1"

# part -> (environment variable, default port); the order is the start order.
PORT_VARS = {
    "telegram-sandbox": ("TELEGRAM_SANDBOX_PORT", 8081),
    "app": ("APP_PORT", 5000),
    "alertmanager": ("ALERTMANAGER_PORT", 9093),
    "prometheus": ("PROMETHEUS_PORT", 9090),
    "grafana": ("GRAFANA_PORT", 3000),
    "locust": ("LOCUST_PORT", 8089),
}
# The fault proxy's ports: part of the stack only when TARGET_URL is set.
PROXY_PORT_VARS = {
    "proxy": ("PROXY_PORT", 10000),
    "proxy-admin": ("PROXY_ADMIN_PORT", 9901),
    "proxy-control": ("PROXY_CONTROL_PORT", 9902),
}
# vmalert's port: part of the stack only with STACK_BACKEND=victoriametrics (it evaluates the
# rules that Prometheus evaluates itself).
VMALERT_PORT_VARS = {"vmalert": ("VMALERT_PORT", 8880)}
_PORT_NAMES = tuple(var for var, _ in (*PORT_VARS.values(), *PROXY_PORT_VARS.values(),
                                       *VMALERT_PORT_VARS.values()))
# The time-series database answering PROMETHEUS_URL: Prometheus, or VictoriaMetrics (scraping the
# same jobs, with vmalert evaluating the same rule files and sending to the same Alertmanager).
BACKENDS = ("prometheus", "victoriametrics")
SLO_PROFILES = ("standard", "fast")
STACK_MODES = ("auto", "native", "compose")
TELEGRAM_API_DEFAULT = "https://api.telegram.org"
# The sandbox's chat: a supergroup-shaped id, like the ones real alert chats have.
SANDBOX_CHAT_ID = -1001234567890

# What a private stack must not inherit from the caller's shell: where another stack is, its
# secrets and real Telegram credentials.
_INHERITED = ("TELEGRAM_", "FAULT_ADMIN", "STACK_", "SLO_PROFILE", "GRAFANA_", "PROMETHEUS_URL",
              "ALERTMANAGER_URL", "APP_URL", "REPORTS_DIR", "TARGET_", "PROXY_", "FAULT_API",
              "FAULT_BACKEND", "FAULT_AFFECTS")


def private_stack_env(stack_dir: str | os.PathLike, environ=None, **extra: str) -> dict[str, str]:
    """The environment of a native stack of its own: run directory `stack_dir`, free ports, the
    Telegram sandbox (never real Telegram), nothing of another stack's (for tests and benches).
    """
    from stack.procs import free_ports

    base = os.environ if environ is None else environ
    env = {k: v for k, v in base.items()
           if not k.startswith(_INHERITED) and k not in _PORT_NAMES}
    env.update({var: str(port) for var, port in zip(_PORT_NAMES, free_ports(len(_PORT_NAMES)),
                                                     strict=True)})
    env.update({"STACK_DIR": str(stack_dir), "STACK_MODE": "native", **extra})
    return env


BOT_TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,64}$")
CHAT_ID_RE = re.compile(r"^-?\d{1,20}$")


def _port(environ, var: str, default: int) -> int:
    raw = environ.get(var)
    if raw in (None, ""):
        return default
    try:
        port = int(raw)
    except ValueError as err:
        raise StackConfigError(f"{var}: expected a port number 1-65535 (got {raw!r})") from err
    if not 1 <= port <= 65535:
        raise StackConfigError(f"{var}: expected a port number 1-65535 (got {port})")
    return port


def port_var(part: str) -> str:
    """The environment variable that sets a part's port."""
    return {**PORT_VARS, **PROXY_PORT_VARS, **VMALERT_PORT_VARS}[part][0]


def check_target_url(var: str, url: str) -> tuple[str, int]:
    """(host, port) of an http://host:port service URL; StackConfigError naming `var`."""
    from stack.proxy.bootstrap import target_address

    try:
        return target_address(url)
    except ValueError as err:
        raise StackConfigError(f"{var}: {err}") from err


def check_metrics_url(var: str, url: str) -> str:
    """`url` if it is an http(s) URL of a metrics page (a path is allowed, no credentials)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username \
            or parts.fragment:
        raise StackConfigError(f"{var}: expected the URL of the service's metrics page, e.g. "
                               f"http://127.0.0.1:8000/metrics (got {url!r})")
    return url


def _choice(environ, var: str, choices: tuple[str, ...]) -> str:
    value = (environ.get(var) or choices[0]).strip().lower()
    if value not in choices:
        raise StackConfigError(f"{var}: expected one of {', '.join(choices)} (got {value!r})")
    return value


def check_api_url(var: str, url: str) -> str:
    """`url` without a trailing slash, if it is an http(s) base URL (no path, query or user)."""
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
            or parts.fragment or parts.username or parts.path not in ("", "/")):
        raise StackConfigError(f"{var}: expected a base URL like https://api.telegram.org "
                               f"(scheme http or https, no path, query or credentials)")
    return url.rstrip("/")


@dataclass(frozen=True)
class TelegramTarget:
    """Where Alertmanager (and Grafana) deliver: the real Bot API or the sandbox."""

    mode: str                      # "telegram" or "sandbox"
    api_url: str
    chat_id: int
    bot_token: str = field(repr=False)


@dataclass(frozen=True)
class StackSettings:
    """Everything the launcher needs, validated. Build it with from_env()."""

    stack_dir: Path
    ports: dict[str, int]
    mode: str = "auto"
    slo_profile: str = "standard"
    slo_profile_chosen: bool = False   # SLO_PROFILE was set, not defaulted
    extra_rules: tuple[Path, ...] = ()
    app_baseline_delay_ms: str = "5-50"
    telegram_bot_token: str | None = field(default=None, repr=False)
    telegram_chat_id: int | None = None
    telegram_api_url: str = TELEGRAM_API_DEFAULT
    fault_admin_token: str | None = field(default=None, repr=False)
    host: str = HOST
    target_url: str | None = None              # the service behind the fault proxy
    target_metrics_url: str | None = None      # its own metrics page, scraped as job "target"
    proxy_routes: tuple[str, ...] = ()         # prefixes the proxy faults one by one
    backend: str = "prometheus"                # STACK_BACKEND: see BACKENDS

    @classmethod
    def from_env(cls, environ=None) -> StackSettings:
        """Read and validate the settings; errors name the variable and never echo a token."""
        env = os.environ if environ is None else environ
        stack_dir = Path(env.get("STACK_DIR") or REPO / ".stack").resolve()
        target = (env.get("TARGET_URL") or "").strip().rstrip("/") or None
        backend = _choice(env, "STACK_BACKEND", BACKENDS)
        port_vars = {**PORT_VARS, **(PROXY_PORT_VARS if target else {}),
                     **(VMALERT_PORT_VARS if backend == "victoriametrics" else {})}
        ports = {part: _port(env, var, default) for part, (var, default) in port_vars.items()}
        seen: dict[int, str] = {}
        for part, port in ports.items():
            if port in seen:
                raise StackConfigError(
                    f"{port_var(part)} and {port_var(seen[port])} are both {port}: "
                    f"give each part its own port")
            seen[port] = part
        metrics = (env.get("TARGET_METRICS_URL") or "").strip() or None
        routes: tuple[str, ...] = ()
        if target:
            check_target_url("TARGET_URL", target)
            from stack.proxy.routes import parse_prefixes

            try:
                routes = parse_prefixes(env.get("PROXY_ROUTES"))
            except ValueError as err:
                raise StackConfigError(f"PROXY_ROUTES: {err}") from err
        else:
            for var in ("TARGET_METRICS_URL", "PROXY_ROUTES"):
                if env.get(var):
                    raise StackConfigError(f"{var} is set but TARGET_URL is not: the fault "
                                           f"proxy runs only in front of a TARGET_URL")
        if metrics:
            check_metrics_url("TARGET_METRICS_URL", metrics)
        extra = tuple(Path(p).resolve() for p in (env.get("STACK_EXTRA_RULES") or "").split(":")
                      if p.strip())
        for path in extra:
            if not path.is_file():
                raise StackConfigError(f"STACK_EXTRA_RULES: {path} is not a file")
        token = env.get("TELEGRAM_BOT_TOKEN") or None
        chat = env.get("TELEGRAM_CHAT_ID") or None
        if bool(token) != bool(chat):
            raise StackConfigError(
                "TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID: set both for real Telegram, or neither "
                "to use the stack's Telegram sandbox")
        if token and not BOT_TOKEN_RE.match(token):
            raise StackConfigError("TELEGRAM_BOT_TOKEN: not a bot token (expected "
                                   "'<digits>:<secret>' as @BotFather gives it)")
        if chat and not CHAT_ID_RE.match(chat):
            raise StackConfigError(
                "TELEGRAM_CHAT_ID: Alertmanager 0.25 needs a numeric chat id such as "
                "-1001234567890 (ask @RawDataBot or getUpdates for it), not a @username")
        api_url = check_api_url("TELEGRAM_API_URL",
                                env.get("TELEGRAM_API_URL") or TELEGRAM_API_DEFAULT)
        return cls(
            stack_dir=stack_dir,
            ports=ports,
            mode=_choice(env, "STACK_MODE", STACK_MODES),
            slo_profile=_choice(env, "SLO_PROFILE", SLO_PROFILES),
            slo_profile_chosen=bool(env.get("SLO_PROFILE")),
            extra_rules=extra,
            app_baseline_delay_ms=env.get("APP_BASELINE_DELAY_MS") or "5-50",
            telegram_bot_token=token,
            telegram_chat_id=int(chat) if chat else None,
            telegram_api_url=api_url,
            fault_admin_token=env.get("FAULT_ADMIN_TOKEN") or None,
            target_url=target,
            target_metrics_url=metrics,
            proxy_routes=routes,
            backend=backend,
        )

    @property
    def proxy(self) -> bool:
        """True when the stack runs the fault proxy (TARGET_URL is set)."""
        return self.target_url is not None

    def url(self, part: str) -> str:
        """http://127.0.0.1:<port> of a part."""
        return f"http://{self.host}:{self.ports[part]}"

    def address(self, part: str) -> str:
        """127.0.0.1:<port> of a part (a Prometheus target)."""
        return f"{self.host}:{self.ports[part]}"

    def telegram(self, sandbox_token: str, sandbox_url: str | None = None) -> TelegramTarget:
        """Real Telegram when the bot token and chat id are set, else the sandbox."""
        if self.telegram_bot_token and self.telegram_chat_id is not None:
            return TelegramTarget("telegram", self.telegram_api_url, self.telegram_chat_id,
                                  self.telegram_bot_token)
        return TelegramTarget("sandbox", sandbox_url or self.url("telegram-sandbox"),
                              SANDBOX_CHAT_ID, sandbox_token)

    @property
    def paths(self) -> StackPaths:
        """The run directory's layout."""
        return StackPaths(self.stack_dir)


@dataclass(frozen=True)
class StackPaths:
    """Where the native stack keeps its state (all under the git-ignored run directory)."""

    root: Path

    @property
    def env_file(self) -> Path:
        return self.root / "env"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def log(self, part: str) -> Path:
        return self.logs / f"{part}.log"

    def part_dir(self, part: str) -> Path:
        return self.root / part
