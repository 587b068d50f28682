"""Load scenarios as data: each is a list of stages, built from a few parameters.

A stage says "until `end_s` seconds into the test, run `users` users, spawning (or stopping)
`spawn_rate` users per second to get there" — Locust's own stages-shape pattern. The five
scenarios, with defaults sized for a 2-core machine that also runs the target app:

    steady  `users` users (default 10) for `duration` (default 60s), spawned at `spawn_rate`
            (default users/5 per second)
    ramp    climb linearly from 0 to `users` over `ramp_time` (default 3/4 of `duration`,
            default 120s), then hold the peak; the spawn rate is users/ramp_time
    step    add `step_users` (default users/5) every `step_time` (default: the duration split
            evenly over the steps, default 120s) until `users`, then hold
    spike   `users` users, jump to `spike_users` (default 3 x users) at `spike_at` (default
            duration/3) for `spike_time` (default duration/6), then back (default 90s)
    soak    like steady, for a long time: default 30m

This module is pure (no Locust import): the CLI validates with it before starting Locust, and
shapes.py turns a LoadPlan into Locust's tick().
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from harness_common.durations import format_duration, parse_duration
from loadtests.errors import ScenarioError

MAX_USERS = 10_000
MAX_SPAWN_RATE = 1_000.0
MAX_DURATION_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Stage:
    """Until `end_s` seconds into the test: `users` users, changed at `spawn_rate` per second."""

    end_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class LoadPlan:
    """A scenario resolved into stages; `tick(elapsed)` is what Locust's shape returns."""

    scenario: str
    parameters: dict
    stages: tuple[Stage, ...]

    @property
    def duration_s(self) -> float:
        """When the last stage ends (the test stops then)."""
        return self.stages[-1].end_s

    def tick(self, elapsed_s: float) -> tuple[int, float] | None:
        """(users, spawn_rate) for this moment of the test, or None once the plan is over."""
        for stage in self.stages:
            if elapsed_s < stage.end_s:
                return stage.users, stage.spawn_rate
        return None

    def describe(self) -> str:
        """One line for logs: 'step: 2 users until 12s, 4 users until 24s, ...'."""
        parts = [f"{s.users} users until {format_duration(round(s.end_s, 1))}" for s in self.stages]
        return f"{self.scenario}: " + ", ".join(parts)


@dataclass(frozen=True)
class Params:
    """Scenario parameters after parsing; None means 'use the scenario's default'."""

    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    ramp_time_s: float | None = None
    step_users: int | None = None
    step_time_s: float | None = None
    spike_users: int | None = None
    spike_at_s: float | None = None
    spike_time_s: float | None = None


@dataclass(frozen=True)
class Scenario:
    """A named scenario: what it does, its default duration and its stage builder."""

    summary: str
    default_duration_s: float
    build: Callable[[Params, str], tuple[list[Stage], dict]] = field(repr=False)


def _fail(name: str, message: str) -> ScenarioError:
    return ScenarioError(f"scenario {name!r}: {message}")


def _users(p: Params) -> int:
    return p.users if p.users is not None else 10


def _rate(p: Params, users: int) -> float:
    return p.spawn_rate if p.spawn_rate is not None else max(1.0, users / 5)


def _steady(p: Params, name: str):
    users, duration = _users(p), p.duration_s
    rate = _rate(p, users)
    return [Stage(duration, users, rate)], {"users": users, "spawn_rate": rate,
                                             "duration_s": duration}


def _ramp(p: Params, name: str):
    users, duration = _users(p), p.duration_s
    ramp_time = p.ramp_time_s if p.ramp_time_s is not None else round(duration * 0.75, 3)
    if ramp_time <= 0 or ramp_time > duration:
        raise _fail(name, f"ramp_time must be > 0 and <= duration {format_duration(duration)} "
                          f"(got {format_duration(ramp_time)})")
    rate = users / ramp_time
    return [Stage(duration, users, rate)], {"users": users, "ramp_time_s": ramp_time,
                                             "spawn_rate": round(rate, 4), "duration_s": duration}


def _step(p: Params, name: str):
    users, duration = _users(p), p.duration_s
    step_users = p.step_users if p.step_users is not None else max(1, math.ceil(users / 5))
    if not 1 <= step_users <= users:
        raise _fail(name, f"step_users must be between 1 and users ({users}) (got {step_users})")
    steps = math.ceil(users / step_users)
    step_time = p.step_time_s if p.step_time_s is not None else round(duration / steps, 3)
    if step_time <= 0:
        raise _fail(name, f"step_time must be > 0 (got {format_duration(step_time)})")
    if steps * step_time > duration + 1e-6:
        raise _fail(name, f"{steps} steps of {format_duration(step_time)} need "
                          f"{format_duration(steps * step_time)}, more than duration "
                          f"{format_duration(duration)}; lower step_time or raise duration")
    rate = p.spawn_rate if p.spawn_rate is not None else float(step_users)
    stages = [Stage(round(i * step_time, 3), min(i * step_users, users), rate)
              for i in range(1, steps)]
    stages.append(Stage(duration, users, rate))
    return stages, {"users": users, "step_users": step_users, "step_time_s": step_time,
                    "spawn_rate": rate, "duration_s": duration}


