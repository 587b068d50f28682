"""Start, inspect and stop the stack — natively (local processes) or with docker compose.

Library use (the experiment runner, test fixtures):

    info = ensure_stack()                 # up unless already up; returns URLs and the token
    restart_part("app")                   # e.g. after an infra fault killed it
    stop_stack()                          # stops exactly what ensure_stack started

Natively the run directory (.stack/, or STACK_DIR) holds the rendered configs, logs, state.json
(pids + start times) and env (tokens, ports, URLs; mode 600). Parts start in order sandbox, app,
the fault proxy (when TARGET_URL is set), Alertmanager, Prometheus, Grafana (when installed) and
stop in reverse. With TARGET_URL, .stack/env names the proxy's fault API as FAULT_API_URL (the
CLIs, Locust and experiments then fault the service behind the proxy) and PROXY_URL as where
load goes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from stack import compose
from stack.config import (
    PORT_VARS,
    SANDBOX_CHAT_ID,
    StackSettings,
    TelegramTarget,
    check_target_url,
    port_var,
    spec_change_refused,
)
from stack.errors import MissingBinaryError, PartFailedError, PortInUseError, StackError
from stack.files import read_env_file, render_env_file, resolve_secrets, write_private
from stack.grafana.env import HOME_DASHBOARD, target_provisioning
from stack.links import FULL_UI, UiInfo, detect_ui, prometheus_prefix
from stack.parts import (
    GRAFANA_HINT,
    INSTALL_HINT,
    PartSpec,
    build_parts,
    grafana_binary,
    ready_check,
)
from stack.procs import find_binary, http_ok, pid_alive, port_in_use, spawn, stop_pid, wait_until
from stack.render import (
    ALERTMANAGER_TEMPLATE,
    TELEGRAM_TEMPLATE,
    compose_prometheus_dir,
    native_prometheus_config,
    render_alertmanager,
    render_links,
)
from stack.state import (
    PartRecord,
    StackState,
    load_state,
    locked,
    record_for,
    save_state,
)

READY_TIMEOUT_S = 45.0
Report = Callable[[str], None]

# Popen objects of the children this process started, so stopping them also reaps them.
_CHILDREN: dict[int, subprocess.Popen] = {}


def _quiet(_message: str) -> None:
    """The default reporter of library calls: say nothing."""


@dataclass(frozen=True)
class PartStatus:
    """One part as `status` sees it."""

    name: str
    pid: int | None
    alive: bool
    ready: bool
    url: str
    log: str


@dataclass
class StackInfo:
    """What ensure_stack() started (or found running)."""

    mode: str
    already_running: bool
    urls: dict[str, str]
    env: dict[str, str] = field(repr=False)
    telegram_mode: str = "sandbox"
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def fault_admin_token(self) -> str:
        """The app's admin token (also in .stack/env)."""
        return self.env["FAULT_ADMIN_TOKEN"]


# -- rendering ------------------------------------------------------------------------------

def write_alertmanager_dir(out_file: Path | str, telegram: TelegramTarget,
                           grafana_url: str | None, ui: UiInfo = FULL_UI) -> None:
    """alertmanager.yml (mode 600) + telegram.tmpl + links.tmpl, side by side in one directory.
    `ui`: which web UIs answer, so messages link only to those (stack.links)."""
    out_file = Path(out_file)
    text = render_alertmanager(ALERTMANAGER_TEMPLATE.read_text(encoding="utf-8"), telegram)
    write_private(out_file, text)
    shutil.copyfile(TELEGRAM_TEMPLATE, out_file.parent / "telegram.tmpl")
    write_links(out_file.parent, grafana_url, ui)


