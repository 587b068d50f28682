"""The judge's errors: subclasses of the harness's one root exception, HarnessError."""

from dataclasses import dataclass

from target_app.errors import HarnessError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (a field path like slos[1].threshold_ms) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(HarnessError, ValueError):
    """A spec file could not be read or is invalid. One line per problem:

        slos.yaml: slos[1].threshold_ms: must be > 0 (got -5)
    """

    def __init__(self, source: str, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


class PrometheusError(HarnessError):
    """Prometheus could not be queried (unreachable, bad answer) within the retry budget."""


class NoDataError(HarnessError):
    """A query answered, but without samples (or NaN): the SLO cannot be judged."""


class WindowError(HarnessError, ValueError):
    """The time window to judge is missing or invalid (bad --start/--end/--last, no run)."""
