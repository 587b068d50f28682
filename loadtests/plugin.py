"""The harness for any locustfile: `import loadtests.plugin` and your users get it all.

    # my_locustfile.py
    from locust import FastHttpUser, between, task

    import loadtests.plugin  # noqa: F401  (scenarios, chaos schedule, Chaos tab, run record,
                             #               client-side /metrics)

    class Shopper(FastHttpUser):
        wait_time = between(1, 3)

        @task(3)
        def browse(self):
            self.client.get("/products")

        @task
        def basket(self):
            self.client.post("/basket", json={"sku": 42})

    python -m loadtests headless --locustfile my_locustfile.py --host http://127.0.0.1:8000 \\
        --scenario ramp --users 20 --duration 2m [--chaos-schedule faults.yaml]
    make load-headless LOCUSTFILE=my_locustfile.py HOST=http://127.0.0.1:8000 SCENARIO=ramp

Importing it registers the harness's command-line options (--scenario, --chaos-schedule,
--run-id, --reports-dir, ...; loadtests/options.py) and its init listener (loadtests/harness.py),
and gives a locustfile without a LoadTestShape of its own the scenario shape
(loadtests/shapes.py): a locustfile that defines one keeps it. Faults go to the stack's fault
backend (the fault proxy when the stack runs one in front of TARGET_URL), never to --host.
"""

from locust import events
from locust.runners import WorkerRunner

from loadtests import harness, options
from loadtests.shapes import ScenarioShape


def _default_shape(environment, runner=None, **_kwargs) -> None:
    """A locustfile without a shape runs the harness's scenarios."""
    if environment.shape_class is None and not isinstance(runner, WorkerRunner):
        shape = ScenarioShape()
        shape.runner = runner
        environment.shape_class = shape


events.init_command_line_parser.add_listener(lambda parser, **_kw: options.add_arguments(parser))
events.init.add_listener(_default_shape)
events.init.add_listener(harness.init)
