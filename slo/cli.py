"""The `slo` command: one CLI, one module per subcommand (slo/commands/<name>.py).

    slo check [--run reports/<id>/run.json | --last 5m | --start T --end T] [--json F]
    slo rules [--spec slo/slos.yaml] [--out-dir stack] [--check]
    slo init --metrics-url URL | --prometheus URL --job NAME [-o slos.yaml] [--preset P]

    slo run slo/experiments/demo.yaml [--keep]
    slo verify-alerts [--send-test | --alert NAME --expect firing --within 60s]

A subcommand module has HELP (one line), add_arguments(parser) and run(args, console) -> exit
code (harness_common.exitcodes). Errors the harness raises on purpose (HarnessError) print as
one red message and exit 2, the "could not evaluate" code shared by every subcommand; so do
usage errors (argparse) and, with a traceback, anything unexpected: a crash is never a verdict.
"""

import argparse
import importlib
import sys

from rich.text import Text

from harness_common import exitcodes
from harness_common.console import make_console
from harness_common.errors import HarnessError

# The packages of the lab extra (slo-harness[lab]); the core install (the CI gate) lacks them,
# so a command that imports one is listed but explains what to install.
LAB_MODULES = frozenset({"flask", "werkzeug", "gunicorn", "locust", "gevent", "docker",
                         "matplotlib", "psutil", "envoy", "hdrh", "geventhttpclient"})

# name -> module
COMMANDS = {
    "check": "slo.commands.check",
    "init": "slo.commands.init",
    "rules": "slo.commands.rules",
    "run": "slo.commands.run",
    "verify-alerts": "slo.commands.verify_alerts",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="slo", description="Judge a service against its SLOs; generate its alert rules.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name not in LAB_MODULES:
                raise
            _needs_lab(sub, name, err.name)
            continue
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def _needs_lab(sub, name: str, missing: str) -> None:
    """Register `name` as a command that explains it needs the lab extra (core install)."""
    text = (f"needs the lab ({missing} is not installed): "
            "pip install 'slo-harness[lab]'")
    command = sub.add_parser(name, help=text, description=text, add_help=True)
    command.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    def refuse(args, console) -> int:
        raise HarnessError(f"`slo {name}` {text}")
    command.set_defaults(handler=refuse)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `slo` (and `python -m slo.cli`): returns the exit code."""
    args = build_parser().parse_args(argv)
    console = make_console()
    errors = make_console(stderr=True)
    try:
        return args.handler(args, console)
    except HarnessError as err:
        errors.print(Text.assemble(("error:", "bold red"), f" {err}"), soft_wrap=True)
        return exitcodes.NOT_EVALUATED
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - a crash must never read as a verdict (exit 1)
        errors.print_exception()
        errors.print(Text.assemble(("internal error:", "bold red"),
                                   f" {type(err).__name__}: {err} — this is a bug in "
                                   "slo-harness; nothing was judged"), soft_wrap=True)
        return exitcodes.NOT_EVALUATED


if __name__ == "__main__":
    sys.exit(main())
