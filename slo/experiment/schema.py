"""Experiments users write (version slo-harness/v1, kind Experiment), validated once at the edge.

A full example (slo/experiments/demo.yaml is the one `make demo` runs):

    version: slo-harness/v1
    kind: Experiment
    name: error-burst                  # [a-z0-9-]; part of the run id
    description: A total outage of the API pages on-call and recovers.
    spec: ../slos.yaml                 # the SLO spec, relative to this file (default ../slos.yaml)
    profile: fast                      # alert windows the stack runs with (fast | standard)
    load:                              # defaults for every phase
      users: 8
      spawn_rate: 4                    # users started (or stopped) per second
      scenario: steady                 # any loadtests scenario: steady, ramp, step, spike
    phases:
      - name: baseline
        duration: 40s
        expect:
          slos: {error-ratio: met, latency-p95: met}       # met (pass or warn) | violated
          alerts:
            - alert: ErrorBudgetBurn
              labels: {slo: error-ratio}                   # optional label matchers
              state: not_firing                            # a healthy baseline must not page
      - name: outage
        duration: 45s
        load: {users: 10}                                  # overrides the defaults
        fault:
          kind: error                                      # latency | error | abort (admin API)
          params: {probability: 1.0, status: 503}          # harness_common/faults/model.py fields
        expect:
          slos: {error-ratio: violated}
          alerts:
            - {alert: ErrorBudgetBurn, labels: {slo: error-ratio}, state: firing, within: 40s}
          telegram:
            - {alert: ErrorBudgetBurn, labels: {slo: error-ratio}, status: firing, within: 45s}
      - name: recovery
        duration: 60s
        expect:
          alerts:
            - {alert: ErrorBudgetBurn, labels: {slo: error-ratio}, state: resolved, within: 60s}
          telegram:
            - {alert: ErrorBudgetBurn, labels: {slo: error-ratio}, status: resolved, within: 60s}

The target. `target: app` (the default) is the demo app: the load goes to it and faults go to its
admin API. `target: proxy` is the service behind the stack's fault proxy (the stack runs with
TARGET_URL, e.g. `TARGET_URL=http://127.0.0.1:8000 slo run envoy.yaml`): the load goes through
Envoy and faults are Envoy's (latency without jitter, error; no abort, kill or pause: refused
here naming the field). Whose requests make the load:

    users: {endpoints: ../../loadtests/endpoints/prometheus-api.yaml}   # a YAML list of
                                   # endpoints with weights and expected status, or
    users: {locustfile: my_locustfile.py}                              # your own users
                                   # (default: the demo app's users); paths relative to the file

Faults. An app fault (latency, error, abort) is switched on when its phase starts and off when it
ends, with a TTL of the phase plus a margin so it also ends if the runner is killed. `ttl_s` is
therefore not allowed in `params`. Infrastructure faults act on the app's process:

    fault: {kind: kill, restart_after: 20s}  # SIGKILL the app; the launcher restarts it 20 s on
    fault: {kind: pause, for: 20s}           # SIGSTOP, SIGCONT 20 s later (default: the phase)

Expectations and their clocks:
- `slos`: the SLO's verdict over the phase's window (met = pass or warn; no data fails both);
- `alerts` `firing` within T: counted from the phase's start (its fault's start);
- `alerts` `not_firing`: no matching alert fires at any moment of the phase;
- `alerts` `resolved` within T: every matching alert stops firing within T after the end of the
  latest fault of an earlier phase;
- `telegram` `firing`/`resolved` within T: a Telegram message for the alert, with that status,
  is delivered within T of the same moments (sandbox: the message is read back; real Telegram:
  Alertmanager's notification counters rise without failures).
A deadline may run into later phases but not past the end of the experiment.

Labels are checked when the file is loaded, so no expectation holds on a label nobody looked
at: a `telegram` expectation may match only the labels every message shows
(slo.live.delivery.MESSAGE_LABELS: severity, slo, service, long, short), and, for an alert the
spec's rules produce (ErrorBudgetBurn or its `alerting.name`, SLOMetricAbsent), `alerts` and
`telegram` labels must be ones a rule of the spec gives that alert on the experiment's profile
(long: 6m names the 6m/30s row of `profile: fast`).

Every problem is reported as `<file>: <field path>: <what is wrong and the fix>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness_common import validation
from harness_common.durations import format_duration, whole_seconds
from harness_common.errors import FaultValidationError, HarnessError
from harness_common.faults.backends import check_supported
from harness_common.faults.model import KINDS as APP_FAULT_KINDS
from harness_common.faults.model import MAX_TTL_S, TTL_MARGIN_S, parse_fault
from harness_common.inputs import read_input
from harness_common.yamlsafe import load_documents
from slo.alerting.burnrate import PROFILES as ALERT_PROFILES
from slo.alerting.rules import ABSENT_ALERT, slo_group
from slo.errors import Problem, SpecError
from slo.live.alerts import AlertSelector
from slo.live.delivery import MESSAGE_CAPS, MESSAGE_LABELS, shown_length
from slo.spec.model import SLO, Spec

VERSION = "slo-harness/v1"
KIND = "Experiment"
NAME = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
INFRA_FAULT_KINDS = ("kill", "pause")
FAULT_KINDS = (*APP_FAULT_KINDS, *INFRA_FAULT_KINDS)
SCENARIOS = ("steady", "ramp", "step", "spike")
PROFILES = ("fast", "standard")
MAX_PHASES = 50
MAX_TOTAL_S = 6 * 3600
MAX_USERS = 1000
MIN_PHASE_S = 5            # one scrape
MIN_JUDGED_PHASE_S = 15    # a phase whose SLOs are judged: 10 s window after its first scrape
DEFAULT_SPEC = "../slos.yaml"
EXAMPLE = "slo/experiments/demo.yaml"


class ExperimentError(SpecError):
    """An experiment file could not be read or is invalid (one line per problem)."""


def _duration(value: Any) -> int:
    """Whole seconds of "45s", "1m30s" (or a bare number of seconds); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"must be a duration like '30s' or '1m30s' (got {value!r})")
    if isinstance(value, int) and value >= 0:
        return value
    return whole_seconds(value)


