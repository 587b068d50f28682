"""slo-harness load test: `locust -f loadtests/locustfile.py` (or `python -m loadtests ...`).

Users (users.py), the scenario shape (shapes.py, --scenario steady|ramp|step|spike|soak), and
the harness: chaos schedule (--chaos-schedule), Chaos tab and /metrics in the web UI, and a
run record in reports/<run-id>/ when each test stops (harness.py). Options: options.py.
"""

from locust import events

from loadtests import harness, options
from loadtests.shapes import ScenarioShape  # noqa: F401 - Locust picks the shape up from here
from loadtests.users import ApiConsumer, HealthProbe, PortfolioVisitor  # noqa: F401

events.init_command_line_parser.add_listener(lambda parser, **_kw: options.add_arguments(parser))
events.init.add_listener(harness.init)