def write_links(directory: Path, grafana_url: str | None, ui: UiInfo) -> bool:
    """links.tmpl in `directory`; True when its text changed."""
    path = directory / "links.tmpl"
    text = render_links(grafana_url, ui.prometheus_prefix, ui.alertmanager_ui)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def _env_pairs(settings: StackSettings, secrets: dict[str, str], mode: str,
               telegram_mode: str, grafana: bool) -> dict[str, str]:
    pairs = dict(secrets)
    pairs["STACK_MODE"] = mode
    pairs["SLO_PROFILE"] = settings.slo_profile
    pairs["TELEGRAM_MODE"] = telegram_mode
    for part, port in settings.ports.items():
        pairs[port_var(part)] = str(port)
    if not settings.proxy:   # the demo app runs only without TARGET_URL
        pairs["APP_URL"] = settings.url("app")
        pairs["FAULT_API_URL"] = settings.url("app")
        pairs["FAULT_BACKEND"] = "app"
    if settings.proxy:
        pairs["TARGET_URL"] = settings.target_url
        if settings.target_metrics_url:
            pairs["TARGET_METRICS_URL"] = settings.target_metrics_url
        pairs["PROXY_ROUTES"] = ",".join(settings.proxy_routes)
        pairs["PROXY_URL"] = settings.url("proxy")
        pairs["PROXY_ADMIN_URL"] = settings.url("proxy-admin")
        pairs["FAULT_API_URL"] = settings.url("proxy-control")
        pairs["FAULT_BACKEND"] = "proxy"
        pairs["COMPOSE_PROFILES"] = "proxy"   # compose.yaml's envoy and fault-proxy services
    if settings.proxy and mode == "compose":   # compose.yaml's Grafana mounts these instead
        grafana_dir = settings.paths.part_dir("grafana")   # of the demo's (see _write_configs)
        pairs["GRAFANA_PROVISIONING_SRC"] = str(grafana_dir.resolve() / "provisioning")
        pairs["GRAFANA_DASHBOARDS_SRC"] = str(grafana_dir.resolve() / "dashboards")
        pairs["GRAFANA_HOME_DASHBOARD"] = HOME_DASHBOARD
        pairs["PROMETHEUS_CONFIG_SRC"] = str(settings.paths.part_dir("prometheus").resolve()
                                             / "compose")
    if settings.spec is not None:
        pairs["SLO_SPEC"] = str(settings.spec)
    if settings.extra_rules_given:
        pairs["STACK_EXTRA_RULES"] = settings.extra_rules_given
    if settings.backend != "prometheus":
        pairs["STACK_BACKEND"] = settings.backend
    pairs["PROMETHEUS_URL"] = settings.url("prometheus")
    pairs["ALERTMANAGER_URL"] = settings.url("alertmanager")
    pairs["TELEGRAM_SANDBOX_URL"] = settings.url("telegram-sandbox")
    pairs["TELEGRAM_SANDBOX_CHAT_ID"] = str(SANDBOX_CHAT_ID)   # where the verifiers look
    if grafana:
        pairs["GRAFANA_URL"] = settings.url("grafana")
    return pairs


def _plan(settings: StackSettings, mode: str, grafana: bool) -> tuple[dict[str, str],
                                                                       TelegramTarget]:
    """The .stack/env pairs (secrets kept from the last start) and the Telegram target, without
    writing anything: a start that is refused afterwards (a port taken) changes nothing."""
    paths = settings.paths
    overrides = {"FAULT_ADMIN_TOKEN": settings.fault_admin_token or ""}
    secrets = resolve_secrets(read_env_file(paths.root), overrides)
    telegram = settings.telegram(secrets["TELEGRAM_SANDBOX_TOKEN"])
    return _env_pairs(settings, secrets, mode, telegram.mode, grafana), telegram


def _write_configs(settings: StackSettings, mode: str, grafana: bool, pairs: dict[str, str],
                   telegram: TelegramTarget) -> list[str]:
    """.stack/env; natively also the Prometheus and Alertmanager configs (compose.yaml renders
    Alertmanager's in its alertmanager-config job). Returns the config's warnings."""
    paths = settings.paths
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(paths.env_file, render_env_file(pairs))
    if settings.proxy and (grafana or mode == "compose"):
        # Grafana in front of TARGET_URL: the user's SLO alerts and dashboard, none of the demo's
        # (its GrafanaPortfolioAppDown would page within a minute: no demo app runs)
        target_provisioning(paths.part_dir("grafana"),
                            paths.spec_rules / "grafana" if settings.spec is not None else None)
    if mode == "compose":   # in front of TARGET_URL: your rules and jobs, none of the demo's
        return (compose_prometheus_dir(settings, paths.part_dir("prometheus") / "compose")
                if settings.proxy else [])
    write_alertmanager_dir(paths.part_dir("alertmanager") / "alertmanager.yml", telegram,
                           settings.url("grafana") if grafana else None, _known_ui(paths.root))
    text, warnings = native_prometheus_config(settings)
    write_private(paths.part_dir("prometheus") / "prometheus.yml", text)
    return warnings


