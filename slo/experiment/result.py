"""The record of one experiment run: typed and frozen, produced by the runner, read by the report.

    ExperimentResult
      experiment   ExperimentInfo: name, file, description, profile, planned duration, spec
      stack        StackRecord: mode, profile, Telegram mode, URLs, scrape/evaluation intervals
      phases       PhaseRecord each: when it ran, its load, its fault (FaultRecord), its verdicts
      outcomes     every expectation's Outcome (slo.experiment.expectations)
      timings      per-alert AlertTiming beside the theory (slo.experiment.timings)
      transitions  the alert timeline (slo.live.alerts.Transition)
      notifications  the Telegram messages read back (slo.live.delivery.Notice)
      rollback     what the runner undid, and the faults left after it
      series       the data of the plots (Series), read from Prometheus by slo.experiment.series
      status, exit_code, reason, notes

`to_summary()` is summary.json: the one place its shape is decided (version 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from slo.alerting.budget import WindowCost
from slo.experiment.expectations import FAILED, NOT_EVALUATED, PASSED, Outcome, SloVerdict
from slo.experiment.timings import AlertTiming
from slo.judge.clientside import LatencyComparison
from slo.live.alerts import Transition
from slo.live.delivery import Notice

SUMMARY_VERSION = 1
ARTIFACTS = {"summary": "summary.json", "junit": "junit.xml", "markdown": "report.md",
             "html": "report.html", "locust": "locust/"}


def iso(moment: float | None) -> str | None:
    """Unix seconds -> 2025-01-01T12:00:00.123Z (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def offset(moment: float | None, t0: float | None) -> float | None:
    """Seconds from t0 (None when either is unknown)."""
    if moment is None or t0 is None:
        return None
    return round(moment - t0, 3)


@dataclass(frozen=True)
class ExperimentInfo:
    """What was run."""

    name: str
    file: str
    description: str
    profile: str
    duration_s: int
    spec: str


@dataclass(frozen=True)
class StackRecord:
    """The stack the run used."""

    mode: str | None
    started_by_run: bool
    kept: bool
    profile: str
    telegram_mode: str
    urls: tuple[tuple[str, str], ...]
    scrape_interval_s: float
    evaluation_interval_s: float


@dataclass(frozen=True)
class FaultRecord:
    """A phase's fault as it ran (start/end: Unix seconds, None when it never did)."""

    kind: str
    description: str
    params: tuple[tuple[str, object], ...]
    start: float | None
    end: float | None


@dataclass(frozen=True)
class PhaseRecord:
    """A phase as it ran."""

    index: int
    name: str
    planned_offset_s: int
    duration_s: int
    start: float | None
    end: float | None
    completed: bool
    users: int
    spawn_rate: float
    scenario: str
    fault: FaultRecord | None
    slos: tuple[SloVerdict, ...] = ()
    budget: tuple[WindowCost, ...] = ()   # what the phase cost each SLO's error budget
    # The client's exact p50/p95/p99 in the phase beside the server histogram's (None: no
    # latency SLO, no client requests in the phase, or Locust's record could not be read).
    latency: LatencyComparison | None = None


@dataclass(frozen=True)
class Rollback:
    """What the rollback did, and the faults still on after it (None: could not be read)."""

    ok: bool
    steps: tuple[str, ...]
    faults_left: tuple[dict, ...] | None


@dataclass(frozen=True)
class PlotSeries:
    """One line of a plot: (time, value) points and the SLO's target, in the plot's unit.

    `band`: (time, low, high) — for a quantile, the histogram bucket that holds it at each
    time (the line inside it is interpolated); high is inf for the +Inf bucket.
    """

    name: str
    target: float
    points: tuple[tuple[float, float], ...]
    band: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class Series:
    """The plots' data: latency percentiles (ms) and bad-event ratios (%)."""

    latency: tuple[PlotSeries, ...] = ()
    errors: tuple[PlotSeries, ...] = ()


@dataclass(frozen=True)
class Totals:
    """How many expectations passed, failed, were skipped and could not be evaluated."""

    expectations: int
    passed: int
    failed: int
    skipped: int
    not_evaluated: int = 0


@dataclass(frozen=True)
class ExperimentResult:
    """Everything one run produced (see the module docstring)."""

    run_id: str
    run_dir: Path
    experiment: ExperimentInfo
    status: str                      # passed | failed | not_evaluated | interrupted | error
    exit_code: int
    reason: str
    started_at: float
    ended_at: float | None
    stack: StackRecord
    phases: tuple[PhaseRecord, ...]
    outcomes: tuple[Outcome, ...] = ()
    timings: tuple[AlertTiming, ...] = ()
    transitions: tuple[Transition, ...] = ()
    notifications: tuple[Notice, ...] = ()
    rollback: Rollback = Rollback(True, (), ())
    notes: tuple[str, ...] = ()
    series: Series = field(default_factory=Series)

    @property
    def t0(self) -> float | None:
        """When the first phase started: the origin of every offset."""
        return self.phases[0].start if self.phases else None

    @property
    def totals(self) -> Totals:
        """Passed, failed and skipped expectations."""
        passed = sum(1 for o in self.outcomes if o.status == PASSED)
        failed = sum(1 for o in self.outcomes if o.status == FAILED)
        unjudged = sum(1 for o in self.outcomes if o.status == NOT_EVALUATED)
        return Totals(len(self.outcomes), passed, failed,
                      len(self.outcomes) - passed - failed - unjudged, unjudged)

    def to_summary(self) -> dict:
        """summary.json (JSON-ready throughout)."""
        t0 = self.t0
        totals = self.totals
        return {
            "version": SUMMARY_VERSION,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "experiment": {"name": self.experiment.name, "file": self.experiment.file,
                           "description": self.experiment.description,
                           "profile": self.experiment.profile,
                           "duration_s": self.experiment.duration_s},
            "spec": self.experiment.spec,
            "status": self.status,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "t0": t0,
            "t0_iso": iso(t0),
            "stack": {"mode": self.stack.mode, "started_by_run": self.stack.started_by_run,
                      "kept": self.stack.kept, "profile": self.stack.profile,
                      "telegram_mode": self.stack.telegram_mode, "urls": dict(self.stack.urls),
                      "scrape_interval_s": self.stack.scrape_interval_s,
                      "evaluation_interval_s": self.stack.evaluation_interval_s},
            "phases": [self._phase(p, t0) for p in self.phases],
            "totals": {"expectations": totals.expectations, "passed": totals.passed,
                       "failed": totals.failed, "skipped": totals.skipped,
                       "not_evaluated": totals.not_evaluated},
            "expectations": [o.as_dict() for o in self.outcomes],
            "alerts": [t.as_dict() for t in self.timings],
            "transitions": [dict(t.as_dict(), offset_s=offset(t.at, t0))
                            for t in self.transitions],
            "notifications": [{"status": n.status, "labels": n.labels,
                               "message_id": n.message_id, "received_at": iso(n.received_at),
                               "offset_s": offset(n.received_at, t0)}
                              for n in self.notifications],
            "rollback": {"ok": self.rollback.ok, "steps": list(self.rollback.steps),
                         "faults_left": (None if self.rollback.faults_left is None
                                         else list(self.rollback.faults_left))},
            "notes": list(self.notes),
            "artifacts": dict(ARTIFACTS),
        }

    @staticmethod
    def _phase(p: PhaseRecord, t0: float | None) -> dict:
        fault = None
        if p.fault is not None:
            fault = {"kind": p.fault.kind, "description": p.fault.description,
                     "params": dict(p.fault.params), "start": iso(p.fault.start),
                     "end": iso(p.fault.end), "start_offset_s": offset(p.fault.start, t0),
                     "end_offset_s": offset(p.fault.end, t0)}
        return {"index": p.index, "name": p.name, "planned_offset_s": p.planned_offset_s,
                "duration_s": p.duration_s, "start": iso(p.start), "end": iso(p.end),
                "start_offset_s": offset(p.start, t0), "end_offset_s": offset(p.end, t0),
                "completed": p.completed, "users": p.users, "spawn_rate": p.spawn_rate,
                "scenario": p.scenario, "fault": fault,
                "slos": [v.as_dict() for v in p.slos],
                "budget": [c.as_dict() for c in p.budget],
                "latency": None if p.latency is None else p.latency.as_dict()}