# ------------------------------------------------------------------ the file's shape (v1)

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LoadV1(_Strict):
    """Load of a phase: how many users, how fast they start, which scenario shapes them."""

    users: int | None = Field(None, ge=1, le=MAX_USERS, strict=True)
    spawn_rate: float | None = Field(None, gt=0, le=100, allow_inf_nan=False)
    scenario: Literal["steady", "ramp", "step", "spike"] | None = None


class FaultV1(_Strict):
    """The fault of a phase (see the module docstring)."""

    kind: str
    params: dict[str, Any] | None = None
    restart_after: int | None = None
    for_: int | None = Field(None, alias="for")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {value!r}; use one of {', '.join(FAULT_KINDS)}")
        return value

    @field_validator("restart_after", "for_", mode="before")
    @classmethod
    def _seconds(cls, value):
        return None if value is None else _duration(value)


class _AboutAlertV1(_Strict):
    """What an alert expectation names: the alert, its labels, a deadline."""

    alert: str = Field(min_length=1, max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    within: int | None = None

    @field_validator("within", mode="before")
    @classmethod
    def _seconds(cls, value):
        return None if value is None else _duration(value)


class AlertExpectV1(_AboutAlertV1):
    """alerts: - {alert: NAME, labels: {...}, state: firing|not_firing|resolved, within: 60s}"""

    state: Literal["firing", "not_firing", "resolved"]


class TelegramExpectV1(_AboutAlertV1):
    """telegram: - {alert: NAME, labels: {...}, status: firing|resolved, within: 60s}"""

    status: Literal["firing", "resolved"]
    within: int


class ExpectV1(_Strict):
    """What must hold in a phase."""

    slos: dict[str, Literal["met", "violated"]] = Field(default_factory=dict)
    alerts: list[AlertExpectV1] = Field(default_factory=list, max_length=50)
    telegram: list[TelegramExpectV1] = Field(default_factory=list, max_length=50)


class PhaseV1(_Strict):
    """One phase: a duration, its load, an optional fault and expectations."""

    name: str = Field(pattern=NAME)
    duration: int
    load: LoadV1 = LoadV1()
    fault: FaultV1 | None = None
    expect: ExpectV1 = ExpectV1()

    @field_validator("duration", mode="before")
    @classmethod
    def _seconds(cls, value):
        return _duration(value)


class UsersV1(_Strict):
    """Who sends the load: an endpoints file or a locustfile (paths relative to the file)."""

    endpoints: str | None = Field(None, min_length=1, max_length=500)
    locustfile: str | None = Field(None, min_length=1, max_length=500)


class ExperimentV1(_Strict):
    """The top level of an experiment document."""

    version: Literal["slo-harness/v1"]
    kind: Literal["Experiment"]
    name: str = Field(pattern=NAME)
    description: str = Field("", max_length=2000)
    spec: str = Field(DEFAULT_SPEC, min_length=1, max_length=500)
    profile: Literal["fast", "standard"] = "fast"
    target: Literal["app", "proxy"] = "app"
    users: UsersV1 | None = None
    load: LoadV1 = LoadV1()
    phases: list[PhaseV1] = Field(min_length=1, max_length=MAX_PHASES)


# ------------------------------------------------------------------ the model the runner uses

@dataclass(frozen=True)
class Load:
    """Resolved load of a phase."""

    users: int
    spawn_rate: float
    scenario: str


@dataclass(frozen=True)
class Fault:
    """A phase's fault. App faults carry validated params (with ttl_s); infra faults a delay."""

    kind: str
    params: dict
    restart_after_s: int | None = None   # kill
    for_s: int | None = None             # pause
    given: tuple[tuple[str, object], ...] = ()   # the params as written (for display)

    @property
    def infrastructure(self) -> bool:
        """True for kill/pause (signals to the app's process), False for admin-API faults."""
        return self.kind in INFRA_FAULT_KINDS

    def describe(self) -> str:
        """'error probability=1.0 status=503', 'kill (restart after 20s)'."""
        if self.kind == "kill":
            return f"kill (restart after {format_duration(self.restart_after_s)})"
        if self.kind == "pause":
            return f"pause for {format_duration(self.for_s)}"
        shown = " ".join(f"{k}={v}" for k, v in self.given)
        return f"{self.kind} {shown}".strip()


@dataclass(frozen=True)
class AlertExpectation:
    """An alert must be firing / not firing / resolved; `within_s` for firing and resolved."""

    alert: str
    labels: tuple[tuple[str, str], ...]
    state: str
    within_s: int | None

    def subject(self) -> str:
        """ErrorBudgetBurn{slo="error-ratio"}"""
        return alert_subject(self.alert, self.labels)


@dataclass(frozen=True)
class TelegramExpectation:
    """A Telegram message for the alert with `status` must arrive within `within_s`."""

    alert: str
    labels: tuple[tuple[str, str], ...]
    status: str
    within_s: int

    def subject(self) -> str:
        """ErrorBudgetBurn{slo="error-ratio"}"""
        return alert_subject(self.alert, self.labels)


@dataclass(frozen=True)
class Phase:
    """A validated phase, with its offsets from the start of the experiment."""

    index: int
    name: str
    start_s: int
    duration_s: int
    load: Load
    fault: Fault | None
    slos: tuple[tuple[str, str], ...]
    alerts: tuple[AlertExpectation, ...]
    telegram: tuple[TelegramExpectation, ...]

    @property
    def end_s(self) -> int:
        """Offset of the phase's end."""
        return self.start_s + self.duration_s

    @property
    def fault_end_s(self) -> int | None:
        """Offset at which the fault ends (kill: restart; pause: SIGCONT), None without fault."""
        if self.fault is None:
            return None
        if self.fault.kind == "kill":
            return self.start_s + self.fault.restart_after_s
        if self.fault.kind == "pause":
            return self.start_s + self.fault.for_s
        return self.end_s


@dataclass(frozen=True)
class Experiment:
    """A validated experiment. `source` names the file; `spec_path` is resolved."""

    source: str
    name: str
    description: str
    spec_path: Path
    profile: str
    phases: tuple[Phase, ...]
    target: str = "app"                  # app | proxy (the service behind the fault proxy)
    endpoints: Path | None = None        # the load's endpoints file, or
    locustfile: Path | None = None       # its locustfile (neither: the demo app's users)

    @property
    def duration_s(self) -> int:
        """Total length of the load run."""
        return self.phases[-1].end_s

    def expectation_count(self) -> int:
        """How many expectations the experiment checks."""
        return sum(len(p.slos) + len(p.alerts) + len(p.telegram) for p in self.phases)


def alert_subject(alert: str, labels) -> str:
    """An alert and its label matchers the way PromQL writes a selector."""
    return str(AlertSelector.of(alert, labels))


@dataclass(frozen=True)
class RuleLabels:
    """The labels one alerting rule gives its alerts: `fixed` by the rule, `free` from its
    expression (any value)."""

    fixed: tuple[tuple[str, str], ...]
    free: frozenset[str] = frozenset()

    @property
    def names(self) -> set[str]:
        """Every label name its alerts can carry."""
        return {k for k, _v in self.fixed} | set(self.free)

    def allows(self, labels) -> bool:
        """True when an alert of this rule can carry every (name, value) of `labels`."""
        fixed = dict(self.fixed)
        return all(fixed[k] == v if k in fixed else k in self.free for k, v in labels)


def _absent_free(slo: SLO) -> frozenset[str]:
    """Labels absent() may add to SLOMetricAbsent: its selectors' equality matchers (every
    selector of the SLI's ratio: a superset of those absent() is given)."""
    ratio = slo.budget_ratio
    if ratio is None:
        return frozenset()
    selectors = (*ratio.total.selectors, *ratio.events.selectors)
    return frozenset(m.label for s in selectors for m in s.matchers if m.op == "=")


def spec_alert_labels(spec: Spec, profile: str) -> dict[str, list[RuleLabels]]:
    """The labels each alert the spec's rules produce on `profile` can carry, by alert name
    (the burn-rate alert's labels come from its rule alone: its expression aggregates them
    away)."""
    out: dict[str, list[RuleLabels]] = {}
    for slo in spec.slos:
        group = slo_group(spec, slo, ALERT_PROFILES[profile])
        for rule in (group or {}).get("rules", ()):
            if "alert" in rule:
                free = _absent_free(slo) if rule["alert"] == ABSENT_ALERT else frozenset()
                out.setdefault(rule["alert"], []).append(
                    RuleLabels(tuple(sorted(rule["labels"].items())), free))
    return out


# ------------------------------------------------------------------ building and checking

class _Builder:
    """Turns an ExperimentV1 into an Experiment, collecting every Problem with its path."""

    def __init__(self, top: ExperimentV1, spec: Spec | None):
        self.top = top
        self.spec = spec
        self.problems: list[Problem] = []
        self.rules = spec_alert_labels(spec, top.profile) if spec is not None else {}

    def problem(self, loc: tuple, message: str) -> None:
        self.problems.append(Problem(validation.field_path(loc), message))

    def load(self, i: int, raw: LoadV1) -> Load:
        base = self.top.load
        users = raw.users or base.users or 10
        spawn_rate = raw.spawn_rate or base.spawn_rate or max(1.0, users / 2)
        return Load(users=users, spawn_rate=float(spawn_rate),
                    scenario=raw.scenario or base.scenario or "steady")

    def fault(self, i: int, raw: FaultV1 | None, duration_s: int) -> Fault | None:
        if raw is None:
            return None
        loc = ("phases", i, "fault")
        if raw.kind in APP_FAULT_KINDS:
            for field, present in (("restart_after", raw.restart_after), ("for", raw.for_)):
                if present is not None:
                    self.problem(loc + (field,), f"does not apply to a {raw.kind} fault (it lasts "
                                                 f"the whole phase); remove it")
            params = dict(raw.params or {})
            if "ttl_s" in params:
                self.problem(loc + ("params", "ttl_s"), f"set by the runner (the phase plus "
                                                        f"{TTL_MARGIN_S}s); remove it")
                return None
            ttl = duration_s + TTL_MARGIN_S
            if ttl > MAX_TTL_S:
                self.problem(("phases", i, "duration"),
                             f"a phase with an app fault may last at most "
                             f"{format_duration(MAX_TTL_S - TTL_MARGIN_S)} (the fault's TTL is "
                             f"capped at {MAX_TTL_S}s); split it into shorter phases")
                return None
            try:
                spec = parse_fault(raw.kind, {**params, "ttl_s": ttl})
                check_supported(self.top.target, spec)
            except FaultValidationError as err:
                where = ("kind",) if err.field == "kind" else ("params", err.field)
                self.problem(loc + where, err.message)
                return None
            return Fault(raw.kind, spec.model_dump(mode="json", exclude={"kind"}),
                         given=tuple(params.items()))
        if self.top.target == "proxy":
            self.problem(loc + ("kind",), f"{raw.kind} acts on the demo app's process; against "
                                          f"the service behind the proxy use a latency or an "
                                          f"error fault (target: proxy)")
            return None
        if raw.params is not None:
            self.problem(loc + ("params",), f"a {raw.kind} fault has no params; remove them")
        if raw.kind == "kill":
            if raw.for_ is not None:
                self.problem(loc + ("for",), "a kill fault ends when the app is restarted: use "
                                             "restart_after instead")
            if raw.restart_after is None:
                self.problem(loc + ("restart_after",), "required for a kill fault: how long the "
                                                       "app stays dead, e.g. restart_after: 20s")
                return None
            if not 1 <= raw.restart_after <= duration_s:
                self.problem(loc + ("restart_after",),
                             f"must be between 1s and the phase's duration "
                             f"{format_duration(duration_s)} (got "
                             f"{format_duration(raw.restart_after)})")
                return None
            return Fault("kill", {}, restart_after_s=raw.restart_after)
        if raw.restart_after is not None:
            self.problem(loc + ("restart_after",), "applies to kill faults only; a pause ends "
                                                   "after `for`")
        for_s = raw.for_ if raw.for_ is not None else duration_s
        if not 1 <= for_s <= duration_s:
            self.problem(loc + ("for",), f"must be between 1s and the phase's duration "
                                         f"{format_duration(duration_s)} (got "
                                         f"{format_duration(for_s)})")
            return None
        return Fault("pause", {}, for_s=for_s)

    def slos(self, i: int, raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
        if self.spec is not None:
            known = [s.name for s in self.spec.slos]
            for name in raw:
                if name not in known:
                    self.problem(("phases", i, "expect", "slos", name),
                                 f"no SLO named {name!r} in {self.spec.source}; "
                                 f"known: {', '.join(known)}")
        return tuple(raw.items())

    def labels(self, loc: tuple, raw: dict[str, str]) -> tuple[tuple[str, str], ...]:
        for key in raw:
            if not LABEL_NAME.match(key):
                self.problem(loc + ("labels", key), "not a Prometheus label name "
                                                    "([a-zA-Z_][a-zA-Z0-9_]*)")
            if key == "alertname":
                self.problem(loc + ("labels", key), "the alert's name goes in `alert:`; remove it")
        return tuple(sorted(raw.items()))

    def alerts(self, i: int, raw: list[AlertExpectV1]) -> tuple[AlertExpectation, ...]:
        out = []
        for j, item in enumerate(raw):
            loc = ("phases", i, "expect", "alerts", j)
            if item.state == "not_firing" and item.within is not None:
                self.problem(loc + ("within",), "does not apply to not_firing (it holds for the "
                                                "whole phase); remove it")
            if item.state in ("firing", "resolved") and item.within is None:
                self.problem(loc + ("within",), f"required for state {item.state}: how long "
                                                f"the alert may take, e.g. within: 60s")
            labels = self.labels(loc, item.labels)
            self.rule_labels(loc, item.alert, labels)
            out.append(AlertExpectation(item.alert, labels, item.state, item.within))
        return tuple(out)

    def telegram(self, i: int, raw: list[TelegramExpectV1]) -> tuple[TelegramExpectation, ...]:
        out = []
        for j, item in enumerate(raw):
            loc = ("phases", i, "expect", "telegram", j)
            labels = self.labels(loc, item.labels)
            if self.message_labels(loc, item.alert, labels):
                self.rule_labels(loc, item.alert, labels)
            out.append(TelegramExpectation(item.alert, labels, item.status, item.within))
        return tuple(out)

    def message_labels(self, loc: tuple, alert: str, labels) -> bool:
        """A Telegram expectation matches only what every message shows in full (False: a
        problem was reported)."""
        ok = True
        always = [k for k in MESSAGE_LABELS if k != "alertname"]
        if shown_length("alertname", alert) > MESSAGE_CAPS["alertname"]:
            self.problem(loc + ("alert",), f"the message shows at most "
                                           f"{MESSAGE_CAPS['alertname']} characters of the "
                                           f"alert's name, so it could never match; use a "
                                           f"shorter alert name")
            ok = False
        for key, value in labels:
            if key == "alertname":
                continue
            if key not in MESSAGE_LABELS:
                self.problem(loc + ("labels", key),
                             f"a Telegram message does not always show label {key!r} (it "
                             f"always shows {', '.join(always[:-1])} and {always[-1]}; other "
                             f"labels only as far as its labels line has room), so a match on "
                             f"it could never be proven; remove it, or expect the alert with "
                             f"{key} in `alerts:`")
                ok = False
            elif shown_length(key, value) > MESSAGE_CAPS[key]:
                self.problem(loc + ("labels", key),
                             f"the message shows at most {MESSAGE_CAPS[key]} characters of "
                             f"{key} ({value!r} is longer as written there), so it could never "
                             f"match; give the SLO a shorter {key}")
                ok = False
        return ok

    def rule_labels(self, loc: tuple, alert: str, labels) -> None:
        """Labels an alert the spec's rules produce cannot carry are refused, naming the label
        and what the rules give it (alerts from other rules are checked by the run)."""
        rows = self.rules.get(alert)
        if not rows or not labels:
            return
        where = f"no {alert} rule of {self.spec.source} (profile {self.top.profile})"
        names = set().union(*(r.names for r in rows))
        unknown = [k for k, _v in labels if k not in names and k != "alertname"]
        for key in unknown:
            self.problem(loc + ("labels", key), f"{where} has label {key!r}; its labels: "
                                                f"{', '.join(sorted(names))}; remove it or fix "
                                                f"its name")
        if unknown or any(r.allows(labels) for r in rows):
            return
        for n, (key, value) in enumerate(labels):
            others = labels[:n] + labels[n + 1:]
            fitting = [r for r in rows if r.allows(others)]
            if fitting and not any(r.allows(((key, value),)) for r in fitting):
                has = sorted({v for r in fitting for k, v in r.fixed if k == key})
                with_ = ", ".join(f"{k}={v!r}" for k, v in others)
                self.problem(loc + ("labels", key),
                             f"{where} has {key}={value!r}{' with ' + with_ if with_ else ''}; "
                             f"it has {key} {', '.join(has)}")
                return
        self.problem(loc + ("labels",), f"{where} has these labels together; fix or remove one")

    def clocks(self, phases: list[Phase]) -> None:
        """Every deadline has a reference moment and ends before the experiment does."""
        end = phases[-1].end_s if phases else 0
        last_fault_end: int | None = None
        for phase in phases:
            checks = [("alerts", j, e.state, e.within_s) for j, e in enumerate(phase.alerts)]
            checks += [("telegram", j, e.status, e.within_s) for j, e in enumerate(phase.telegram)]
            for group, j, what, within in checks:
                if within is None:
                    continue
                loc = ("phases", phase.index, "expect", group, j, "within")
                if within < 1:
                    self.problem(loc, f"must be at least 1s (got {format_duration(within)})")
                    continue
                if what == "resolved":
                    if last_fault_end is None:
                        self.problem(("phases", phase.index, "expect", group, j, "state"
                                      if group == "alerts" else "status"),
                                     "resolved counts from the end of a fault, and no earlier "
                                     "phase has one; add a fault to an earlier phase")
                        continue
                    ref = last_fault_end
                else:
                    ref = phase.start_s
                if ref + within > end:
                    self.problem(loc, f"the deadline ends {format_duration(ref + within - end)} "
                                      f"after the experiment does; lengthen the later phases or "
                                      f"shorten `within`")
            if phase.fault_end_s is not None:
                last_fault_end = phase.fault_end_s

    def build(self, source: str, base_dir: Path) -> Experiment:
        phases: list[Phase] = []
        offset, seen = 0, {}
        for i, raw in enumerate(self.top.phases):
            if raw.name in seen:
                self.problem(("phases", i, "name"), f"duplicate phase name {raw.name!r} (also "
                                                    f"phases[{seen[raw.name]}]); names must be "
                                                    f"unique")
            seen.setdefault(raw.name, i)
            if raw.duration < MIN_PHASE_S:
                self.problem(("phases", i, "duration"), f"must be at least {MIN_PHASE_S}s: "
                                                        f"Prometheus scrapes every 5s (got "
                                                        f"{format_duration(raw.duration)})")
            elif raw.expect.slos and raw.duration < MIN_JUDGED_PHASE_S:
                self.problem(("phases", i, "duration"),
                             f"must be at least {MIN_JUDGED_PHASE_S}s to judge its SLOs (the "
                             f"first scrape is skipped and the checker needs 10s); lengthen "
                             f"the phase or move its `slos` (got "
                             f"{format_duration(raw.duration)})")
            phases.append(Phase(
                index=i, name=raw.name, start_s=offset, duration_s=raw.duration,
                load=self.load(i, raw.load), fault=self.fault(i, raw.fault, raw.duration),
                slos=self.slos(i, raw.expect.slos), alerts=self.alerts(i, raw.expect.alerts),
                telegram=self.telegram(i, raw.expect.telegram)))
            offset += raw.duration
        if offset > MAX_TOTAL_S:
            self.problem(("phases",), f"the phases last {format_duration(offset)} in total; at "
                                      f"most {format_duration(MAX_TOTAL_S)}")
        self.clocks(phases)
        spec_path = (base_dir / self.top.spec).resolve()
        endpoints, locustfile = self.users(base_dir)
        return Experiment(source=source, name=self.top.name, description=self.top.description,
                          spec_path=spec_path, profile=self.top.profile, phases=tuple(phases),
                          target=self.top.target, endpoints=endpoints, locustfile=locustfile)

    def users(self, base_dir: Path) -> tuple[Path | None, Path | None]:
        """(endpoints file, locustfile) of `users:`, checked; (None, None) by default."""
        users = self.top.users
        if users is None:
            return None, None
        if (users.endpoints is None) == (users.locustfile is None):
            self.problem(("users",), "give exactly one of endpoints (a YAML list of endpoints) "
                                     "and locustfile (your own users)")
            return None, None
        field = "endpoints" if users.endpoints else "locustfile"
        path = (base_dir / (users.endpoints or users.locustfile)).resolve()
        if not path.is_file():
            self.problem(("users", field), f"{path} does not exist (paths are relative to the "
                                           f"experiment file)")
            return None, None
        if users.endpoints:
            from loadtests.endpoints import load_endpoints

            try:
                load_endpoints(path)
            except HarnessError as err:
                self.problem(("users", "endpoints"), str(err))
                return None, None
            return path, None
        return None, path


def _first_check(doc: dict, source: str) -> None:
    version = doc.get("version")
    if version != VERSION:
        hint = (f"add `version: {VERSION}` at the top" if version is None
                else f"unsupported version {validation.got(version)}; this harness reads {VERSION}")
        raise ExperimentError(source, Problem("version", hint))
    kind = doc.get("kind")
    if kind != KIND:
        hint = ("add `kind: Experiment` (this file describes an experiment)" if kind is None
                else f"must be Experiment (got {validation.got(kind)}); an SLO spec goes to "
                     f"--spec, not to `slo run`")
        raise ExperimentError(source, Problem("kind", hint))


def parse_experiment(data: bytes | str, source: str = "<experiment>",
                     base_dir: Path | str = ".", spec: Spec | None = None) -> Experiment:
    """Validate experiment text; with `spec`, SLO names are checked against it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    docs = load_documents(data, source, what="experiment", error=ExperimentError,
                          example=EXAMPLE)
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise ExperimentError(source, "must be one YAML mapping with version, kind, name and "
                                      f"phases (see {EXAMPLE})")
    _first_check(docs[0], source)
    try:
        top = ExperimentV1.model_validate(docs[0])
    except ValidationError as err:
        raise ExperimentError(source, validation.problems(err, ExperimentV1)) from None
    builder = _Builder(top, spec)
    experiment = builder.build(source, Path(base_dir))
    if builder.problems:
        raise ExperimentError(source, builder.problems)
    return experiment


def read_experiment(path: str | Path) -> tuple[bytes, str]:
    """The bytes of an experiment file and its display name (ExperimentError when unreadable)."""
    data = read_input(path, what="experiment", error=ExperimentError,
                      missing_hint=f"pass the path of an experiment, e.g. {EXAMPLE}")
    return data, str(path)


def load_experiment(path: str | Path, spec_path: str | Path | None = None
                    ) -> tuple[Experiment, Spec]:
    """Read an experiment and its SLO spec (the file's `spec:` unless `spec_path` is given)."""
    from slo.spec import load_spec

    data, source = read_experiment(path)
    draft = parse_experiment(data, source, base_dir=Path(path).resolve().parent)
    spec_file = Path(spec_path) if spec_path else draft.spec_path
    if not spec_path and not spec_file.is_file():
        raise ExperimentError(source, Problem("spec", f"{spec_file} does not exist; point "
                                                      f"`spec:` at the SLO spec (relative to "
                                                      f"this file)"))
    spec = load_spec(spec_file)
    experiment = parse_experiment(data, source, base_dir=Path(path).resolve().parent, spec=spec)
    if spec_path:
        experiment = Experiment(**{**experiment.__dict__, "spec_path": spec_file.resolve()})
    return experiment, spec
