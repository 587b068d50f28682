"""`slo run <experiment>`: load, faults, verdicts, alerts, Telegram — one experiment, end to end.

    slo run slo/experiments/demo.yaml            # starts the native stack (fast profile) if needed
    slo run smoke.yaml --keep                    # leave the stack it started running
    slo run demo.yaml --reports-dir out --run-id demo-1
    slo run demo.yaml --web                      # Locust's web UI on LOCUST_PORT: watch the run

Exit codes: 0 every expectation held; 1 one failed (the reason is printed); 2 the experiment
could not run (bad file, stack or Locust would not start, interrupted). The report is written
to <reports-dir>/<run-id>/ in every case.
"""

import os
from pathlib import Path

from harness_common.stackenv import read_stack_env
from slo.experiment.runner import ExperimentRunner, RunOptions
from slo.experiment.schema import load_experiment

DEFAULT_LOCUST_PORT = 8089
HELP = "run an experiment: load + faults, then judge SLOs, alerts and Telegram delivery"


def add_arguments(parser) -> None:
    """Register the options of `slo run`."""
    parser.add_argument("experiment", help="experiment file, e.g. slo/experiments/demo.yaml")
    parser.add_argument("--spec", default=None,
                        help="SLO spec (default: the experiment's `spec:`, slo/slos.yaml)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the stack running when the run started it")
    parser.add_argument("--reports-dir", default=None,
                        help="where run folders go (default $REPORTS_DIR or reports)")
    parser.add_argument("--run-id", default=None,
                        help="name of the run folder (default <UTC time>-<experiment name>)")
    parser.add_argument("--web", nargs="?", type=int, const=-1, default=None, metavar="PORT",
                        help="run Locust with its web UI (Chaos and SLO tabs) on PORT (default "
                             "LOCUST_PORT, else 8089), so the experiment can be watched; it "
                             "starts and stops by itself as headless")
    parser.add_argument("--no-live", action="store_true",
                        help="plain progress lines even on a terminal")


def web_port(flag: int | None, environ=None) -> int | None:
    """--web's port: the one given, else LOCUST_PORT (.stack/env's too), else 8089."""
    if flag is None or flag > 0:
        return flag
    env = os.environ if environ is None else environ
    raw = env.get("LOCUST_PORT") or read_stack_env(env.get("STACK_DIR")).get("LOCUST_PORT")
    return int(raw) if raw and raw.isdigit() else DEFAULT_LOCUST_PORT


def run(args, console) -> int:
    """Load and validate the experiment (exit 2 on a bad file), then run it."""
    experiment, spec = load_experiment(args.experiment, args.spec)
    options = RunOptions(keep=args.keep,
                         reports_dir=Path(args.reports_dir) if args.reports_dir else None,
                         run_id=args.run_id, live=False if args.no_live else None,
                         web_port=web_port(args.web))
    result = ExperimentRunner(experiment, spec, options, console).run()
    return result.exit_code
