"""state.json: `down` stops only processes whose identity (pid + start time + boot) matches."""

import os
import stat
import subprocess
import sys

import psutil
import pytest

from stack import launcher
from stack.config import StackSettings
from stack.errors import StackError
from stack.state import (
    PartRecord,
    StackState,
    boot_id,
    load_state,
    process_start_time,
    record_for,
    save_state,
)


def test_a_recycled_pid_is_not_ours_and_down_leaves_it_alone(tmp_path):
    me = os.getpid()
    impostor = PartRecord("app", me, process_start_time(me) + 1, boot_id(), "http://x", "log")
    assert not impostor.is_ours()
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path)})
    save_state(settings.paths.state_file, StackState(mode="native", parts=[impostor]))
    assert launcher.stop_stack(settings) == []          # and we are still here to assert it
    assert not settings.paths.state_file.exists()


def test_a_record_from_another_boot_is_not_ours():
    me = os.getpid()
    old = PartRecord("app", me, process_start_time(me), "another-boot", "http://x", "log")
    assert not old.is_ours()
    assert PartRecord("app", me, process_start_time(me), boot_id(), "u", "l").is_ours()


def test_a_started_process_is_ours_until_it_exits():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             start_new_session=True)
    try:
        record = record_for("x", child.pid, "http://x", "x.log")
        assert record.is_ours() and record.leader_alive()
    finally:
        child.kill()
        child.wait()
    assert not record.is_ours() and not record.leader_alive()


def step_the_clock(monkeypatch, seconds: float) -> None:
    """What psutil sees after the wall clock is stepped (NTP, a VM resumed): /proc/stat's
    btime, from which it computes every wall-clock start time, moves by `seconds`."""
    import psutil._pslinux as pslinux

    real = pslinux.boot_time
    monkeypatch.setattr(pslinux, "boot_time", lambda: real() + seconds)
    monkeypatch.setattr(psutil, "boot_time", lambda: real() + seconds)


def test_a_clock_step_after_up_does_not_make_down_leave_the_stack_running(tmp_path,
                                                                          monkeypatch):
    """Seen in CI: the clock moved between `stack up` and `stack down`; down compared wall-clock
    start times, took every part for a recycled pid, deleted state.json and left the whole
    stack running on its ports."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                             start_new_session=True)
    try:
        record = record_for("app", child.pid, "http://x", "x.log")
        settings = StackSettings.from_env({"STACK_DIR": str(tmp_path)})
        save_state(settings.paths.state_file, StackState(mode="native", parts=[record]))
        step_the_clock(monkeypatch, 1.0)
        assert record.is_ours() and record.leader_alive()
        assert launcher.stop_stack(settings) == ["app"]
        assert child.wait(timeout=10) is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


@pytest.mark.parametrize("written_as", ["ticks since boot", "wall clock"])
def test_a_record_from_an_older_state_file_is_still_recognised(written_as, monkeypatch):
    me = os.getpid()
    since_boot = process_start_time(me)
    recorded = (round(since_boot * os.sysconf("SC_CLK_TCK")) if written_as == "ticks since boot"
                else psutil.Process(me).create_time())
    assert PartRecord("app", me, recorded, boot_id(), "u", "l").is_ours()
    step_the_clock(monkeypatch, 1.0)      # a wall-clock record tolerates a small btime move
    assert PartRecord("app", me, recorded, boot_id(), "u", "l").is_ours()
    other = recorded + (500 if written_as == "ticks since boot" else 60.0)
    assert not PartRecord("app", me, other, boot_id(), "u", "l").is_ours()


def test_state_round_trips_through_a_private_file(tmp_path):
    path = tmp_path / "state.json"
    state = StackState(mode="native", ports={"app": 1}, parts=[
        PartRecord("app", 123, 456, "b", "http://127.0.0.1:1", "/l/app.log")])
    save_state(path, state)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_state(path) == state
    assert load_state(tmp_path / "absent.json") is None


def test_an_unreadable_state_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(StackError, match=r"state\.json: unreadable .* remove the file"):
        load_state(path)


@pytest.mark.parametrize(("environ", "recorded", "kept"), [
    ({}, "fast", "fast"),                         # revived as it was
    ({"SLO_PROFILE": ""}, "fast", "fast"),        # make's empty export is not a choice
    ({"SLO_PROFILE": "standard"}, "fast", "standard"),   # a choice wins
    ({}, "standard", "standard"),
])
def test_reviving_a_stack_keeps_its_profile_unless_one_is_chosen(tmp_path, environ, recorded,
                                                                  kept):
    from stack.launcher import revived_settings

    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path), **environ})
    revived, note = revived_settings(settings, StackState(mode="native", slo_profile=recorded))
    assert revived.slo_profile == kept
    assert (note is not None) == (kept != settings.slo_profile)
    assert revived_settings(settings, None) == (settings, None)