# -- processes --------------------------------------------------------------------------------

def _binaries(settings: StackSettings) -> dict[str, str]:
    found = {"prometheus": find_binary("prometheus"),
             "alertmanager": find_binary("prometheus-alertmanager", "alertmanager")}
    hint = INSTALL_HINT
    if settings.backend == "victoriametrics":
        del found["prometheus"]
        found |= {"victoria-metrics": find_binary("victoria-metrics"),
                  "vmalert": find_binary("vmalert")}
        hint = "apt-get install victoria-metrics prometheus-alertmanager (STACK_BACKEND)"
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise MissingBinaryError(f"{' and '.join(missing)} not found on PATH: {hint}")
    return found


def _specs(settings: StackSettings, env: dict[str, str]) -> list[PartSpec]:
    return build_parts(settings, env, _binaries(settings), grafana_binary())


def _start(spec: PartSpec, settings: StackSettings) -> PartRecord:
    if spec.name == "grafana":
        for sub in ("data", "logs", "plugins"):
            (settings.paths.part_dir("grafana") / sub).mkdir(parents=True, exist_ok=True)
    proc = spawn(spec.name, spec.cmd, settings.paths.log(spec.name), env=spec.env)
    _CHILDREN[proc.pid] = proc.popen
    return record_for(spec.name, proc.pid, spec.url, settings.paths.log(spec.name))


