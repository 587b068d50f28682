"""Faults always end, and the registry never lies about which are on.

- 1,000 random admin calls (valid, invalid, unauthorised) from 8 threads against the real
  gunicorn app leave, for every kind, a state that some serial order of the calls explains;
- an app killed with SIGKILL and started again comes back with no fault;
- a load test killed with SIGKILL while its chaos schedule has a fault on (so it cannot clear
  it) leaves the fault to switch itself off when its TTL ends (slow: the TTL is the window plus
  a 30 s margin).
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import pytest
import requests

from harness_common.faults.client import FaultClient
from stack.procs import stop_pid, wait_until
from tests.helpers import fault_active, in_threads
from tests.reliability.support import REPO, spawn_app

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

KINDS = ("latency", "error", "abort")
CALLS, THREADS = 1000, 8


@dataclass
class Call:
    """One admin call as a thread made it: what it asked, when, and the answer."""

    method: str
    path: str
    body: object
    expect: int        # the status its input deserves: 200, 400 (invalid) or 401 (bad token)
    sent: float        # perf_counter before sending ...
    done: float = 0.0  # ... and after the answer
    status: int = 0

    def touches(self, kind: str) -> bool:
        """True when this (accepted) call changes `kind`'s state."""
        return self.method in ("PUT", "DELETE") and self.path in (f"/{kind}", "")

    def effect(self, kind: str) -> dict | None:
        """The state of `kind` right after this call: its params, or None (off)."""
        return dict(self.body) if self.method == "PUT" else None


def random_call(rng: random.Random, serial: int) -> tuple[str, str, object, int]:
    """(method, path, body, expected status) of one random admin call (401: send a bad token)."""
    kind = rng.choice(KINDS)
    roll = rng.random()
    common = {"probability": round(rng.uniform(0.01, 1.0), 4), "ttl_s": rng.randint(600, 3600)}
    if roll < 0.40:  # a valid PUT whose params identify it (delay/status/hang differ per call)
        body = {"latency": {"delay_ms": serial, "jitter_ms": rng.randint(0, 50)},
                "error": {"status": rng.randint(500, 599), "message": f"call {serial}"},
                "abort": {"mode": rng.choice(["reset", "hang"]),
                          "hang_s": rng.randint(1, 60)}}[kind]
        return "PUT", f"/{kind}", {**body, **common}, 200
    if roll < 0.65:  # an invalid PUT: each is refused by a different rule
        bad = rng.choice([
            {"delay_ms": -1}, {"delay_ms": 30_001}, {"status": 404}, {"probability": 1.5},
            {"ttl_s": 0}, {"ttl_s": 3601}, {"routes": ["no-slash"]}, {"routes": []},
            {"unknown": 1}, {"kind": "other"}, {"mode": "explode"}, {"hang_s": 61},
            {"message": ""}, {"delay_ms": "fast"}, {"probability": float("nan")},
        ])
        if "delay_ms" not in bad and kind == "latency":
            bad["delay_ms"] = 5  # so the rule under test, not a missing field, refuses it
        return "PUT", f"/{kind}", {**bad, "ttl_s": bad.get("ttl_s", 600)}, 400
    if roll < 0.70:
        return "PUT", "/teleport", {"delay_ms": 5}, 400
    if roll < 0.75:
        return "PUT", f"/{kind}", "[not json", 400
    if roll < 0.80:  # a valid body with a wrong token must change nothing
        return "PUT", f"/{kind}", {"delay_ms": 1, "status": 500}, 401
    if roll < 0.90:
        return "DELETE", f"/{kind}", None, 200
    if roll < 0.93:
        return "DELETE", "", None, 200
    return "GET", "", None, 200


