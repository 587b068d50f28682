"""The load tests' errors: subclasses of the harness's root error, one per kind of bad input.

Each message names the option or file field and the fix; none carries a secret.
"""

from harness_common.errors import HarnessError, InputError


class LoadTestError(HarnessError):
    """A load test could not be prepared or run."""


class ScenarioError(LoadTestError):
    """An unknown scenario, or scenario parameters that do not fit together."""


class ScheduleError(InputError, LoadTestError):
    """A chaos schedule file that cannot be applied as written (`<file>: <step>: <why>`)."""


class EndpointsError(InputError, LoadTestError):
    """An endpoints file (loadtests/endpoints.py) that cannot be read or is invalid."""


class TargetError(LoadTestError):
    """The target app is unreachable, or refuses the admin token the chaos schedule needs."""


class RecordError(LoadTestError):
    """A run record that cannot be read."""
