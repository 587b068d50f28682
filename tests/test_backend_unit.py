"""Which backend answers a Prometheus URL, and the stack's STACK_BACKEND setting."""

import pytest

from slo.judge.backend import OTHER, PROMETHEUS, VICTORIAMETRICS, identify, latency_offset
from stack.config import StackSettings
from stack.errors import StackConfigError, StackError
from stack.launcher import choose_mode

PROM_BUILD = {"version": "2.42.0+ds", "revision": "x", "goVersion": "go1.19.8"}


@pytest.mark.parametrize("buildinfo, ready, flags, name, offset", [
    (PROM_BUILD, "Prometheus Server is Ready.\n", None, PROMETHEUS, 0.0),
    ({}, "VictoriaMetrics is Ready.\n", '-search.latencyOffset="7s"\n', VICTORIAMETRICS, 7.0),
    ({}, "VictoriaMetrics is Ready.\n", None, VICTORIAMETRICS, 30.0),   # its default
    ({}, "VictoriaMetrics is Ready.\n", '-search.latencyOffset="0s"', VICTORIAMETRICS, 0.0),
    (None, None, None, OTHER, 0.0),                          # nothing answered
    ({"version": "0.34.0"}, "OK", None, OTHER, 0.0),          # Thanos-like: a version, not ours
])
def test_the_backend_is_named_from_what_it_answers(buildinfo, ready, flags, name, offset):
    backend = identify(buildinfo, ready, flags)
    assert (backend.name, backend.latency_offset_s) == (name, offset)
    assert bool(backend.notes) == (name == VICTORIAMETRICS)


def test_a_latency_offset_that_cannot_be_read_is_the_default():
    assert latency_offset('-search.latencyOffset="soon"') == 30.0


def test_stack_backend_is_checked_and_victoriametrics_adds_vmalerts_port(tmp_path):
    with pytest.raises(StackConfigError, match="STACK_BACKEND: expected one of prometheus, "
                                               "victoriametrics"):
        StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_BACKEND": "mimir"})
    plain = StackSettings.from_env({"STACK_DIR": str(tmp_path)})
    assert plain.backend == "prometheus" and "vmalert" not in plain.ports
    vm = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_BACKEND": "victoriametrics",
                                 "VMALERT_PORT": "18880"})
    assert vm.ports["vmalert"] == 18880


def test_victoriametrics_runs_natively_only(tmp_path):
    vm = {"STACK_DIR": str(tmp_path), "STACK_BACKEND": "victoriametrics"}
    assert choose_mode(StackSettings.from_env(vm)) == "native"
    with pytest.raises(StackError, match="runs natively only"):
        choose_mode(StackSettings.from_env({**vm, "STACK_MODE": "compose"}))
