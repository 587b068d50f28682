"""One experiment per stack, and run folders that two runs never share (issue: two `slo run`
started in the same second got one run id and folder; a third cleared a fault it did not set)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from slo.experiment.lock import ExperimentBusy, ExperimentLock
from slo.experiment.runner import ExperimentRunner, RunnerError, RunOptions
from slo.experiment.schema import parse_experiment
from slo.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
EXPERIMENT = parse_experiment("version: slo-harness/v1\nkind: Experiment\nname: twin\n"
                              "phases: [{name: calm, duration: 5s}]\n", "twin.yaml")
SPEC = load_spec(REPO / "slo" / "slos.yaml")


def test_a_second_run_on_the_same_stack_is_refused_naming_the_holder(tmp_path):
    with ExperimentLock(tmp_path, "first-run"):
        with pytest.raises(ExperimentBusy, match=r"run first-run \(pid \d+, started "):
            ExperimentLock(tmp_path, "second-run").__enter__()
    with ExperimentLock(tmp_path, "second-run"):   # released by the first holder's exit
        pass


def test_a_dead_holder_does_not_keep_the_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; sys.path.insert(0, sys.argv[2]);"
         "from slo.experiment.lock import ExperimentLock;"
         "ExperimentLock(sys.argv[1], 'killed-run').__enter__(); print('held', flush=True);"
         "time.sleep(60)", str(tmp_path), str(REPO)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ExperimentBusy, match="killed-run"):
            ExperimentLock(tmp_path, "next").__enter__()
        holder.kill()
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
    with ExperimentLock(tmp_path, "next"):
        pass


def runner(reports: Path, run_id: str | None = None) -> ExperimentRunner:
    return ExperimentRunner(EXPERIMENT, SPEC, RunOptions(reports_dir=reports, run_id=run_id,
                                                         environ={}))


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    first, second = runner(tmp_path), runner(tmp_path)
    assert first.run_id == second.run_id            # the same second, the same name
    first._claim_run_dir()
    second._claim_run_dir()
    assert first.run_dir != second.run_dir and second.run_id == first.run_id + "-2"
    assert first.run_dir.is_dir() and second.run_dir.is_dir()


def test_an_explicit_run_id_that_holds_a_run_is_refused(tmp_path):
    taken = tmp_path / "mine"
    taken.mkdir()
    (taken / "summary.json").write_text("{}")
    with pytest.raises(RunnerError, match="already holds a run"):
        runner(tmp_path, "mine")._claim_run_dir()
