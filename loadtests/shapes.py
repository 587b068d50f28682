"""The one LoadTestShape: runs the scenario picked with --scenario (see scenarios.py).

Locust runs the first shape class it finds in a locustfile, and a headless run cannot pick
another, so the five scenarios are data (scenarios.SCENARIOS) and this shape dispatches to the
chosen one: `--scenario step -u 20 -t 2m` in the CLI, or the scenario field of the web UI's
start form. Locust's --users/--spawn-rate/--run-time feed the scenario (use_common_options).
"""

from locust import LoadTestShape


class ScenarioShape(LoadTestShape):
    """Ticks through the stages of the scenario's LoadPlan, then ends the test."""

    use_common_options = True

    plan = None
    finished = False

    def reset_time(self):
        """A test starts: fix its plan (the web form may have changed the options)."""
        super().reset_time()
        harness = getattr(self.runner.environment, "slo_harness", None)
        self.plan = harness.plan_for_run() if harness is not None else None
        self.finished = False

    def tick(self):
        """(users, spawn rate) of the current stage; None ends the test."""
        if self.plan is None:
            return None
        current = self.plan.tick(self.get_run_time())
        if current is None:
            self.finished = True
        return current
