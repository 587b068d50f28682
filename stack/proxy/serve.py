"""`python -m stack.proxy`: Envoy in front of TARGET, its fault controller, and their watchdog.

    FAULT_ADMIN_TOKEN=... python -m stack.proxy --target http://127.0.0.1:8000 \\
        --listen-port 10000 --admin-port 9901 --control-port 9902 [--routes /api,/orders] \\
        [--run-dir .stack/proxy]

1. writes Envoy's bootstrap (stack.proxy.bootstrap) to <run-dir>/envoy.json;
2. starts Envoy as a child that dies with this process (PDEATHSIG), waits for its /ready;
3. removes any harness fault key Envoy holds (there are none in a fresh Envoy; with --attach,
   an earlier controller's);
4. starts the watchdog (stack.proxy.watchdog), a process of its own that ends every fault
   Envoy holds past its end (the controller writes the end into Envoy with the fault), so a
   fault ends at its TTL even when this process is stopped, hung or killed; restarts it if it
   dies;
5. serves the fault API on --control-port and reconciles Envoy's runtime with it every second
   (stack.proxy.controller);
6. SIGTERM/SIGINT: clears every fault, stops the watchdog and Envoy, exits 0. Envoy dying:
   exits 1.

With --attach URL it drives an Envoy started elsewhere (compose: the official image) instead of
starting one; a killed controller then leaves Envoy running, and its watchdog ends the faults at
their TTLs before it exits; a restarted controller clears every leftover fault at step 3. The
token comes from the environment, never the command line.
Bad input or a proxy that does not come up: one line `error: ...` on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from werkzeug.serving import make_server

from harness_common.errors import HarnessError
from stack.proxy.bootstrap import ProxyConfig, build_bootstrap, target_address
from stack.proxy.controller import ProxyRegistry, create_control_app
from stack.proxy.envoy import EnvoyAdmin, EnvoyError, envoy_binary, start_envoy
from stack.proxy.routes import parse_prefixes
from stack.proxy.watchdog import start_watchdog

READY_TIMEOUT_S = 15.0
log = logging.getLogger("stack.proxy")


class ProxyStartError(HarnessError):
    """The proxy could not start; the message is the one line printed."""


def build_parser() -> argparse.ArgumentParser:
    """The command line (ports and target; no secret)."""
    parser = argparse.ArgumentParser(prog="python -m stack.proxy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True, help="the service: http://host:port")
    parser.add_argument("--listen-port", type=int, default=None,
                        help="Envoy's listener (required unless --attach)")
    parser.add_argument("--admin-port", type=int, default=None,
                        help="Envoy's admin endpoint (required unless --attach)")
    parser.add_argument("--control-port", type=int, required=True, help="the fault API")
    parser.add_argument("--routes", default="", help="path prefixes faulted separately: /api,/x")
    parser.add_argument("--host", default="127.0.0.1", help="interface of the listener")
    parser.add_argument("--control-host", default="127.0.0.1", help="interface of the fault API")
    parser.add_argument("--run-dir", type=Path, default=Path(".stack") / "proxy")
    parser.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads")
    parser.add_argument("--attach", default=None,
                        help="drive the Envoy whose admin endpoint is at this URL instead of "
                             "starting one (compose)")
    return parser


def _wait_ready(admin: EnvoyAdmin, popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if admin.ready():
            return
        if popen is not None and popen.poll() is not None:
            raise ProxyStartError(f"Envoy exited (code {popen.returncode}) before it was ready "
                                  f"(its own messages precede this line)")
        time.sleep(0.05)
    raise ProxyStartError(f"Envoy's admin endpoint {admin.url} was not ready after "
                          f"{timeout:.0f}s")


def _stop_child(popen) -> None:
    """SIGTERM a child (Envoy, the watchdog), SIGKILL after 5 s."""
    if popen is None or popen.poll() is not None:
        return
    popen.terminate()
    try:
        popen.wait(timeout=5)
    except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired; SIGKILL then
        popen.kill()
        popen.wait(timeout=5)


def start(args) -> tuple:
    """Steps 1-3; returns (popen or None, registry, admin). ProxyStartError on failure."""
    try:
        host, port = target_address(args.target)
        prefixes = parse_prefixes(args.routes)
    except ValueError as err:
        raise ProxyStartError(f"--target/--routes: {err}") from err
    if not args.attach and (args.listen_port is None or args.admin_port is None):
        raise ProxyStartError("--listen-port and --admin-port are required (or --attach URL)")
    config = ProxyConfig(listen_port=args.listen_port or 0, admin_port=args.admin_port or 0,
                         upstream_host=host, upstream_port=port, prefixes=prefixes,
                         listen_host=args.host)
    popen = None
    if args.attach:
        admin = EnvoyAdmin(args.attach)
    else:
        args.run_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = args.run_dir / "envoy.json"
        bootstrap.write_text(json.dumps(build_bootstrap(config), indent=1), encoding="utf-8")
        try:
            popen = start_envoy(envoy_binary(), bootstrap, args.concurrency)
        except (EnvoyError, OSError) as err:
            raise ProxyStartError(f"cannot start Envoy: {err}") from err
        admin = EnvoyAdmin(f"http://127.0.0.1:{args.admin_port}")
    try:
        _wait_ready(admin, popen, READY_TIMEOUT_S * (4 if args.attach else 1))
        registry = ProxyRegistry(admin, config.routes)
        if not registry.reconcile():
            raise ProxyStartError(f"cannot clear Envoy's fault keys: {registry.last_error}")
    except BaseException:
        _stop_child(popen)
        raise
    return popen, registry, admin


def main(argv=None) -> int:
    """Run the proxy until SIGTERM/SIGINT (0), Envoy's death (1) or a start failure (2)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    token = os.environ.get("FAULT_ADMIN_TOKEN") or None
    try:
        popen, registry, admin = start(args)
    except ProxyStartError as err:
        sys.stderr.write(f"error: the fault proxy did not come up: {err}\n")
        return 2
    children = {"watchdog": start_watchdog(admin.url)}
    app = create_control_app(registry, token, describe=lambda: {"target": args.target})
    try:
        server = make_server(args.control_host, args.control_port, app, threaded=True)
    except OSError as err:
        _stop_child(children["watchdog"])
        _stop_child(popen)
        sys.stderr.write(f"error: the fault proxy did not come up: cannot serve the fault API "
                         f"on {args.control_host}:{args.control_port}: {err.strerror or err}\n")
        return 2
    outcome = {"code": 0}

    def stop(code: int) -> None:
        outcome["code"] = code
        threading.Thread(target=server.shutdown, daemon=True).start()

    def watch_envoy():
        while popen.poll() is None:
            time.sleep(0.5)
        if outcome["code"] == 0 and not stopping.is_set():
            log.error("Envoy exited (code %s): the fault proxy stops", popen.returncode)
            stop(1)

    stopping = threading.Event()

    def keep_watchdog():
        while not stopping.wait(0.5):
            code = children["watchdog"].poll()
            if code is not None and not stopping.is_set():
                log.error("the fault watchdog exited (code %s): restarting it", code)
                children["watchdog"] = start_watchdog(admin.url)

    def on_signal(signum, _frame):
        stopping.set()
        stop(0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    registry.start_reconciler()
    if popen is not None:
        threading.Thread(target=watch_envoy, name="envoy-watch", daemon=True).start()
    threading.Thread(target=keep_watchdog, name="watchdog-keeper", daemon=True).start()
    log.info("fault proxy: %s:%s -> %s; routes %s; fault API on %s:%s", args.host,
             args.listen_port, args.target, ", ".join(r.label for r in registry.routes),
             args.control_host, args.control_port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        stopping.set()
        registry.close()
        try:
            cleared = registry.clear()
            if cleared:
                log.info("cleared on the way out: %s", ", ".join(cleared))
        except HarnessError as err:
            if popen is None:
                log.warning("could not clear the faults on the way out (%s); the watchdog "
                            "ends them at their TTLs", err)
                children.pop("watchdog")   # it exits once Envoy holds no fault
            else:
                log.warning("could not clear the faults on the way out (%s); Envoy stops "
                            "anyway", err)
        server.server_close()
        _stop_child(children.get("watchdog"))
        _stop_child(popen)
    return outcome["code"]
