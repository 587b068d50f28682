"""slo-harness load test: `locust -f loadtests/locustfile.py` (or `python -m loadtests ...`).

The demo app's users (users.py) with the harness (plugin.py): the scenario shape (--scenario
steady|ramp|step|spike|soak), the chaos schedule (--chaos-schedule), the Chaos tab and /metrics
in the web UI, and a run record in reports/<run-id>/ when each test stops. Options: options.py.
"""

import loadtests.plugin  # noqa: F401 - the harness
from loadtests.shapes import ScenarioShape  # noqa: F401 - Locust picks the shape up from here
from loadtests.users import ApiConsumer, HealthProbe, PortfolioVisitor  # noqa: F401