def _log_tail(record: PartRecord, lines: int = 25) -> str:
    try:
        with open(record.log, encoding="utf-8", errors="replace") as handle:
            return "\n".join(handle.read().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(spec: PartSpec, record: PartRecord, timeout: float) -> None:
    def ready() -> bool:
        if not record.leader_alive():
            if spec.one_line_errors:
                raise StackError(f"{_last_error(record) or spec.title + ' exited'} "
                                 f"(log: {record.log})")
            raise PartFailedError(f"{spec.title} exited during start-up; "
                                  f"{record.log} ends with:\n{_log_tail(record)}")
        return spec.ready()

    try:
        wait_until(ready, timeout, spec.ready_what, interval=0.2)
    except TimeoutError as err:
        if spec.one_line_errors:
            raise StackError(f"{spec.title} was not ready after {timeout:.0f}s (waiting for "
                             f"{spec.ready_what}; log: {record.log})") from err
        raise PartFailedError(f"{spec.title} was not ready after {timeout:.0f}s (waiting for "
                              f"{spec.ready_what}); {record.log} ends with:\n"
                              f"{_log_tail(record)}") from err


def _last_error(record: PartRecord) -> str | None:
    """The last `error: ...` line of a part's log, without the prefix."""
    lines = [line for line in _log_tail(record, 50).splitlines() if line.startswith("error: ")]
    return lines[-1].removeprefix("error: ") if lines else None


def _reap() -> None:
    """Collect the exit status of our children that ended (however they were stopped)."""
    for pid, popen in list(_CHILDREN.items()):
        if popen.poll() is not None:
            del _CHILDREN[pid]


def _stop_record(record: PartRecord, timeout: float = 10.0) -> bool:
    """Stop a recorded part's process group if it is still ours. True when something was."""
    popen = _CHILDREN.pop(record.pid, None)
    if not record.is_ours():
        if popen is not None:
            popen.poll()
        return False
    if popen is not None and not record.leader_alive():
        popen.poll()  # reap a leader that already exited
    stop_pid(record.pid, timeout, popen=popen)  # the leader and any child that outlived it
    with contextlib.suppress(ChildProcessError):
        os.waitpid(record.pid, os.WNOHANG)  # reap the leader when it was our child
    return True


def _check_ports(specs: list[PartSpec], settings: StackSettings) -> None:
    for spec in specs:
        for key in spec.port_keys:
            port, var = settings.ports[key], port_var(key)
            if port_in_use(port, settings.host):
                raise PortInUseError(
                    f"port {port} ({var}) is taken by a process the stack did not start: "
                    f"stop it, or choose another port, e.g. `{var}={_suggest(port)} "
                    f"make stack`")


def _check_target(settings: StackSettings, timeout: float = 2.0) -> None:
    """TARGET_URL must accept connections before the proxy is put in front of it (a part of
    the stack itself, e.g. its Prometheus, counts as reachable: it starts with the stack)."""
    if not settings.proxy:
        return
    host, port = check_target_url("TARGET_URL", settings.target_url)
    own = {p for k, p in settings.ports.items() if not k.startswith("proxy")}
    if host in ("127.0.0.1", "localhost", settings.host) and port in own:
        return
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise StackError(f"TARGET_URL {settings.target_url} is unreachable ({why}): start the "
                         f"service first, or point TARGET_URL at it") from err


def _suggest(port: int) -> int:
    return port + 10000 if port + 10000 <= 65535 else port - 1000


# -- the API --------------------------------------------------------------------------------

def choose_mode(settings: StackSettings) -> str:
    """native or compose: STACK_MODE, or (auto) compose when a Docker engine answers.
    STACK_BACKEND=victoriametrics is native only (compose.yaml runs Prometheus)."""
    if settings.backend != "prometheus":
        if settings.mode == "compose":
            raise StackError(f"STACK_BACKEND={settings.backend} runs natively only "
                             f"(compose.yaml runs Prometheus): set STACK_MODE=native")
        return "native"
    if settings.mode != "auto":
        return settings.mode
    return "compose" if compose.docker_engine_answers() else "native"


def _info(settings: StackSettings, state: StackState, already: bool,
          warnings: list[str] | None = None, skipped: list[str] | None = None) -> StackInfo:
    urls = {p.name: p.url for p in state.parts}
    if state.mode == "compose":
        urls = {part: settings.url(part) for part in PORT_VARS if part != "locust"}
        if settings.proxy:
            urls["proxy"] = settings.url("proxy-control")
    return StackInfo(mode=state.mode, already_running=already, urls=urls,
                     env=read_env_file(settings.paths.root), telegram_mode=state.telegram_mode,
                     warnings=warnings or [], skipped=skipped or [])


def _drift(settings: StackSettings, state: StackState) -> list[str]:
    """How the running stack differs from what `settings` ask for (it is kept as it is)."""
    notes = []
    if state.ports != settings.ports:
        changed = [port_var(part) for part in {**state.ports, **settings.ports}
                   if state.ports.get(part) != settings.ports.get(part)]
        notes.append(f"the running stack uses other ports ({', '.join(changed)})")
    if state.target_url != settings.target_url:
        running = state.target_url or "no service (no fault proxy)"
        notes.append(f"the running stack proxies {running}, not "
                     f"{settings.target_url or 'nothing (TARGET_URL unset)'}")
    if state.slo_profile != settings.slo_profile:
        notes.append(f"the running stack loads SLO profile {state.slo_profile}, "
                     f"not {settings.slo_profile}")
    return [f"{n}: `python -m stack down` first to change it" for n in notes]


def _reload_rules(settings: StackSettings, state: StackState, report: Report) -> list[str]:
    """A running native stack rereads its rule files (SIGHUP to Prometheus, or vmalert), so
    the rules `slo rules --stack` just regenerated for the same SLO_SPEC are the ones
    evaluated; a different SLO_SPEC is a drift note, never claimed as loaded."""
    recorded = read_env_file(settings.paths.root).get("SLO_SPEC") or None
    refused = spec_change_refused(recorded, settings.spec)
    if refused:
        return [refused]
    reloaded = []
    for name in ("prometheus", "vmalert"):
        record = state.part(name)
        if record is not None and record.is_ours():
            os.kill(record.pid, signal.SIGHUP)
            reloaded.append(name)
    if reloaded and recorded:
        report(f"{' and '.join(reloaded)} reread the rule files of {recorded} (SIGHUP)")
    return []


def _listens(spec: PartSpec) -> str:
    """Where a part takes requests: the fault proxy's traffic address first (its url is the
    fault API it is checked on; a user reading "on <control port>" sent load there)."""
    proxy = spec.links.get("proxy")
    return f"{proxy} (fault API {spec.url})" if proxy else spec.url


def revived_settings(settings: StackSettings, state: StackState | None
                     ) -> tuple[StackSettings, str | None]:
    """Reviving a stack keeps its SLO profile unless SLO_PROFILE chooses one: a fast-profile
    stack an experiment started must not come back with the standard rules just because the
    shell that revives it does not set SLO_PROFILE. Returns the settings and a note."""
    if state is None or settings.slo_profile_chosen or state.slo_profile == settings.slo_profile:
        return settings, None
    return (dataclasses.replace(settings, slo_profile=state.slo_profile),
            f"keeping the {state.slo_profile} SLO profile of the stack in {settings.paths.root} "
            f"(SLO_PROFILE chooses another)")


def ensure_stack(settings: StackSettings | None = None, *, report: Report = _quiet,
                 timeout: float = READY_TIMEOUT_S, fresh: bool = False) -> StackInfo:
    """Bring the stack up unless it already is; restart parts of a native stack that died.

    `fresh`: start Prometheus and Alertmanager with empty data (a run that must not see the
    last run's series and alerts, nor Alertmanager's log of what it already sent, which keeps
    it from sending a still-firing alert again); refused while Prometheus runs. Raises
    MissingBinaryError, PortInUseError, PartFailedError (after stopping what it started),
    StackConfigError, StackError.
    """
    settings = settings or StackSettings.from_env()
    paths = settings.paths
    with locked(paths.lock_file):
        state = load_state(paths.state_file)
        if state is not None and state.mode == "compose":
            return _info(settings, state, already=True, warnings=_drift(settings, state))
        settings, note = revived_settings(settings, state)
        if note:
            report(note)
        if state is not None:
            alive = [r for r in state.parts if r.leader_alive()]
            prometheus = state.part("prometheus")
            if fresh and prometheus is not None and prometheus.leader_alive():
                raise StackError(f"--fresh (FRESH=1) starts Prometheus with empty data, but the "
                                 f"stack in {paths.root} is running: `make stack-down` first")
            if alive and len(alive) == len(state.parts):
                notes = _drift(settings, state) + _reload_rules(settings, state, report)
                return _info(settings, state, already=True, warnings=notes)
            if alive and state.ports != settings.ports:
                raise StackError(f"part of a stack started with other ports is still running "
                                 f"from {paths.root}: `python -m stack down` first")
        mode = choose_mode(settings)
        if mode == "compose":
            return _compose_up(settings, report)
        _check_target(settings)
        return _native_up(settings, state, report, timeout, fresh)


def _compose_up(settings: StackSettings, report: Report) -> StackInfo:
    pairs, telegram = _plan(settings, "compose", grafana=True)
    warnings = _write_configs(settings, "compose", True, pairs, telegram)
    telegram_mode = telegram.mode
    report("Docker engine found: starting compose.yaml (docker compose up -d --wait)")
    compose.compose_up(settings.paths.env_file)
    _record_ui(settings, FULL_UI)
    state = StackState(mode="compose", ports=dict(settings.ports),
                       slo_profile=settings.slo_profile, telegram_mode=telegram_mode,
                       target_url=settings.target_url)
    save_state(settings.paths.state_file, state)
    return _info(settings, state, already=False, warnings=warnings)


def _native_up(settings: StackSettings, previous: StackState | None, report: Report,
               timeout: float, fresh: bool = False) -> StackInfo:
    paths = settings.paths
    grafana = grafana_binary()
    skipped = [] if grafana else [f"grafana-server is not installed: Grafana skipped. "
                                  f"{GRAFANA_HINT}"]
    binaries = _binaries(settings)
    env, telegram = _plan(settings, "native", grafana=grafana is not None)
    telegram_mode = telegram.mode
    specs = build_parts(settings, env, binaries, grafana)
    state = StackState(mode="native", ports=dict(settings.ports),
                       slo_profile=settings.slo_profile, telegram_mode=telegram_mode,
                       target_url=settings.target_url)
    kept = {r.name: r for r in (previous.parts if previous else []) if r.leader_alive()}
    for record in (previous.parts if previous else []):
        if record.name not in kept:
            _stop_record(record)  # leftovers of a part whose leader died
    to_start = [s for s in specs if s.name not in kept]
    _check_ports(to_start, settings)
    # Only now, the start being possible: write the configs and, for a fresh start, drop
    # Prometheus's data (a refused start keeps both as they were).
    if fresh:   # Prometheus's series and alerts, Alertmanager's notification log and silences
        for part, whose in (("prometheus", "Prometheus's"), ("alertmanager", "Alertmanager's")):
            data = paths.part_dir(part) / "data"
            if part not in kept and data.exists():
                shutil.rmtree(data)
                report(f"fresh start: removed {whose} data ({data})")
    warnings = _write_configs(settings, "native", grafana is not None, env, telegram)
    specs = _prometheus_first(specs)
    started: list[PartRecord] = []
    try:
        for spec in specs:
            if spec.name in kept:
                state.replace_part(kept[spec.name])
                continue
            if spec.name == "alertmanager":
                _links_for_prometheus(specs, state, settings, grafana is not None, timeout)
            report(f"starting {spec.title} on {_listens(spec)}")
            record = _start(spec, settings)
            started.append(record)
            state.replace_part(record)
            save_state(paths.state_file, state)
        for spec in specs:
            _wait_ready(spec, state.part(spec.name), timeout)
            report(f"{spec.title} ready")
    except BaseException:
        for record in reversed(started):
            _stop_record(record)
            state.drop_part(record.name)
        if state.parts:
            save_state(paths.state_file, state)
        else:
            paths.state_file.unlink(missing_ok=True)
        raise
    save_state(paths.state_file, state)
    ui = detect_ui(settings.url("prometheus"), settings.url("alertmanager"))
    _record_ui(settings, ui)
    _fit_message_links(settings, ui, grafana is not None, warnings)
    return _info(settings, state, already=False, warnings=warnings, skipped=skipped)


def _prometheus_first(specs: list[PartSpec]) -> list[PartSpec]:
    """Alertmanager right after Prometheus: its message links are rendered for the pages the
    running Prometheus serves, before it reads them (Prometheus retries until it is up)."""
    rest = [s for s in specs if s.name != "alertmanager"]
    manager = [s for s in specs if s.name == "alertmanager"]
    at = next((i + 1 for i, s in enumerate(rest) if s.name == "prometheus"), len(rest))
    return rest[:at] + manager + rest[at:]


def _known_ui(root: Path) -> UiInfo:
    """The UIs the last start found (.stack/env); before any start: the classic-or-new question
    open (the new UI) and no Alertmanager UI, so no message links to a page that may not be."""
    env = read_env_file(root)
    known = UiInfo.from_env(env)
    return known if "ALERTMANAGER_UI" in env else dataclasses.replace(known,
                                                                       alertmanager_ui=False)


def _links_for_prometheus(specs: list[PartSpec], state: StackState, settings: StackSettings,
                          grafana: bool, timeout: float) -> None:
    """Wait for the parts before Prometheus (in order, so a part that fails is reported as
    it would be) and for Prometheus to answer, ask which UI it serves, render links.tmpl for
    it (before Alertmanager reads it)."""
    record = state.part("prometheus")
    if record is None:
        return
    for spec in specs:
        if spec.name == "prometheus":
            break
        if state.part(spec.name) is not None:
            _wait_ready(spec, state.part(spec.name), timeout)

    def answers() -> bool:
        if not record.leader_alive():
            raise PartFailedError(f"Prometheus exited during start-up; {record.log} ends "
                                  f"with:\n{_log_tail(record)}")
        return http_ok(settings.url("prometheus") + "/-/ready")

    wait_until(answers, timeout, "Prometheus to answer", interval=0.2)
    ui = dataclasses.replace(_known_ui(settings.paths.root),
                             prometheus_prefix=prometheus_prefix(settings.url("prometheus")))
    write_links(settings.paths.part_dir("alertmanager"),
                settings.url("grafana") if grafana else None, ui)


def _fit_message_links(settings: StackSettings, ui: UiInfo, grafana: bool,
                       warnings: list[str]) -> None:
    """Telegram messages link only to pages the running servers serve: when the UIs found
    differ from those links.tmpl was rendered for, render it again and have Alertmanager
    reload it."""
    directory = settings.paths.part_dir("alertmanager")
    if not write_links(directory, settings.url("grafana") if grafana else None, ui):
        return
    try:
        answer = requests.post(settings.url("alertmanager") + "/-/reload", timeout=10)
        answer.raise_for_status()
    except requests.RequestException as err:
        warnings.append(f"Alertmanager did not reload the message links ({err}): messages may "
                        f"link to Prometheus pages this build does not serve until it restarts")


def _record_ui(settings: StackSettings, ui: UiInfo) -> None:
    """Keep which web UIs the running servers have in .stack/env (see stack.links)."""
    pairs = {**read_env_file(settings.paths.root), **ui.env_pairs()}
    write_private(settings.paths.env_file, render_env_file(pairs))


def stop_stack(settings: StackSettings | None = None, *, report: Report = _quiet) -> list[str]:
    """Stop exactly what the launcher started (reverse order); returns the parts stopped."""
    settings = settings or StackSettings.from_env()
    paths = settings.paths
    with locked(paths.lock_file):
        state = load_state(paths.state_file)
        if state is None:
            return []
        stopped = []
        if state.mode == "compose":
            report("stopping the compose stack (docker compose down)")
            compose.compose_down(paths.env_file)
            stopped.append("compose")
        for record in reversed(state.parts):
            if _stop_record(record):
                report(f"stopped {record.name} (pid {record.pid})")
                stopped.append(record.name)
            elif pid_alive(record.pid):
                report(f"left pid {record.pid} alone: it is no longer the {record.name} the "
                       f"stack started (another process has its number)")
        paths.state_file.unlink(missing_ok=True)
        return stopped


def stop_part(name: str, settings: StackSettings | None = None) -> bool:
    """Stop one part of a running native stack (kept in state.json, so up/restart revive it)."""
    settings = settings or StackSettings.from_env()
    with locked(settings.paths.lock_file):
        state = _native_state(settings)
        record = state.part(name)
        if record is None:
            raise StackError(f"{name}: not a part of the running stack "
                             f"({', '.join(p.name for p in state.parts)})")
        return _stop_record(record)


def restart_part(name: str, settings: StackSettings | None = None, *,
                 timeout: float = READY_TIMEOUT_S) -> PartRecord:
    """Stop (if running) and start one part of the native stack again; waits until ready."""
    settings = settings or StackSettings.from_env()
    paths = settings.paths
    with locked(paths.lock_file):
        state = _native_state(settings)
        env = read_env_file(paths.root)
        spec = next((s for s in _specs(settings, env) if s.name == name), None)
        if spec is None:
            raise StackError(f"{name}: unknown part (telegram-sandbox, app, proxy, "
                             f"alertmanager, prometheus, grafana)")
        if (old := state.part(name)) is not None:
            _stop_record(old)
        _check_ports([spec], settings)
        record = _start(spec, settings)
        state.replace_part(record)
        save_state(paths.state_file, state)
        _wait_ready(spec, record, timeout)
        return record


def _native_state(settings: StackSettings) -> StackState:
    state = load_state(settings.paths.state_file)
    if state is None or state.mode != "native":
        raise StackError(f"no native stack is running from {settings.paths.root}: "
                         f"`python -m stack up` first")
    return state


def stack_status(settings: StackSettings | None = None) -> tuple[StackState | None,
                                                                   list[PartStatus]]:
    """The recorded state and each part's liveness and readiness (no lock: read-only)."""
    settings = settings or StackSettings.from_env()
    _reap()
    state = load_state(settings.paths.state_file)
    if state is None:
        return None, []
    if state.mode == "compose":
        statuses = []
        for svc in compose.compose_services(settings.paths.env_file):
            running = svc.get("State") == "running"
            statuses.append(PartStatus(name=svc.get("Service", "?"), pid=None, alive=running,
                                       ready=running and svc.get("Health") in ("", "healthy"),
                                       url="", log="docker compose logs"))
        return state, statuses
    statuses = []
    for record in state.parts:
        alive = record.leader_alive()
        statuses.append(PartStatus(name=record.name, pid=record.pid, alive=alive,
                                   ready=alive and ready_check(record.name, record.url,
                                                               state.target_url is not None)(),
                                   url=record.url, log=record.log))
    return state, statuses
