"""The soak test's locustfile: SoakUser at a fixed pace, with the load-test harness wired in
(chaos schedule, fault rollback, run record), exactly as loadtests/locustfile.py wires it."""

from locust import events

from loadtests import harness, options
from loadtests.shapes import ScenarioShape  # noqa: F401 - Locust picks the shape up from here
from tests.reliability.soak_users import SoakUser  # noqa: F401 - run from the repo root

events.init_command_line_parser.add_listener(lambda parser, **_kw: options.add_arguments(parser))
events.init.add_listener(harness.init)
