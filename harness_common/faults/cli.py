"""The fault CLI: `python -m harness_common.faults set|list|clear` (or `-m target_app.faults`).

    python -m harness_common.faults set latency --delay-ms 300 --jitter-ms 50 --ttl 120
    python -m harness_common.faults set error --status 503 --probability 0.1 --routes '/api/*'
    python -m harness_common.faults set abort --mode hang --hang-s 5
    python -m harness_common.faults list
    python -m harness_common.faults clear [KIND]

Faults go to --url, FAULT_API_URL, APP_URL (or http://127.0.0.1:$APP_PORT), else the stack's
fault backend from .stack/env: the fault proxy (Envoy in front of TARGET_URL) when the stack
runs one, else its demo app. The token is FAULT_ADMIN_TOKEN, or the stack's only when the URL
is the stack's own. What the backend cannot do is refused naming the backend and the field.
Exit codes: 0 done, 2 bad input or refused, 1 unreachable.
"""

import argparse

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness_common.console import make_console
from harness_common.errors import FaultError, FaultValidationError
from harness_common.faults.backends import check_supported
from harness_common.faults.client import FaultClient
from harness_common.faults.model import KINDS, parse_fault
from harness_common.stackenv import resolve_fault_api

FLAGS = {  # CLI flag -> spec field, per kind
    "latency": {"delay_ms": int, "jitter_ms": int},
    "error": {"status": int, "message": str},
    "abort": {"mode": str, "hang_s": int},
}


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree: set <kind> [flags], list, clear [kind]."""
    parser = argparse.ArgumentParser(prog="python -m harness_common.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="fault API base URL (default: the stack's "
                        "fault backend from .stack/env, FAULT_API_URL, APP_URL or APP_PORT)")
    sub = parser.add_subparsers(dest="command", required=True)
    set_p = sub.add_parser("set", help="switch a fault on")
    kinds = set_p.add_subparsers(dest="kind", required=True)
    for kind, fields in FLAGS.items():
        kp = kinds.add_parser(kind, help=KINDS[kind].__doc__)
        for field, typ in fields.items():
            kp.add_argument("--" + field.replace("_", "-"), dest=field, type=typ)
        kp.add_argument("--probability", type=float)
        kp.add_argument("--routes", nargs="+", help="route globs, e.g. '/api/*' (default all)")
        kp.add_argument("--ttl", dest="ttl_s", type=int, help="seconds until it switches off")
    sub.add_parser("list", help="show active faults")
    clear_p = sub.add_parser("clear", help="switch one kind, or every fault, off")
    clear_p.add_argument("kind", nargs="?", choices=sorted(KINDS))
    return parser


def show(console: Console, faults: list[dict]) -> None:
    """Print the active faults as a table."""
    if not faults:
        console.print("no active faults")
        return
    table = Table("kind", "settings", "expires_at", "remaining_s")  # values printed as they are
    skip = {"kind", "started_at", "expires_at", "remaining_s"}
    for f in faults:
        settings = " ".join(f"{k}={v}" for k, v in f.items() if k not in skip)
        table.add_row(Text(str(f["kind"])), Text(settings), Text(str(f["expires_at"])),
                      str(f["remaining_s"]))
    console.print(table)


def main(argv=None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    console, err = make_console(), make_console(stderr=True)
    client = FaultClient.for_api(resolve_fault_api(args.url))
    try:
        if args.command == "set":
            fields = set(FLAGS[args.kind]) | {"probability", "routes", "ttl_s"}
            params = {k: getattr(args, k) for k in fields if getattr(args, k) is not None}
            # validate locally first: a clear message, no request
            check_supported(client.backend, parse_fault(args.kind, params))
            fault = client.set(args.kind, **params)
            console.print(f"{args.kind} fault on ({client.backend}) until {fault['expires_at']}")
            show(console, client.list())
        elif args.command == "list":
            show(console, client.list())
        else:
            cleared = client.clear(args.kind)
            console.print(f"cleared: {', '.join(cleared) or 'nothing was active'}")
    except FaultValidationError as e:
        err.print(Text.assemble(("invalid fault", "red"), f": {e}"), soft_wrap=True)
        return 2
    except FaultError as e:
        err.print(Text.assemble(("error", "red"), f": {e}"), soft_wrap=True)
        return 1 if "cannot reach" in str(e) else 2
    return 0


