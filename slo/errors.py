"""The judge's errors: subclasses of the harness's one root exception, HarnessError."""

from harness_common.errors import HarnessError, InputError, Problem

__all__ = ["Problem", "SpecError", "PrometheusError", "WindowError", "InitError"]


class SpecError(InputError):
    """A spec file could not be read or is invalid. One line per problem:

        slos.yaml: slos[1].threshold_ms: must be > 0 (got -5)
    """


class PrometheusError(HarnessError):
    """Prometheus could not be queried (unreachable, bad answer) within the retry budget."""


class WindowError(HarnessError, ValueError):
    """The time window to judge is missing or invalid (bad --start/--end/--last, no run)."""


class InitError(HarnessError):
    """`slo init` could not write a starting spec: the metrics could not be read, nothing was
    recognised, or two instrumentations fit equally well. The message names the fix."""