def _spike(p: Params, name: str):
    users, duration = _users(p), p.duration_s
    spike_users = p.spike_users if p.spike_users is not None else 3 * users
    spike_at = p.spike_at_s if p.spike_at_s is not None else round(duration / 3, 3)
    spike_time = p.spike_time_s if p.spike_time_s is not None else round(duration / 6, 3)
    if spike_users <= users or spike_users > MAX_USERS:
        raise _fail(name, f"spike_users must be above users ({users}) and at most {MAX_USERS} "
                          f"(got {spike_users})")
    if spike_at <= 0 or spike_time <= 0:
        raise _fail(name, "spike_at and spike_time must be > 0")
    if spike_at + spike_time >= duration:
        raise _fail(name, f"the spike ends at {format_duration(spike_at + spike_time)}, not "
                          f"before the end of the test ({format_duration(duration)}); lower "
                          f"spike_at/spike_time or raise duration")
    rate = _rate(p, users)
    jump = float(spike_users - users)  # the whole jump within about a second: that is a spike
    stages = [Stage(spike_at, users, rate),
              Stage(round(spike_at + spike_time, 3), spike_users, jump),
              Stage(duration, users, jump)]
    return stages, {"users": users, "spawn_rate": rate, "spike_users": spike_users,
                    "spike_at_s": spike_at, "spike_time_s": spike_time, "duration_s": duration}


SCENARIOS: dict[str, Scenario] = {
    "steady": Scenario("a constant number of users", 60, _steady),
    "ramp": Scenario("climb linearly to the peak, then hold it", 120, _ramp),
    "step": Scenario("add users in equal steps, then hold", 120, _step),
    "spike": Scenario("a sudden burst of users, then back to the baseline", 90, _spike),
    "soak": Scenario("a constant load for a long time", 1800, _steady),
}


def _parse(name: str, label: str, value, kind: type, low: float, high: float):
    """Parse one raw parameter (number, or string from the CLI/env/web form) within bounds."""
    if value is None or value == "":
        return None
    try:
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            parsed = int(str(value).strip()) if not isinstance(value, int | float) else int(value)
        elif kind is float:
            parsed = float(value)
            if not math.isfinite(parsed):
                raise ValueError
        else:
            parsed = parse_duration(value)
    except (TypeError, ValueError):
        what = {int: "a whole number", float: "a number", "duration": "a duration like 30s or 2m"}
        raise _fail(name, f"{label} must be {what[kind]} (got {value!r})") from None
    if not low <= parsed <= high:
        shown = format_duration(parsed) if kind == "duration" else f"{parsed:g}"
        limit = (f"{format_duration(low)} and {format_duration(high)}" if kind == "duration"
                 else f"{low:g} and {high:g}")
        raise _fail(name, f"{label} must be between {limit} (got {shown})")
    return parsed


def build_plan(scenario: str, *, users=None, spawn_rate=None, duration=None, ramp_time=None,
               step_users=None, step_time=None, spike_users=None, spike_at=None,
               spike_time=None) -> LoadPlan:
    """Resolve a scenario and its raw parameters into a LoadPlan; ScenarioError if they don't fit.

    Raw values may be numbers or strings ("30s", "2m" for durations); None means the default.
    """
    if scenario not in SCENARIOS:
        raise ScenarioError(f"unknown scenario {scenario!r}; use one of: "
                            f"{', '.join(SCENARIOS)}")
    spec = SCENARIOS[scenario]
    params = Params(
        users=_parse(scenario, "users", users, int, 1, MAX_USERS),
        spawn_rate=_parse(scenario, "spawn_rate", spawn_rate, float, 0.001, MAX_SPAWN_RATE),
        duration_s=_parse(scenario, "duration", duration, "duration", 1, MAX_DURATION_S),
        ramp_time_s=_parse(scenario, "ramp_time", ramp_time, "duration", 0.001, MAX_DURATION_S),
        step_users=_parse(scenario, "step_users", step_users, int, 1, MAX_USERS),
        step_time_s=_parse(scenario, "step_time", step_time, "duration", 0.001, MAX_DURATION_S),
        spike_users=_parse(scenario, "spike_users", spike_users, int, 1, MAX_USERS),
        spike_at_s=_parse(scenario, "spike_at", spike_at, "duration", 0.001, MAX_DURATION_S),
        spike_time_s=_parse(scenario, "spike_time", spike_time, "duration", 0.001,
                            MAX_DURATION_S),
    )
    if params.duration_s is None:
        params = Params(**{**params.__dict__, "duration_s": float(spec.default_duration_s)})
    stages, resolved = spec.build(params, scenario)
    return LoadPlan(scenario=scenario, parameters=resolved, stages=tuple(stages))
