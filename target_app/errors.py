"""The harness's exception tree (chaostoolkit style): one root, a few precise subclasses.

Every package of slo-harness raises these; `slo.errors` adds the judge's own subclasses.
Messages name the field and the fix, and never carry a secret.
"""


class HarnessError(Exception):
    """Root of every error slo-harness raises on purpose."""


class FaultError(HarnessError):
    """A fault could not be validated, set or cleared."""


class FaultValidationError(FaultError, ValueError):
    """A fault request is invalid; `field` names the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
