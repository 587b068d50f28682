"""Fault specs: what a user may ask for, with bounds on every field.

A spec is validated once, at the edge (admin API, CLI, schedules), into a frozen pydantic
model; invalid input raises FaultValidationError naming the field. Kinds:

    latency  delay_ms (0-30000), jitter_ms (0-30000), probability, routes, ttl_s
    error    status (500-599), probability, routes, message, ttl_s
    abort    mode "reset" (drop the connection) or "hang" (no answer for hang_s, then drop),
             hang_s (1-60), probability, routes, ttl_s

Example body of `PUT /admin/faults/latency`:

    {"delay_ms": 400, "jitter_ms": 50, "probability": 1.0, "routes": ["/api/*"], "ttl_s": 120}
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness_common import validation
from harness_common.errors import FaultValidationError
from harness_common.faults.routes import ALL_ROUTES, glob_problem

DEFAULT_TTL_S = 300
MAX_TTL_S = 3600
# A fault a run switches on for a window carries a TTL of the window plus this margin, so it
# ends by itself even when whatever set it (Locust, `slo run`) is killed.
TTL_MARGIN_S = 30
MAX_ROUTES = 20


class _FaultSpec(BaseModel):
    """Fields every fault kind has."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    probability: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    routes: tuple[str, ...] = Field(ALL_ROUTES, min_length=1, max_length=MAX_ROUTES)
    ttl_s: int = Field(DEFAULT_TTL_S, ge=1, le=MAX_TTL_S)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans(cls, value):
        # JSON numbers may come as strings ("503"), but true is not a number of seconds.
        if isinstance(value, bool):
            raise ValueError(f"must be a number or a string, not a boolean (got {value!r})")
        return value

    @field_validator("routes", mode="before")
    @classmethod
    def _routes_are_globs(cls, value):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            for i, pattern in enumerate(value):
                problem = glob_problem(pattern)
                if problem:
                    raise ValueError(f"routes[{i}] {problem}")
        return value


class LatencyFault(_FaultSpec):
    """Add delay_ms +/- jitter_ms to matching requests."""

    kind: Literal["latency"] = "latency"
    delay_ms: int = Field(..., ge=0, le=30_000)
    jitter_ms: int = Field(0, ge=0, le=30_000)


class ErrorFault(_FaultSpec):
    """Answer matching requests with a 5xx status instead of the real response."""

    kind: Literal["error"] = "error"
    status: int = Field(500, ge=500, le=599)
    message: str = Field("injected fault", min_length=1, max_length=500)


class AbortFault(_FaultSpec):
    """Drop the connection without an answer (reset), optionally after hanging for hang_s."""

    kind: Literal["abort"] = "abort"
    mode: Literal["reset", "hang"] = "reset"
    hang_s: int = Field(5, ge=1, le=60)


KINDS: dict[str, type[_FaultSpec]] = {
    "latency": LatencyFault,
    "error": ErrorFault,
    "abort": AbortFault,
}

FaultSpec = LatencyFault | ErrorFault | AbortFault


def parse_fault(kind: str, body) -> FaultSpec:
    """Validate a fault request body for `kind`; raise FaultValidationError naming the field."""
    if kind not in KINDS:
        raise FaultValidationError("kind",
                                   f"unknown fault kind {kind!r}; use one of {sorted(KINDS)}")
    if not isinstance(body, dict):
        raise FaultValidationError("body", "must be a JSON object, e.g. {\"delay_ms\": 300}")
    if "kind" in body and body["kind"] != kind:
        raise FaultValidationError("kind", f"body says {body['kind']!r} but the URL says {kind!r}")
    try:
        return KINDS[kind].model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        field = validation.field_path(first["loc"]) or "body"
        raise FaultValidationError(field, validation.describe(first, KINDS[kind])) from None