def run_calls(url: str, token: str, seed: int) -> list[Call]:
    """CALLS random calls from THREADS threads; every call's interval and status."""
    calls: list[Call] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        rng = random.Random(seed * 100 + index)
        mine = []
        with requests.Session() as session:
            for i in range(CALLS // THREADS):
                serial = index * 1000 + i  # unique (and a valid delay_ms): identifies a PUT
                method, path, body, expect = random_call(rng, serial)
                headers = {"Authorization": f"Bearer {'wrong' if expect == 401 else token}"}
                # json.dumps, not requests' json=: it refuses NaN, which a client may still send
                data = body if isinstance(body, str) else json.dumps(body)
                kwargs = {"data": data if body is not None else None,
                          "headers": {**headers, "Content-Type": "application/json"}}
                call = Call(method, path, body, expect, time.perf_counter())
                answer = session.request(method, f"{url}/admin/faults{path}", timeout=10,
                                         **kwargs)
                call.done, call.status = time.perf_counter(), answer.status_code
                mine.append(call)
        with lock:
            calls.extend(mine)

    in_threads(THREADS, worker)
    return calls


def possible_final_states(calls: list[Call], kind: str) -> list[dict | None]:
    """Every state of `kind` that some serial order consistent with real time leaves.

    A call can be the last one applied unless another call on the same kind started after it
    had answered (that one is certainly ordered after it). With no accepted call, the kind was
    never switched on.
    """
    touching = [c for c in calls if c.status == 200 and c.touches(kind)]
    if not touching:
        return [None]
    last = [c for c in touching if not any(o.sent > c.done for o in touching)]
    return [c.effect(kind) for c in last]


@pytest.fixture
def shared_app(app_server):
    """The session's app, with no fault on before and after the test."""
    FaultClient(app_server.url, app_server.token).clear()
    yield app_server
    FaultClient(app_server.url, app_server.token).clear()


def test_a_thousand_random_fault_calls_from_eight_threads_leave_a_state_a_serial_order_explains(
        shared_app):
    app = shared_app
    seed = int(os.environ.get("RELIABILITY_SEED", "7"))
    calls = run_calls(app.url, app.token, seed)
    assert len(calls) == CALLS

    # every call got the answer its input deserves: never a 500
    wrong = [(c.method, c.path, c.body, c.status) for c in calls if c.status != c.expect]
    assert not wrong, wrong[:10]
    assert sum(c.status == 400 for c in calls) > 200 and sum(c.status == 401 for c in calls) > 20

    # the final state of each kind is the effect of one of the calls that may have come last
    listing = FaultClient(app.url, app.token).list()
    final = {f["kind"]: f for f in listing}
    assert len(final) == len(listing), listing  # never two faults of one kind
    for kind in KINDS:
        candidates = possible_final_states(calls, kind)
        if kind not in final:
            assert None in candidates, (kind, candidates)
            continue
        shown = {k: v for k, v in final[kind].items()
                 if k not in ("kind", "routes", "started_at", "expires_at", "remaining_s")}
        params = [c for c in candidates if c is not None]
        assert any(all(shown[k] == v for k, v in p.items()) for p in params), (kind, shown,
                                                                              params)
    # and the metric says the same as the API
    active = fault_active(app.url)
    assert {k for k, v in active.items() if v == 1.0} == set(final), (active, final)


def test_an_app_killed_with_sigkill_comes_back_with_no_fault(start_app, respawn):
    app = start_app()
    faults = FaultClient(app.url, app.token)
    faults.set("latency", delay_ms=2000, ttl_s=3600)
    faults.set("error", status=503, ttl_s=3600)
    faults.set("abort", mode="reset", probability=0.5, ttl_s=3600)
    assert {f["kind"] for f in faults.list()} == set(KINDS)

    os.killpg(app.proc.pid, signal.SIGKILL)
    app.proc.popen.wait(timeout=10)
    respawn(spawn_app(app.port, app.token, app.workdir / "app-restarted.log"))

    assert faults.list() == []
    assert set(fault_active(app.url).values()) == {0.0}
    started = time.monotonic()
    answer = requests.get(app.url + "/api/projects", timeout=10)
    assert answer.status_code == 200 and time.monotonic() - started < 1.5  # no 2 s delay


@pytest.mark.slow
def test_a_load_test_killed_with_sigkill_leaves_its_fault_to_end_by_its_ttl(start_app, tmp_path):
    app = start_app()
    schedule = tmp_path / "schedule.yaml"
    # the window is 3 s, so the TTL the schedule sends is 3 s + the 30 s margin
    schedule.write_text("- {at: 0.5s, set: latency, params: {delay_ms: 5}, for: 3s}\n")
    env = {**os.environ, "FAULT_ADMIN_TOKEN": app.token, "REPORTS_DIR": str(tmp_path / "r")}
    with open(tmp_path / "locust.log", "ab") as log:
        locust = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(REPO / "loadtests" / "locustfile.py"),
             "--headless", "--host", app.url, "-u", "2", "-r", "2", "-t", "60s",
             "--chaos-schedule", str(schedule), "--run-id", "killed"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    faults = FaultClient(app.url, app.token)
    try:
        wait_until(lambda: fault_active(app.url).get("latency") == 1.0, 30,
                   "the schedule's latency fault at the app")
        os.killpg(locust.pid, signal.SIGKILL)  # no handler runs: nothing can clear the fault
        locust.wait(timeout=10)
    finally:
        if locust.poll() is None:
            stop_pid(locust.pid, popen=locust)

    (fault,) = faults.list()
    set_at = datetime.fromisoformat(fault["started_at"]).timestamp()
    expires = datetime.fromisoformat(fault["expires_at"]).timestamp()
    assert expires - set_at == pytest.approx(33, abs=1)
    time.sleep(max(0.0, set_at + 4.5 - time.time()))
    assert [f["kind"] for f in faults.list()] == ["latency"], "still on after its window"

    wait_until(lambda: fault_active(app.url).get("latency") == 0.0, 45,
               "the fault to switch itself off")
    ended = time.time()
    assert faults.list() == []
    # it ended by its TTL: not before the expiry (second resolution), and promptly after it
    assert expires - 1 <= ended <= expires + 5, (set_at, expires, ended)
    assert not (tmp_path / "r" / "killed" / "run.json").exists()  # nothing ran after the kill
