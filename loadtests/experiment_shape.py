"""The shape of `slo run`: the experiment's phases as Locust stages, with the harness.

The runner starts Locust with the phases' stages in SLO_EXPERIMENT_STAGES (JSON [[end_s, users,
spawn_rate], ...]) and a file path in SLO_EXPERIMENT_T0_FILE, where the shape writes the Unix
time at which the test starts: the runner counts its phase boundaries from that moment, so
faults and load changes line up. The users come from another locustfile given beside this one
(`-f users.py,experiment_shape.py`): the demo app's (experiment_locustfile.py), an endpoints
file's (endpoints_locustfile.py) or the user's own.

Only Locust imports this file (it monkey-patches the process with gevent).
"""

import json
import os
import time

from locust import LoadTestShape

import loadtests.plugin  # noqa: F401 - the harness (options, run record, client metrics)
from loadtests.scenarios import LoadPlan, Stage

STAGES_VAR = "SLO_EXPERIMENT_STAGES"
T0_VAR = "SLO_EXPERIMENT_T0_FILE"


def plan_from_env() -> LoadPlan:
    """The experiment's stages as a LoadPlan (the harness records it in run.json)."""
    stages = tuple(Stage(float(end), int(users), float(rate))
                   for end, users, rate in json.loads(os.environ[STAGES_VAR]))
    return LoadPlan(scenario="experiment", parameters={"stages": len(stages)}, stages=stages)


class ExperimentShape(LoadTestShape):
    """Ticks through the experiment's stages (users per phase), then ends the test."""

    plan = None
    finished = False

    def reset_time(self):
        """The test starts: load the plan and tell the runner when time zero is."""
        super().reset_time()
        self.plan = plan_from_env()
        self.finished = False
        path = os.environ.get(T0_VAR)
        if path:
            tmp = f"{path}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(repr(time.time()))
            os.replace(tmp, path)

    def tick(self):
        """(users, spawn rate) of the current stage; None ends the test."""
        current = self.plan.tick(self.get_run_time()) if self.plan is not None else None
        if current is None:
            self.finished = True
        return current
