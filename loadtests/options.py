"""The harness's Locust command-line options, and how they become a LoadPlan.

Locust's own --users/-u, --spawn-rate/-r and --run-time/-t feed every scenario (the shape sets
`use_common_options`). Added here, each also read from the environment variable shown:

    --scenario NAME        SCENARIO            steady | ramp | step | spike | soak (default steady)
    --ramp-time T          LOCUST_RAMP_TIME    ramp: time to reach the peak
    --step-users N         LOCUST_STEP_USERS   step: users added per step
    --step-time T          LOCUST_STEP_TIME    step: time per step
    --spike-users N        LOCUST_SPIKE_USERS  spike: users during the spike
    --spike-at T           LOCUST_SPIKE_AT     spike: when it starts
    --spike-time T         LOCUST_SPIKE_TIME   spike: how long it lasts
    --chaos-schedule FILE  CHAOS_SCHEDULE      YAML schedule of faults (see schedule.py)
    --run-id ID            RUN_ID              names reports/<run-id>/ (default: time + scenario)
    --reports-dir DIR      REPORTS_DIR         where run folders go (default reports)

The scenario options also appear in the web UI's start form.
"""

from loadtests import tabs
from loadtests.scenarios import SCENARIOS, LoadPlan, build_plan

SCENARIO_OPTIONS = {  # option dest -> build_plan keyword
    "ramp_time": "ramp_time",
    "step_users": "step_users",
    "step_time": "step_time",
    "spike_users": "spike_users",
    "spike_at": "spike_at",
    "spike_time": "spike_time",
}


def add_arguments(parser) -> None:
    """Register the options on Locust's parser (events.init_command_line_parser)."""
    # Straight on the parser: Locust's include_in_web_ui keyword does not work on groups.
    parser.add_argument("--scenario", env_var="SCENARIO", default="steady",
                        choices=list(SCENARIOS),
                        help="load scenario: " + "; ".join(f"{name}: {s.summary}"
                                                           for name, s in SCENARIOS.items()))
    for dest, text in (
        ("ramp_time", "ramp: time to reach the peak, e.g. 90s (default 3/4 of the run time)"),
        ("step_users", "step: users added per step (default users/5)"),
        ("step_time", "step: time per step, e.g. 20s (default: run time / steps)"),
        ("spike_users", "spike: users during the spike (default 3 x users)"),
        ("spike_at", "spike: when the spike starts, e.g. 30s (default run time / 3)"),
        ("spike_time", "spike: how long the spike lasts, e.g. 15s (default run time / 6)"),
    ):
        flag = "--" + dest.replace("_", "-")
        parser.add_argument(flag, dest=dest, env_var="LOCUST_" + dest.upper(), default=None,
                            help=text)
    parser.add_argument("--chaos-schedule", env_var="CHAOS_SCHEDULE", default=None,
                        include_in_web_ui=False,
                        help="YAML chaos schedule applied while the test runs")
    parser.add_argument("--run-id", env_var="RUN_ID", default=None, include_in_web_ui=False,
                        help="run id naming reports/<run-id>/ (default: UTC time + scenario)")
    parser.add_argument("--reports-dir", env_var="REPORTS_DIR", default="reports",
                        include_in_web_ui=False, help="folder for run folders (default reports)")
    tabs.add_arguments(parser)  # web UI tab plugins (the SLO tab) add their own options


def plan_from_options(options) -> LoadPlan:
    """The LoadPlan the parsed options describe; ScenarioError naming what does not fit."""
    extra = {kw: getattr(options, dest, None) for dest, kw in SCENARIO_OPTIONS.items()}
    return build_plan(
        getattr(options, "scenario", None) or "steady",
        users=getattr(options, "num_users", None),
        spawn_rate=getattr(options, "spawn_rate", None),
        duration=getattr(options, "run_time", None),
        **extra,
    )
