"""Chaos schedules: which fault to switch on when, and for how long, during a load test.

A schedule is a YAML list of steps; times count from the start of the test:

    # loadtests/schedules/latency-then-errors.yaml
    - at: 10s                      # 10 s into the test...
      set: latency                 # ...switch a latency fault on (kinds: latency, error, abort)
      params: {delay_ms: 400, jitter_ms: 50, routes: ["/api/*"]}
      for: 30s                     # ...until 40 s
    - at: 50s
      set: error
      params: {status: 503, probability: 0.2, routes: ["/api/*"]}
      for: 30s                     # would end at 80 s...
    - at: 70s
      clear: error                 # ...but is cleared at 70 s (`clear: all` clears every kind)

Rules, each with its own error message naming the file and step:
- `at` is a duration >= 0 ("90", "90s", "1m30s"); `for` is a duration > 0.
- A step has exactly one of `set` and `clear`; `params` and `for` belong to `set` steps.
- `params` are the fault's fields (harness_common/faults/model.py), validated here with the shared
  parser; `ttl_s` is not allowed there: the schedule sets it to the window plus a margin, so a
  fault switches itself off even when the load generator is killed.
- A `set` ends at `at + for` or at the next `clear` of its kind, whichever comes first, and
  needs one of the two: no fault outlives its window.
- Two windows of the same kind must not overlap (back to back is fine). `clear` is idempotent.

This module is pure (no Locust): chaos.py applies a Schedule during a run, and the CLI validates
the file before anything starts.
"""

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness_common import validation
from harness_common.durations import format_duration, parse_duration
from harness_common.errors import FaultValidationError, Problem
from harness_common.faults.model import KINDS, MAX_TTL_S, TTL_MARGIN_S, FaultSpec, parse_fault
from harness_common.inputs import read_input
from harness_common.yamlsafe import load_documents
from loadtests.errors import ScheduleError
from loadtests.scenarios import MAX_DURATION_S

MAX_STEPS = 100
MAX_BYTES = 256 * 1024
EXAMPLE = "loadtests/schedules/latency-then-errors.yaml"


def _within_test(value: float, too_small: bool, rule: str) -> float:
    """`value` (seconds) when it is not too small and fits in the longest load test."""
    if too_small:
        raise ValueError(f"{rule} (got {format_duration(value)})")
    if value > MAX_DURATION_S:
        raise ValueError(f"must be within the longest load test, "
                         f"{format_duration(MAX_DURATION_S)} (got {value:g}s)")
    return value


class Step(BaseModel):
    """One line of a schedule, as written (times already in seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: float
    set: str | None = None
    clear: str | None = None
    params: dict[str, Any] | None = None
    for_: float | None = Field(None, alias="for")

    @field_validator("at", "for_", mode="before")
    @classmethod
    def _duration(cls, value):
        if value is None:
            return None
        return parse_duration(value)

    @field_validator("at")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        return _within_test(value, value < 0, "must be >= 0, counted from the start of the test")

    @field_validator("for_")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        return None if value is None else _within_test(value, value <= 0, "must be > 0")

    @field_validator("set")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value not in KINDS:
            raise ValueError(f"unknown fault kind {value!r}; use one of {sorted(KINDS)}")
        return value

    @field_validator("clear")
    @classmethod
    def _known_kind_or_all(cls, value: str | None) -> str | None:
        if value is not None and value != "all" and value not in KINDS:
            raise ValueError(f"unknown fault kind {value!r}; use one of {sorted(KINDS)} or 'all'")
        return value

    @model_validator(mode="after")
    def _one_action(self):
        if (self.set is None) == (self.clear is None):
            raise ValueError("a step needs exactly one of `set: <kind>` and `clear: <kind>`")
        if self.clear is not None and (self.params is not None or self.for_ is not None):
            raise ValueError("`params` and `for` belong to `set` steps; remove them from this "
                             "`clear` step")
        return self


@dataclass(frozen=True)
class Window:
    """A fault the schedule keeps on from start_s to end_s (seconds into the test)."""

    kind: str
    start_s: float
    end_s: float
    spec: FaultSpec
    step: int

    @property
    def ttl_s(self) -> int:
        """The TTL sent with the fault: the window plus a margin (covers a killed Locust)."""
        return self.spec.ttl_s


@dataclass(frozen=True)
class Action:
    """One call to make at `at_s`: switch `kind` on (with `spec`) or off.

    A clear written in the schedule is `explicit` and always sent ("latency off now", whoever
    set it; kind "all" clears every fault); the clear that ends a `for:` window is sent only
    while the schedule's own fault of that kind is still on.
    """

    at_s: float
    op: str  # "set" | "clear"
    kind: str  # a fault kind, or "all" for an explicit `clear: all`
    spec: FaultSpec | None = None
    explicit: bool = False


@dataclass(frozen=True)
class Schedule:
    """A validated schedule: its windows and the time-ordered actions that realise them."""

    source: str
    windows: tuple[Window, ...]
    actions: tuple[Action, ...]

    @property
    def end_s(self) -> float:
        """When the last action happens."""
        return max((a.at_s for a in self.actions), default=0.0)


def _where(index: int, loc: tuple = ()) -> str:
    """steps[2].params.delay_ms"""
    return validation.field_path(("steps", index, *("for" if p == "for_" else p for p in loc)))


def _problem(source: str, index: int, loc: tuple, message: str) -> ScheduleError:
    return ScheduleError(source, Problem(_where(index, loc), message))


def parse_steps(raw, source: str = "schedule") -> list[Step]:
    """Validate the YAML document's shape and each step on its own."""
    if not isinstance(raw, list):
        raise ScheduleError(source, "expected a list of steps, e.g. "
                                    "'- {at: 30s, set: latency, params: {delay_ms: 400}, "
                                    f"for: 60s}}' (got {type(raw).__name__})")
    if not raw:
        raise ScheduleError(source, "the schedule has no steps")
    if len(raw) > MAX_STEPS:
        raise ScheduleError(source, f"at most {MAX_STEPS} steps (got {len(raw)})")
    steps = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _problem(source, i, (), "expected a mapping like '{at: 30s, set: latency, "
                                          f"...}}' (got {validation.got(item)})")
        try:
            steps.append(Step.model_validate(item))
        except ValidationError as err:
            first = err.errors()[0]
            raise _problem(source, i, tuple(first["loc"]),
                           validation.describe(first, Step)) from None
    return steps


