"""The harness's exception tree (chaostoolkit style): one root, a few precise subclasses.

Every package of slo-harness raises these or subclasses of them (slo.errors, loadtests.errors,
stack.errors). Messages name the file, the field and the fix, and never carry a secret.

    InputError("slos.yaml", [Problem("slos[1].threshold_ms", "must be > 0 (got -5)")])
        -> "slos.yaml: slos[1].threshold_ms: must be > 0 (got -5)"
"""

from dataclasses import dataclass


class HarnessError(Exception):
    """Root of every error slo-harness raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a field path like slos[1].threshold_ms) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputError(HarnessError, ValueError):
    """A file a user wrote (spec, experiment, schedule) cannot be read or is invalid.

    The one formatter of such errors: one line per problem, `<source>: <path>: <message>`.
    """

    def __init__(self, source: str, problems: "list[Problem] | Problem | str"):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))


class FaultError(HarnessError):
    """A fault could not be validated, set or cleared."""


class FaultValidationError(FaultError, ValueError):
    """A fault request is invalid; `field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
