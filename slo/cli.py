"""The `slo` command: one CLI, one module per subcommand (slo/commands/<name>.py).

    slo check [--run reports/<id>/run.json | --last 5m | --start T --end T] [--json F]
    slo rules [--spec slo/slos.yaml] [--out-dir stack] [--check]

A subcommand module has HELP (one line), add_arguments(parser) and run(args, console) -> exit
code. Errors the harness raises on purpose (HarnessError) print as one red message and exit 2,
the "could not evaluate" code shared by every subcommand.
"""

import argparse
import importlib
import sys

from rich.console import Console

from harness.errors import HarnessError

# name -> module; `check`, `verify-alerts` and `run` join this list as they are written.
COMMANDS = {
    "check": "slo.commands.check",
    "rules": "slo.commands.rules",
    "run": "slo.commands.run",
    "verify-alerts": "slo.commands.verify_alerts",
}
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="slo", description="Judge a service against its SLOs; generate its alert rules.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `slo` (and `python -m slo.cli`): returns the exit code."""
    args = build_parser().parse_args(argv)
    console = Console(highlight=False)
    errors = Console(stderr=True, highlight=False)
    try:
        return args.handler(args, console)
    except HarnessError as err:
        errors.print(f"[bold red]error:[/] {err}", markup=True, soft_wrap=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