def _window_end(steps: list[Step], index: int) -> float | None:
    """Where the window of set-step `index` ends: its `for`, or the next clear of its kind."""
    step = steps[index]
    candidates = [] if step.for_ is None else [step.at + step.for_]
    candidates += [s.at for s in steps if s.clear in (step.set, "all") and s.at > step.at]
    return min(candidates, default=None)


def compile_steps(steps: list[Step], source: str = "schedule") -> Schedule:
    """Turn valid steps into windows and actions; ScheduleError on open or overlapping windows."""
    windows = []
    for i, step in enumerate(steps):
        if step.set is None:
            continue
        end = _window_end(steps, i)
        if end is None:
            raise _problem(source, i, (), f"a `set: {step.set}` step needs `for: <duration>` "
                                          f"or a later `clear: {step.set}` step (no fault may "
                                          f"outlive its window)")
        params = dict(step.params or {})
        if "ttl_s" in params:
            raise _problem(source, i, ("params", "ttl_s"),
                           f"set by the schedule (window + {TTL_MARGIN_S}s margin); remove it")
        ttl = math.ceil(end - step.at) + TTL_MARGIN_S
        if ttl > MAX_TTL_S:
            raise _problem(source, i, (), f"the window {format_duration(step.at)}-"
                                          f"{format_duration(end)} plus the {TTL_MARGIN_S}s "
                                          f"safety margin exceeds the maximum fault TTL of "
                                          f"{MAX_TTL_S}s; split it into back-to-back windows")
        try:
            spec = parse_fault(step.set, {**params, "ttl_s": ttl})
        except FaultValidationError as err:
            raise _problem(source, i, ("params", err.field), err.message) from None
        windows.append(Window(step.set, step.at, end, spec, i))

    by_kind: dict[str, list[Window]] = {}
    for window in windows:
        by_kind.setdefault(window.kind, []).append(window)
    for kind, group in by_kind.items():
        group.sort(key=lambda w: w.start_s)
        for prev, nxt in zip(group, group[1:], strict=False):
            if nxt.start_s < prev.end_s:
                raise ScheduleError(source,
                    f"steps[{prev.step}] and steps[{nxt.step}]: {kind} windows overlap "
                    f"({format_duration(prev.start_s)}-{format_duration(prev.end_s)} and "
                    f"{format_duration(nxt.start_s)}-{format_duration(nxt.end_s)}); start the "
                    f"second at or after {format_duration(prev.end_s)}")

    explicit = [Action(s.at, "clear", s.clear, explicit=True) for s in steps if s.clear]
    covered = {(a.at_s, a.kind) for a in explicit}
    automatic = [Action(w.end_s, "clear", w.kind) for w in windows
                 if (w.end_s, w.kind) not in covered and (w.end_s, "all") not in covered]
    sets = [Action(w.start_s, "set", w.kind, w.spec) for w in windows]
    # At the same instant clears go first, so back-to-back windows hand over cleanly.
    ordered = sorted(explicit + automatic + sets, key=lambda a: (a.at_s, a.op != "clear"))
    return Schedule(source=source, windows=tuple(windows), actions=tuple(ordered))


def load_schedule(path: str | Path) -> Schedule:
    """Read, validate and compile a schedule file; ScheduleError naming the file and step."""
    name = str(path)
    data = read_input(path, what="chaos schedule", error=ScheduleError, max_bytes=MAX_BYTES,
                      missing_hint=f"pass the path of a chaos schedule, e.g. {EXAMPLE}")
    docs = load_documents(data, name, what="chaos schedule", error=ScheduleError,
                          max_bytes=MAX_BYTES, example=EXAMPLE)
    if len(docs) != 1:
        raise ScheduleError(name, f"holds {len(docs)} YAML documents; a chaos schedule is one "
                                  "list of steps")
    return compile_steps(parse_steps(docs[0], name), name)
