"""A fault's window opens when the runner asks for the fault, so a Ctrl-C that lands while the
call is on its way back (the fault already on at the app) still leaves a window the rollback
ends. Seen in CI: the fault was on and cleared by the rollback, and the report's outage phase
had no fault window at all."""

from types import SimpleNamespace

import pytest

from slo.experiment.expectations import PhaseWindow
from slo.experiment.runner import ExperimentRunner


class InterruptedOnTheWayBack:
    """A fault client whose set() takes effect, then the run is interrupted before it returns."""

    def __init__(self):
        self.on: list[str] = []

    def set(self, kind, **_params):
        self.on.append(kind)
        raise KeyboardInterrupt


def test_a_ctrl_c_during_the_fault_call_leaves_a_window_the_rollback_ends():
    fault = SimpleNamespace(kind="error", params={"probability": 1.0, "status": 503},
                            describe=lambda: "error 503")
    window = PhaseWindow(phase=SimpleNamespace(fault=fault))
    client = InterruptedOnTheWayBack()
    fake = SimpleNamespace(log=SimpleNamespace(set_kinds=set(), windows=[window]),
                           fault_client=client, progress=SimpleNamespace(message=print))
    with pytest.raises(KeyboardInterrupt):
        ExperimentRunner._fault_on(fake, window)
    assert client.on == ["error"] and fake.log.set_kinds == {"error"}   # on, and ours to clear
    assert window.fault_start is not None
    ExperimentRunner._end_open_faults(fake)
    assert window.fault_end is not None and window.fault_end >= window.fault_start
