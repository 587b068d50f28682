"""An experiment phase's verdicts: the one judgement (slo.judge.judgement) of its window, as
the reports read it.

    judgement = evaluate(spec, prom, phase_window(start, end, recorded_faults(...)))
    slo_verdicts(judgement)          # [SloVerdict], in the spec's order

Pure: the runner drives and records; the verdicts, the refusal of a met over faults the
metrics could not see included, are the same judge_window()'s that `slo check` prints. This
module only reduces each to what the reports need.
"""

from __future__ import annotations

from slo.experiment.expectations import SloVerdict
from slo.judge.checker import NOT_JUDGED, CheckResult
from slo.judge.window import Window


def recorded_faults(phase, backend: str) -> tuple[dict, ...]:
    """The phase's own fault as a run record holds one (none for an infrastructure fault: it
    is no fault of a backend)."""
    fault = phase.fault
    if fault is None or fault.infrastructure:
        return ()
    return ({"kind": fault.kind, "params": dict(fault.given), "applied": True,
             "backend": backend, "phase": phase.name},)


def phase_window(start: float, end: float, faults: tuple[dict, ...] = ()) -> Window:
    """The judged window of a phase, carrying its recorded faults (slo.judge.observe merges
    them with the backends' counters, as for a run record's window)."""
    return Window(start, end, "phase", faults=tuple(faults))


def slo_verdicts(judgement: CheckResult) -> list[SloVerdict]:
    """Each verdict of the judgement as an SloVerdict (its value shown with its bucket, or why
    it was not judged; the share of bad events that spends the budget)."""
    return [SloVerdict(v.name, v.status, v.value, v.objective, v.unit,
                       v.reason if v.status in NOT_JUDGED or v.value is None else v.shown,
                       None if v.value_bounds is None
                       else tuple(v.to_json()["value_bounds"]),
                       None if v.good_fraction is None else max(0.0, 1.0 - v.good_fraction),
                       float(judgement.window.seconds))
            for v in judgement.verdicts]
