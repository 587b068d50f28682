"""Before the baseline the runner waits for the spec's alerts to be quiet, and says which and why.

Seen in `make demo` on a fresh stack: it said it waited for "6 alert(s) of an earlier run",
though there was none; they were SLOMetricAbsent and PortfolioAppDown, pending until the first
scrapes of a Prometheus that had just started."""

from types import SimpleNamespace

import pytest

from slo.experiment import runner as runner_module
from slo.experiment.runner import ExperimentRunner, RunnerError
from slo.live.alerts import ActiveAlert


def alert(name: str, slo: str) -> ActiveAlert:
    return ActiveAlert(name, (("alertname", name), ("slo", slo)), "pending", None)


def waiting(started_stack: bool, states: list[list[ActiveAlert]]):
    said: list[str] = []
    fake = SimpleNamespace(conn=SimpleNamespace(started_stack=started_stack),
                           progress=SimpleNamespace(message=said.append),
                           options=SimpleNamespace(poll_interval_s=0.0),
                           _spec_alerts_active=lambda: states.pop(0) if states else [])
    return fake, said


@pytest.mark.parametrize(("started_stack", "why"), [
    (True, "pending on the fresh stack until its first scrapes"),
    (False, "of an earlier run"),
])
def test_the_wait_names_the_alerts_and_says_where_they_come_from(started_stack, why):
    first = [alert("SLOMetricAbsent", "error-ratio"), alert("PortfolioAppDown", "availability")]
    fake, said = waiting(started_stack, [first, first[:1], []])
    ExperimentRunner._wait_for_quiet(fake)
    assert said == [f"waiting up to 60s for 2 alert(s) {why} (PortfolioAppDown, "
                    f"SLOMetricAbsent) to resolve"]


@pytest.mark.parametrize(("started_stack", "fix"), [
    (False, "they come from data of an earlier run; stop the stack (`make stack-down`)"),
    (True, "SLOMetricAbsent: the SLI's metric is not scraped"),
])
def test_alerts_that_stay_active_refuse_the_baseline_naming_them(monkeypatch, started_stack,
                                                                 fix):
    monkeypatch.setattr(runner_module, "QUIET_WAIT_S", 0.0)
    still = [alert("SLOMetricAbsent", "error-ratio")]
    fake, _ = waiting(started_stack, [still, still, still])
    with pytest.raises(RunnerError) as refused:
        ExperimentRunner._wait_for_quiet(fake)
    assert "SLOMetricAbsent{slo=error-ratio} pending" in str(refused.value)
    assert fix in str(refused.value)


def test_nothing_active_means_no_wait_and_no_word():
    fake, said = waiting(True, [[]])
    ExperimentRunner._wait_for_quiet(fake)
    assert said == []


@pytest.mark.parametrize(("target", "backend", "stack_env", "refused"), [
    ("app", "app", {}, None),
    ("app", "proxy", {"TARGET_URL": "http://127.0.0.1:8000"}, "runs no demo app"),
    ("proxy", "app", {}, "has no fault proxy"),
    ("proxy", "proxy", {"TARGET_URL": "http://127.0.0.1:8000"}, None),
], ids=["demo", "app-in-front-of-your-service", "proxy-without-one", "proxy"])
def test_an_experiment_runs_only_on_a_stack_that_has_its_target(target, backend, stack_env,
                                                                refused):
    """In front of TARGET_URL no demo app runs: `target: app` would put faults on nothing."""
    fake = SimpleNamespace(
        experiment=SimpleNamespace(target=target, source="exp.yaml"),
        conn=SimpleNamespace(fault_api=SimpleNamespace(backend=backend), env=stack_env))
    if refused is None:
        ExperimentRunner._check_target(fake)
    else:
        with pytest.raises(RunnerError, match=refused):
            ExperimentRunner._check_target(fake)
