"""The locustfile of `slo run` against the demo app: its users, and the experiment's shape.

`locust -f loadtests/experiment_locustfile.py --headless` (the runner starts it; see
loadtests/experiment_shape.py for the stages and time zero). Everything else (client metrics,
the run record and Locust's CSV/HTML in <reports-dir>/<run-id>/) is the harness's own.

Only Locust imports this file (it monkey-patches the process with gevent).
"""

from loadtests.experiment_shape import ExperimentShape  # noqa: F401 - the experiment's phases
from loadtests.users import ApiConsumer, HealthProbe, PortfolioVisitor  # noqa: F401
