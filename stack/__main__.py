"""`python -m stack up|down|status|logs|setup|render-alertmanager|render-prometheus`.

    python -m stack up          start the stack (docker compose when an engine answers, else
                                local processes) and print the URLs; a second `up` says so;
                                settings the environment leaves empty are taken from the last
                                start's .stack/env (said; --forget: not)
    python -m stack status      each part: pid, alive, ready, URL   (exit 0 up, 1 degraded,
                                3 not running)
    python -m stack logs [PART] [-n 40] [-f]
    python -m stack down        stop exactly what `up` started
    python -m stack setup       apt-get install the system binaries (or print the command)
    python -m stack render-alertmanager --out FILE     (compose: render the secret config)
    python -m stack render-prometheus --out FILE [--target compose|native]
    python -m stack render-envoy --out FILE [--container]   (the fault proxy's bootstrap)

Settings come from the environment (see stack/config.py): *_PORT, STACK_DIR, STACK_MODE,
SLO_PROFILE, SLO_SPEC (your spec's rules instead of the demo's: `make stack SPEC=...`),
STACK_EXTRA_RULES (rule files or directories, ':'-separated: `make stack RULES=...`),
TELEGRAM_BOT_TOKEN / TELEGRAM_CHAT_ID / TELEGRAM_API_URL,
TARGET_URL (puts the fault proxy, Envoy, in front of that service) / TARGET_METRICS_URL /
PROXY_ROUTES / PROXY_PORT / PROXY_ADMIN_PORT / PROXY_CONTROL_PORT.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness_common.errors import HarnessError
from stack import compose, launcher
from stack.config import StackSettings, check_target_url, recorded_environ
from stack.errors import PartFailedError, StackError
from stack.files import read_env_file, sandbox_bot_token
from stack.links import UiInfo
from stack.proxy.bootstrap import ProxyConfig, build_bootstrap
from stack.render import PROMETHEUS_SOURCE, RULES_DIR, native_prometheus_config, select_rule_files
from stack.setup import plan_setup, run_setup

EXIT_NOT_RUNNING = 3
TITLES = {"telegram-sandbox": "Telegram sandbox", "app": "Target app",
          "alertmanager": "Alertmanager", "prometheus": "Prometheus", "grafana": "Grafana",
          "locust": "Locust (make load)", "proxy": "Fault proxy"}
LINKS = {"telegram-sandbox": "/sandbox", "app": "/metrics", "grafana": "/dashboards"}


def part_link(part: str, url: str, ui: UiInfo) -> str:
    """The page of a part to open, as this installation serves it (never a 404)."""
    if part == "prometheus":
        alerts = ui.prometheus_page(url, "alerts")
        return (f"{alerts} (alerts), {ui.prometheus_page(url, 'targets')} (targets)" if alerts
                else "(no web UI in this build: query /api/v1/..., or `slo verify-alerts`)")
    if part == "alertmanager":
        return (ui.alertmanager_alerts(url) or
                "(no web UI in this build: `amtool --alertmanager.url=" + url + " alert`, or "
                "`slo verify-alerts`)")
    return f"{url}{LINKS[part]}" if part in LINKS else ""


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argparse tree."""
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the stack (idempotent)")
    up.add_argument("--fresh", action="store_true",
                    help="start Prometheus and Alertmanager with empty data (no series, alerts "
                         "or sent notifications of earlier runs)")
    up.add_argument("--forget", action="store_true",
                    help="do not reuse the settings the last start recorded in .stack/env "
                         "(TARGET_URL, SLO_SPEC, ports, ...): start from the environment alone")
    sub.add_parser("down", help="stop what `up` started")
    sub.add_parser("status", help="show each part; exit 0 all up, 1 degraded, 3 not running")
    logs = sub.add_parser("logs", help="show the parts' logs")
    logs.add_argument("part", nargs="?", help="one part (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.add_argument("-f", "--follow", action="store_true")
    sub.add_parser("setup", help="install system binaries with apt (or print the command)")
    am = sub.add_parser("render-alertmanager", help="render the Alertmanager config (mode 600)")
    am.add_argument("--out", required=True, type=Path, help="alertmanager.yml to write; "
                    "telegram.tmpl and links.tmpl are written next to it")
    am.add_argument("--sandbox-url", help="the sandbox's URL as Alertmanager sees it (compose: "
                    "http://telegram-sandbox:8081; default 127.0.0.1:$TELEGRAM_SANDBOX_PORT)")
    am.add_argument("--grafana-url", help="Grafana base URL for message links (default "
                    "$GRAFANA_URL, else no Grafana link)")
    prom = sub.add_parser("render-prometheus", help="render the Prometheus config")
    prom.add_argument("--out", required=True, type=Path)
    prom.add_argument("--target", choices=("compose", "native"), default="compose",
                      help="compose: service names, rules/ relative (for /etc/prometheus); "
                      "native: 127.0.0.1 ports, absolute rule paths")
    envoy = sub.add_parser("render-envoy", help="render the fault proxy's Envoy bootstrap "
                                                "(TARGET_URL, PROXY_ROUTES)")
    envoy.add_argument("--out", required=True, type=Path)
    envoy.add_argument("--container", action="store_true",
                       help="listen and admin on 0.0.0.0:10000 / :9901 (compose's envoy service) "
                            "instead of 127.0.0.1 on PROXY_PORT / PROXY_ADMIN_PORT")
    return parser


def cmd_up(console: Console, settings: StackSettings, fresh: bool = False) -> int:
    """Start (or find) the stack and print its URLs."""
    info = launcher.ensure_stack(settings, report=lambda m: console.print(f"[dim]{m}[/dim]"),
                                 fresh=fresh)
    if info.already_running:
        console.print(f"[bold]The stack is already running[/bold] ({info.mode}, from "
                      f"{settings.paths.root}); `python -m stack down` stops it.")
    else:
        console.print(f"[bold green]Stack up[/bold green] ({info.mode}).")
    for message in info.warnings + info.skipped:
        console.print(f"[yellow]note:[/yellow] {escape(message)}", soft_wrap=True)
    ui = UiInfo.from_env(info.env)
    victoria = settings.backend == "victoriametrics"
    for part, url in info.urls.items():
        if victoria and part in ("prometheus", "vmalert"):
            shown = ("VictoriaMetrics", f"{url}/targets (targets; no vmui in this build)") \
                if part == "prometheus" else ("vmalert", f"{url}/vmalert/alerts (alerts)")
            console.print(f"  {shown[0]:<18} {url}   {shown[1]}", soft_wrap=True,
                          highlight=False)
            continue
        if part == "proxy":
            console.print(f"  {TITLES[part]:<18} {info.env.get('PROXY_URL', '')} -> "
                          f"{info.env.get('TARGET_URL', '')}   (fault API {url}, Envoy admin "
                          f"{info.env.get('PROXY_ADMIN_URL', '')})", soft_wrap=True,
                          highlight=False)
            continue
        console.print(f"  {TITLES.get(part, part):<18} {url}   {part_link(part, url, ui)}",
                      soft_wrap=True, highlight=False)
    if info.env.get("FAULT_BACKEND") == "proxy":
        console.print("Faults (make fault, the Chaos tab, experiments) act on the fault proxy; "
                      "load goes through it (make load).", soft_wrap=True, highlight=False)
    if info.env.get("SLO_SPEC"):
        console.print(f"SLO rules: those of {info.env['SLO_SPEC']} (SLO_SPEC; generated into "
                      f"{settings.paths.spec_rules}); make load, make slo-check and make "
                      f"alert-check use this spec.", soft_wrap=True, highlight=False)
    where = ("the stack's Telegram sandbox (chat page: "
             f"{info.urls.get('telegram-sandbox', '')}/sandbox)"
             if info.telegram_mode == "sandbox" else "real Telegram (TELEGRAM_BOT_TOKEN/CHAT_ID)")
    console.print(f"Alerts go to {where}.", soft_wrap=True, highlight=False)
    console.print(f"Admin token, ports and URLs: {settings.paths.env_file} (mode 600; the CLIs "
                  f"read it). Logs: python -m stack logs \\[part]; stop: python -m stack down.",
                  soft_wrap=True, highlight=False)
    return 0


def _with_recorded(console: Console, settings: StackSettings) -> StackSettings:
    """The settings with what the last start recorded in .stack/env for every setting the
    environment leaves empty (said, so a restart is never a surprise)."""
    recorded = read_env_file(settings.paths.root)
    environ, taken = recorded_environ(os.environ, recorded)
    if not taken:
        return settings
    shown = [f"{name}={environ[name]}" for name in taken if not name.endswith("_PORT")]
    ports = [name for name in taken if name.endswith("_PORT")]
    console.print(f"[dim]reusing the settings recorded in {settings.paths.env_file}: "
                  f"{', '.join(shown + ([f'{len(ports)} ports'] if ports else []))} "
                  f"(set one to change it; FORGET=1 / --forget starts from defaults)[/dim]",
                  soft_wrap=True, highlight=False)
    return StackSettings.from_env(environ)


def cmd_down(console: Console, settings: StackSettings) -> int:
    """Stop the stack."""
    stopped = launcher.stop_stack(settings, report=console.print)
    console.print("stack stopped" if stopped else "nothing of the stack was running")
    return 0


def cmd_status(console: Console, settings: StackSettings) -> int:
    """Print each part; exit 0 when every part is up and ready, 1 when not, 3 when not running."""
    state, parts = launcher.stack_status(settings)
    if state is None:
        console.print(f"the stack is not running (no {settings.paths.state_file})")
        return EXIT_NOT_RUNNING
    started = datetime.fromtimestamp(state.started_at).isoformat(timespec="seconds")
    console.print(f"stack ({state.mode}) started {started}, SLO profile {state.slo_profile}, "
                  f"alerts to {state.telegram_mode}")
    table = Table("part", "pid", "alive", "ready", "URL")
    for p in parts:
        table.add_row(TITLES.get(p.name, p.name), str(p.pid or "-"), _yes(p.alive), _yes(p.ready),
                      p.url)
    console.print(table)
    if not parts:
        return EXIT_NOT_RUNNING
    return 0 if all(p.alive and p.ready for p in parts) else 1


def _yes(flag: bool) -> str:
    return "[green]yes[/green]" if flag else "[red]no[/red]"


def cmd_logs(console: Console, settings: StackSettings, part: str | None, lines: int,
             follow: bool) -> int:
    """Print the last lines of each part's log (or follow them)."""
    state, _ = launcher.stack_status(settings)
    if state is not None and state.mode == "compose":
        args = ["logs", "--tail", str(lines), *(["-f"] if follow else []),
                *([part] if part else [])]
        cmd = [*compose.compose_command(), "--env-file", str(settings.paths.env_file),
               "-f", str(compose.COMPOSE_FILE), *args]
        return subprocess.run(cmd, check=False).returncode
    logs_dir = settings.paths.logs
    files = sorted(logs_dir.glob("*.log")) if part is None else [settings.paths.log(part)]
    files = [f for f in files if f.is_file()]
    if not files:
        console.print(f"no logs in {logs_dir}" + (f" for {part!r}" if part else ""))
        return 1
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        console.rule(path.stem)
        console.out("\n".join(text), highlight=False)
    if follow:
        _follow(console, files)
    return 0


def _follow(console: Console, files: list[Path]) -> None:
    handles = {path: open(path, encoding="utf-8", errors="replace") for path in files}
    try:
        for handle in handles.values():
            handle.seek(0, 2)
        while True:
            for path, handle in handles.items():
                for line in handle.readlines():
                    console.out(f"{path.stem}| {line.rstrip()}", highlight=False)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for handle in handles.values():
            handle.close()


def cmd_render_alertmanager(console: Console, settings: StackSettings, args) -> int:
    """Render alertmanager.yml (+ templates) for compose or any other runner."""
    env = read_env_file(settings.paths.root)
    token = os.environ.get("TELEGRAM_SANDBOX_TOKEN") or env.get("TELEGRAM_SANDBOX_TOKEN")
    if not token:
        token = sandbox_bot_token()  # the sandbox accepts any well-formed token
    telegram = settings.telegram(token, sandbox_url=args.sandbox_url)
    grafana = args.grafana_url or os.environ.get("GRAFANA_URL") or env.get("GRAFANA_URL")
    launcher.write_alertmanager_dir(args.out, telegram, grafana)
    console.print(f"wrote {args.out} (mode 600; alerts to {telegram.mode}) and its templates")
    return 0


def cmd_render_prometheus(console: Console, settings: StackSettings, args) -> int:
    """Render prometheus.yml for compose (profile-selected rules) or a native run."""
    if args.target == "native":
        text, warnings = native_prometheus_config(settings)
    else:
        config = yaml.safe_load(PROMETHEUS_SOURCE.read_text(encoding="utf-8"))
        names = [p.name for p in RULES_DIR.glob("*.yml")]
        config["rule_files"] = [f"rules/{n}" for n in select_rule_files(names,
                                                                         settings.slo_profile)]
        text = ("# Rendered by `python -m stack render-prometheus` from "
                "stack/prometheus/prometheus.yml (comments there).\n"
                + yaml.safe_dump(config, sort_keys=False))
        warnings = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    for message in warnings:
        console.print(f"[yellow]note:[/yellow] {message}")
    console.print(f"wrote {args.out}")
    return 0


def cmd_render_envoy(console: Console, settings: StackSettings, args) -> int:
    """Render the fault proxy's bootstrap (compose's envoy-config job runs this)."""
    if not settings.proxy:
        raise StackError("render-envoy: TARGET_URL is not set; the fault proxy needs the URL "
                         "of the service it stands in front of")
    host, port = check_target_url("TARGET_URL", settings.target_url)
    if args.container:
        config = ProxyConfig(10000, 9901, host, port, settings.proxy_routes,
                             listen_host="0.0.0.0", admin_host="0.0.0.0")
    else:
        config = ProxyConfig(settings.ports["proxy"], settings.ports["proxy-admin"], host, port,
                             settings.proxy_routes, listen_host=settings.host)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(build_bootstrap(config), indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {args.out} (Envoy in front of {settings.target_url})")
    return 0


def main(argv=None) -> int:
    """Run one subcommand; HarnessErrors become a one-line message and exit code 2 (1: a part
    failed to start)."""
    args = build_parser().parse_args(argv)
    console = Console()
    err_console = Console(stderr=True)
    try:
        if args.command == "setup":
            return run_setup(plan_setup(), console.print)
        settings = StackSettings.from_env()
        if args.command == "up":
            if not args.forget:
                settings = _with_recorded(console, settings)
            return cmd_up(console, settings, fresh=args.fresh)
        if args.command == "down":
            return cmd_down(console, settings)
        if args.command == "status":
            return cmd_status(console, settings)
        if args.command == "logs":
            return cmd_logs(console, settings, args.part, args.lines, args.follow)
        if args.command == "render-alertmanager":
            return cmd_render_alertmanager(console, settings, args)
        if args.command == "render-envoy":
            return cmd_render_envoy(console, settings, args)
        return cmd_render_prometheus(console, settings, args)
    except PartFailedError as err:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 1
    except (StackError, HarnessError) as err:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
