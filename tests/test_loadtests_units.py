"""Load tests, the parts that need no server: scenarios, schedules, records, metrics, chaos ledger.

None of these modules imports Locust (which would monkey-patch this pytest process with gevent);
the shape's tick() runs in a subprocess for the same reason.
"""

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from harness_common.buckets import DEFAULT_BUCKETS
from harness_common.durations import format_duration, parse_duration
from harness_common.errors import FaultError, FaultValidationError
from harness_common.faults.model import parse_fault
from loadtests.chaos import ChaosController
from loadtests.client_metrics import ClientMetrics, build_registry
from loadtests.errors import RecordError, ScenarioError, ScheduleError
from loadtests.record import (
    EndpointStats,
    FaultWindow,
    RunRecord,
    RunStats,
    ScenarioInfo,
    find_latest,
    load_record,
    new_run_id,
    save_record,
)
from loadtests.scenarios import SCENARIOS, build_plan
from loadtests.schedule import compile_steps, load_schedule, parse_steps
from loadtests.webui import form_to_body, host_allowed, same_origin

REPO = Path(__file__).resolve().parent.parent


# -- durations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [
    ("90", 90), (45, 45), ("30s", 30), ("2m", 120), ("1h30m", 5400), ("1m30.5s", 90.5),
    ("-5s", -5),
])
def test_durations_are_read_the_way_locust_writes_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5x", "1m oops", True, None, float("inf")])
def test_malformed_durations_are_rejected(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_durations_print_compactly():
    assert [format_duration(s) for s in (45, 90, 3600, 0.5)] == ["45s", "1m30s", "1h", "0.5s"]


# -- scenarios ---------------------------------------------------------------------------------
def test_every_scenario_builds_with_its_defaults_and_ends():
    for name, scenario in SCENARIOS.items():
        plan = build_plan(name)
        assert plan.duration_s == scenario.default_duration_s
        assert plan.tick(0) is not None
        assert plan.tick(plan.duration_s) is None


def test_steady_holds_its_users_until_the_duration_with_a_fake_clock():
    plan = build_plan("steady", users=10, duration="60s")
    assert [plan.tick(t) for t in (0, 30, 59.9, 60)] == [(10, 2.0), (10, 2.0), (10, 2.0), None]


def test_step_adds_users_in_equal_steps():
    plan = build_plan("step", users=10, step_users=2, duration="100s")
    ticks = [plan.tick(t)[0] for t in (0, 19.9, 20, 40, 60, 80, 99)]
    assert ticks == [2, 2, 4, 6, 8, 10, 10]
    assert plan.parameters["step_time_s"] == 20


def test_spike_jumps_to_the_spike_users_and_back():
    plan = build_plan("spike", users=5, duration="90s")
    assert plan.tick(10) == (5, 1.0)
    assert plan.tick(31) == (15, 10.0)   # spike at 30 s for 15 s, the jump spawned in a second
    assert plan.tick(46)[0] == 5


def test_ramp_spawns_at_users_over_ramp_time():
    plan = build_plan("ramp", users=30, duration="120s", ramp_time="60s")
    assert plan.tick(0) == (30, 0.5)


def test_soak_defaults_to_half_an_hour():
    assert build_plan("soak").duration_s == 1800


def test_web_form_strings_are_accepted():
    plan = build_plan("step", users="6", spawn_rate="3", duration="6", step_users="3")
    assert plan.stages[0].users == 3 and plan.duration_s == 6


@pytest.mark.parametrize("kwargs, message", [
    ({"scenario": "bogus"},
     "unknown scenario 'bogus'; use one of: steady, ramp, step, spike, soak"),
    ({"scenario": "steady", "users": 0}, "users must be between 1 and 10000"),
    ({"scenario": "steady", "users": "ten"}, "users must be a whole number"),
    ({"scenario": "steady", "duration": "forever"}, "duration must be a duration"),
    ({"scenario": "steady", "spawn_rate": 0}, "spawn_rate must be between"),
    ({"scenario": "step", "users": 10, "step_users": 11}, "step_users must be between 1 and users"),
    ({"scenario": "step", "users": 10, "step_users": 2, "step_time": "30s", "duration": "60s"},
     "5 steps of 30s need 2m30s, more than duration 1m"),
    ({"scenario": "spike", "users": 10, "spike_users": 5}, "spike_users must be above users"),
    ({"scenario": "spike", "spike_at": "80s", "duration": "90s"}, "the spike ends at 1m35s"),
    ({"scenario": "ramp", "ramp_time": "3m", "duration": "2m"}, "ramp_time must be > 0 and <="),
])
def test_bad_scenario_input_is_rejected_with_a_message_naming_it(kwargs, message):
    with pytest.raises(ScenarioError) as err:
        build_plan(kwargs.pop("scenario"), **kwargs)
    assert message in str(err.value)


def test_the_shape_ticks_through_the_plan_then_reports_finished():
    """ScenarioShape with a fake clock, in a subprocess (importing Locust patches with gevent)."""
    script = textwrap.dedent("""
        import json, types
        from loadtests.scenarios import build_plan
        from loadtests.shapes import ScenarioShape
        plan = build_plan("step", users=4, step_users=2, duration="4s")
        env = types.SimpleNamespace(slo_harness=types.SimpleNamespace(plan_for_run=lambda: plan))
        shape = ScenarioShape()
        shape.runner = types.SimpleNamespace(environment=env)
        shape.reset_time()
        out = []
        for t in (0, 1.9, 2.0, 3.9, 4.0):
            shape.get_run_time = lambda t=t: t
            out.append([shape.tick(), shape.finished])
        print(json.dumps(out))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=60, check=True)
    ticks = json.loads(done.stdout.strip().splitlines()[-1])
    assert ticks == [[[2, 2.0], False], [[2, 2.0], False], [[4, 2.0], False],
                     [[4, 2.0], False], [None, True]]


# -- chaos schedules ---------------------------------------------------------------------------
GOOD = [
    {"at": "10s", "set": "latency", "params": {"delay_ms": 400}, "for": "30s"},
    {"at": "50s", "set": "error", "params": {"status": 503, "probability": 0.2}, "for": "30s"},
    {"at": "70s", "clear": "error"},
]


def schedule_with(index: int, **changes):
    steps = [dict(s) for s in GOOD]
    for key, value in changes.items():
        if value is None:
            steps[index].pop(key, None)
        else:
            steps[index][key] = value
    return steps


def test_a_good_schedule_compiles_into_windows_and_ordered_actions():
    schedule = compile_steps(parse_steps(GOOD, "s.yaml"), "s.yaml")
    assert [(w.kind, w.start_s, w.end_s, w.ttl_s) for w in schedule.windows] == [
        ("latency", 10, 40, 60), ("error", 50, 70, 50)]
    assert [(a.at_s, a.op, a.kind, a.explicit) for a in schedule.actions] == [
        (10, "set", "latency", False), (40, "clear", "latency", False),
        (50, "set", "error", False), (70, "clear", "error", True)]


def test_the_sample_schedule_is_valid():
    schedule = load_schedule(REPO / "loadtests" / "schedules" / "latency-then-errors.yaml")
    assert {w.kind for w in schedule.windows} == {"latency", "error"}


def test_back_to_back_windows_of_one_kind_hand_over():
    steps = [{"at": 0, "set": "latency", "params": {"delay_ms": 1}, "for": 10},
             {"at": 10, "set": "latency", "params": {"delay_ms": 2}, "for": 10}]
    actions = compile_steps(parse_steps(steps)).actions
    assert [(a.at_s, a.op) for a in actions] == [(0, "set"), (10, "clear"), (10, "set"),
                                                 (20, "clear")]


@pytest.mark.parametrize("steps, message", [
    (schedule_with(0, set="latncy"), "s.yaml: steps[0].set: unknown fault kind 'latncy'"),
    (schedule_with(0, at="-5s"), "s.yaml: steps[0].at: must be >= 0"),
    (schedule_with(0, at="soon"), "s.yaml: steps[0].at: expected a duration"),
    (schedule_with(0, **{"for": "0s"}), "s.yaml: steps[0].for: must be > 0"),
    (schedule_with(1, at="20s", set="latency", params={"delay_ms": 5}),
     "s.yaml: steps[0] and steps[1]: latency windows overlap (10s-40s and 20s-50s); start the "
     "second at or after 40s"),
    (schedule_with(0, **{"for": None}), "steps[0]: a `set: latency` step needs `for: <duration>`"),
    (schedule_with(0, params={"delay_ms": 99999}), "steps[0].params.delay_ms: must be <= 30000"),
    (schedule_with(0, params={"delay_ms": 1, "ttl_s": 9}), "steps[0].params.ttl_s: set by the "),
    (schedule_with(0, params={"delay_ms": 1, "delay": 1}),
     "steps[0].params.delay: unknown field; remove it"),
    (schedule_with(0, **{"for": "2h"}), "exceeds the maximum fault TTL of 3600s"),
    (schedule_with(2, clear="everything"), "steps[2].clear: unknown fault kind 'everything'"),
    (schedule_with(2, params={"x": 1}), "steps[2]: `params` and `for` belong to `set` steps"),
    (schedule_with(2, set="error"), "steps[2]: a step needs exactly one of"),
    (schedule_with(0, when="now"), "steps[0].when: unknown field"),
    ({"at": 1}, "s.yaml: expected a list of steps"),
    ([], "s.yaml: the schedule has no steps"),
    (["set latency"], "s.yaml: steps[0]: expected a mapping"),
])
def test_a_malformed_schedule_is_rejected_naming_file_and_step(steps, message):
    with pytest.raises(ScheduleError) as err:
        compile_steps(parse_steps(steps, "s.yaml"), "s.yaml")
    assert message in str(err.value)


def test_a_missing_or_broken_schedule_file_names_the_file(tmp_path):
    with pytest.raises(ScheduleError, match="nope.yaml: no such file; pass the path of a chaos"):
        load_schedule(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- at: 1s\n  set: [latency\n")
    with pytest.raises(ScheduleError, match=r"bad.yaml: line \d+, column \d+: invalid YAML"):
        load_schedule(bad)


# -- chaos ledger ------------------------------------------------------------------------------
class FakeClient:
    """Stands in for FaultClient: records calls, optionally fails."""

    def __init__(self, calls, fail_on=()):
        self.calls = calls
        self.fail_on = fail_on

    def set(self, kind, **params):
        self.calls.append(("set", kind, params.get("ttl_s")))
        if "set" in self.fail_on:
            raise FaultError("PUT /admin/faults/latency -> 401: unauthorized")
        return {"kind": kind, **params}

    def clear(self, kind=None):
        self.calls.append(("clear", kind))
        if "clear" in self.fail_on:
            raise FaultError("cannot reach the app's admin API")
        return [kind] if kind else []


class FakeClock:
    def __init__(self):
        self.now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
        self.mono = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.mono += seconds
        self.now += timedelta(seconds=seconds)

    def monotonic(self):
        return self.mono


def test_the_schedule_runner_sets_and_clears_at_the_scheduled_times():
    clock, calls = FakeClock(), []
    chaos = ChaosController(lambda: FakeClient(calls), clock=clock)
    schedule = compile_steps(parse_steps(GOOD))
    start = clock.now
    chaos.run_schedule(schedule, started=clock.mono, sleep=clock.sleep, monotonic=clock.monotonic)
    assert calls == [("set", "latency", 60), ("clear", "latency"), ("set", "error", 50),
                     ("clear", "error")]
    windows = chaos.windows(start, start + timedelta(seconds=90))
    assert [(w.kind, w.start_offset_s, w.end_offset_s) for w in windows] == [
        ("latency", 10, 40), ("error", 50, 70)]
    assert chaos.open_kinds() == []


def test_cleanup_clears_what_is_still_on_and_reports_a_failure():
    clock, calls = FakeClock(), []
    chaos = ChaosController(lambda: FakeClient(calls), clock=clock)
    chaos.set_fault(parse_fault("latency", {"delay_ms": 5, "ttl_s": 60}), "web-ui")
    assert chaos.open_kinds() == ["latency"]
    assert chaos.cleanup("test stopped") is True
    assert calls[-1] == ("clear", "latency") and chaos.open_kinds() == []

    failing = ChaosController(lambda: FakeClient([], fail_on=("clear",)), clock=clock,
                              sleep=clock.sleep)
    failing.set_fault(parse_fault("error", {"ttl_s": 60}), "schedule")
    assert failing.cleanup("test stopped") is False and failing.cleanup_failed


def test_a_refused_fault_is_recorded_as_not_applied():
    clock = FakeClock()
    chaos = ChaosController(lambda: FakeClient([], fail_on=("set",)), clock=clock)
    with pytest.raises(FaultError):
        chaos.set_fault(parse_fault("latency", {"delay_ms": 5}), "schedule")
    (window,) = chaos.windows(clock.now - timedelta(seconds=1), clock.now + timedelta(seconds=5))
    assert window.applied is False and "401" in window.error


def test_each_window_says_where_its_fault_acted():
    """A fault of the proxy in front of a service never reaches the service's own metrics: the
    record must say where each one acted, so the judge can tell."""
    clock = FakeClock()
    proxy = FakeClient([])
    proxy.backend = "proxy"
    chaos = ChaosController(lambda: proxy, clock=clock)
    chaos.set_fault(parse_fault("error", {"ttl_s": 30}), "schedule")
    (window,) = chaos.windows(clock.now, clock.now + timedelta(seconds=60))
    assert window.backend == "proxy"
    assert FaultWindow.model_validate_json(window.model_dump_json()).backend == "proxy"


def test_windows_are_clipped_to_the_run_and_end_at_ttl_expiry():
    clock = FakeClock()
    chaos = ChaosController(lambda: FakeClient([]), clock=clock)
    chaos.set_fault(parse_fault("latency", {"delay_ms": 5, "ttl_s": 30}), "web-ui")
    start = clock.now + timedelta(seconds=10)   # the run started after the fault was set
    (window,) = chaos.windows(start, start + timedelta(seconds=100))
    assert (window.start_offset_s, window.end_offset_s) == (0, 20)


# -- run records -------------------------------------------------------------------------------
def make_record(run_id="20250101-120000-steady", end_minute=1) -> RunRecord:
    stats = EndpointStats(method="", name="Aggregated", requests=10, failures=1,
                          failure_ratio=0.1, rps=2.0, avg_ms=5, min_ms=1, max_ms=9, p50_ms=4,
                          p95_ms=9, p99_ms=9)
    return RunRecord(
        run_id=run_id, start=datetime(2025, 1, 1, 12, 0, 0, 700_000, tzinfo=UTC),
        end=datetime(2025, 1, 1, 12, end_minute, 0, 300_000, tzinfo=UTC), duration_s=59.6,
        status="completed", target="http://127.0.0.1:5000", scenario=ScenarioInfo(name="steady"),
        stats=RunStats(aggregated=stats))


def test_a_record_round_trips_with_utc_times_to_the_second(tmp_path):
    """Start rounds down and end up, so a window judged from the record holds all the load."""
    path = save_record(make_record(), tmp_path / "run1")
    raw = json.loads(path.read_text())
    assert raw["start"] == "2025-01-01T12:00:00Z" and raw["end"] == "2025-01-01T12:01:01Z"
    loaded = load_record(tmp_path / "run1")
    assert loaded == make_record()
    assert not list((tmp_path / "run1").glob("*.tmp"))


def test_the_latest_record_is_the_one_that_ended_last(tmp_path):
    save_record(make_record("a", end_minute=5), tmp_path / "a")
    save_record(make_record("b", end_minute=2), tmp_path / "b")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "run.json").write_text("{")
    assert find_latest(tmp_path) == tmp_path / "a" / "run.json"
    assert find_latest(tmp_path / "empty") is None
    # an experiment killed with SIGKILL leaves only its Locust record: that one counts too
    save_record(make_record("locust", end_minute=9), tmp_path / "20250101-killed" / "locust")
    assert find_latest(tmp_path) == tmp_path / "20250101-killed" / "locust" / "run.json"


def test_an_unreadable_record_names_the_file_and_field(tmp_path):
    path = save_record(make_record(), tmp_path / "r")
    raw = json.loads(path.read_text())
    del raw["end"]
    path.write_text(json.dumps(raw))
    with pytest.raises(RecordError, match=r"run.json: end: Field required"):
        load_record(path)
    with pytest.raises(RecordError, match=r"missing.json: no such file; pass a run folder"):
        load_record(tmp_path / "missing.json")


def test_run_ids_sort_by_time_and_name_the_scenario():
    assert new_run_id("spike", datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)) == "20250304-050607-spike"
    with pytest.raises(ValueError, match="names a folder"):
        make_record(run_id="../escape")


# -- client metrics ----------------------------------------------------------------------------
def test_client_metrics_use_the_apps_buckets_and_count_outcomes():
    metrics = ClientMetrics()
    metrics.observe("GET", "/", True, 0.004)
    metrics.observe("GET", "/", False, 0.3)
    registry = build_registry(metrics, user_count=lambda: 7)
    get = registry.get_sample_value
    assert get("locust_client_requests_total", {"method": "GET", "name": "/",
                                                "result": "success"}) == 1
    assert get("locust_client_requests_total", {"method": "GET", "name": "/",
                                                "result": "failure"}) == 1
    labels = {"method": "GET", "name": "/"}
    assert get("locust_client_request_duration_seconds_bucket", {**labels, "le": "0.005"}) == 1
    assert get("locust_client_request_duration_seconds_bucket", {**labels, "le": "0.3"}) == 2
    assert get("locust_client_request_duration_seconds_bucket", {**labels, "le": "+Inf"}) == 2
    assert get("locust_client_request_duration_seconds_sum", labels) == pytest.approx(0.304)
    assert get("locust_users") == 7
    text = generate_latest(registry).decode()
    assert all(f'le="{b!r}"' in text for b in map(float, DEFAULT_BUCKETS))


def test_worker_increments_merge_into_the_masters_totals():
    master, worker = ClientMetrics(), ClientMetrics()
    for _ in range(2):
        worker.observe("GET", "/health", True, 0.01)
        master.merge(json.loads(json.dumps(worker.drain())))  # as sent over the wire
    assert worker.drain() is None
    registry = build_registry(master)
    assert registry.get_sample_value("locust_client_request_duration_seconds_count",
                                     {"method": "GET", "name": "/health"}) == 2
    with pytest.raises(ValueError, match="different histogram buckets"):
        ClientMetrics(buckets=(1.0,)).merge(master.snapshot())


# -- web UI helpers ----------------------------------------------------------------------------
@pytest.mark.parametrize("origin, referer, ok", [
    ("http://127.0.0.1:8089", None, True),
    (None, "http://127.0.0.1:8089/chaos?embed=1", True),
    ("http://evil.example", "http://127.0.0.1:8089/", False),
    ("null", None, False),
    (None, None, False),
    ("http://127.0.0.1:9999", None, False),
])
def test_chaos_posts_must_come_from_this_server(origin, referer, ok):
    assert same_origin(origin, referer, "http://127.0.0.1:8089/") is ok


@pytest.mark.parametrize("host, web_host, ok", [
    ("127.0.0.1:8089", "", True),
    ("localhost:8089", "127.0.0.1", True),
    ("[::1]:8089", "", True),
    ("10.0.0.5:8089", "*", True),
    ("locust.internal:8089", "locust.internal", True),
    ("rebind.evil.example:8089", "", False),
    ("rebind.evil.example:8089", "127.0.0.1", False),
    ("127.0.0.1:9999", "", False),
    ("127.0.0.1", "", False),
    ("", "", False),
    (None, "", False),
    ("127.0.0.1:notaport", "", False),
])
def test_chaos_routes_answer_only_a_host_header_naming_this_server(host, web_host, ok):
    assert host_allowed(host, web_host, 8089) is ok


def test_form_fields_become_an_admin_api_body():
    body = form_to_body("latency", {"delay_ms": "250", "jitter_ms": "", "probability": "0.5",
                                    "routes": "/api/*, /", "ttl_s": "60"})
    assert body == {"delay_ms": 250, "probability": 0.5, "routes": ["/api/*", "/"], "ttl_s": 60}
    with pytest.raises(FaultValidationError, match="delay_ms: must be a whole number"):
        form_to_body("latency", {"delay_ms": "fast"})
    with pytest.raises(FaultValidationError, match="sets latency and error faults"):
        form_to_body("abort", {})


# -- the client's truth ------------------------------------------------------------------------
def test_client_latency_is_exact_to_one_percent_per_run_and_per_phase():
    from loadtests.latency import ClientLatency, PhaseSpan

    latency = ClientLatency([PhaseSpan("baseline", 0, 10), PhaseSpan("outage", 10, 20)])
    latency.reset(1000.0)
    for i in range(1000):                     # 0.5 s .. 0.5995 s, evenly: p95 = 0.59475 s
        latency.observe(500 + i * 0.1, at=1015.0)
    for _ in range(100):
        latency.observe(20.0, at=1001.0)
    latency.observe(3.0, at=1030.0)           # after every phase: the run only
    summary = latency.summary()
    assert summary["overall"]["count"] == 1101
    outage = summary["phases"]["outage"]
    assert outage["count"] == 1000
    assert outage["p95_ms"] == pytest.approx(594.75, rel=0.01)
    assert outage["p50_ms"] == pytest.approx(550.0, rel=0.01)
    assert summary["phases"]["baseline"]["p99_ms"] == pytest.approx(20.0, rel=0.01)


def test_client_latency_merges_a_workers_histograms():
    from loadtests.latency import ClientLatency

    master, worker = ClientLatency(), ClientLatency()
    worker.reset(0.0)
    for ms in (10.0, 20.0, 30.0):
        worker.observe(ms, at=1.0)
    master.merge(worker.drain())
    assert worker.drain() is None           # drained: nothing twice
    assert master.summary()["overall"]["count"] == 3
    assert master.summary()["overall"]["max_ms"] == pytest.approx(30.0, rel=0.01)


@pytest.mark.parametrize(("host", "warned", "no_token"), [
    ("http://127.0.0.1:18000", True, None),
    ("http://127.0.0.1:10000/", False, None),
    # not the proxy's address as the stack wrote it (localhost may be ::1): its own backend,
    # without the stack's token, and the page names the address meant (issue 19)
    ("http://localhost:10000/", False, "No admin token for http://localhost:10000: "
     "http://localhost:10000 is not the stack's address: the stack listens on "
     "http://127.0.0.1:10000"),
])
def test_the_chaos_page_says_when_its_faults_never_touch_the_load(tmp_path, monkeypatch, host,
                                                                   warned, no_token):
    """A proxy stack's faults act on PROXY_URL: load sent to TARGET_URL itself goes around
    them, and the page must say so instead of letting a fault look applied."""
    import types

    from flask import Flask

    from loadtests.webui import init_web_ui

    (tmp_path / "env").write_text("FAULT_BACKEND=proxy\nPROXY_URL=http://127.0.0.1:10000\n"
                                  "TARGET_URL=http://127.0.0.1:18000\n"
                                  "FAULT_API_URL=http://127.0.0.1:9\nFAULT_ADMIN_TOKEN=t\n")
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    monkeypatch.delenv("FAULT_API_URL", raising=False)
    chaos = types.SimpleNamespace(list_faults=lambda: [], ledger=[])
    options = types.SimpleNamespace(web_base_path="", web_port=8089, web_host="")
    harness = types.SimpleNamespace(
        chaos=chaos, environment=types.SimpleNamespace(host=host, parsed_options=options,
                                                       runner=None))
    web_ui = types.SimpleNamespace(app=Flask("ui"), auth_required_if_enabled=lambda f: f,
                                   template_args={})
    init_web_ui(web_ui, harness)
    page = web_ui.app.test_client().get("/chaos", headers={"Host": "127.0.0.1:8089"})
    text = " ".join(page.get_data(as_text=True).split())
    assert page.status_code == 200
    assert ("they never touch it" in text) is warned, text[:2000]
    if warned:
        assert (f"These faults act on http://127.0.0.1:10000, but this test's load goes to "
                f"{host}") in text
    assert ("No admin token" in text) is bool(no_token)
    if no_token:
        import html

        assert no_token in html.unescape(text) and "use http://127.0.0.1:10000" in text


def test_the_readmes_endpoints_example_loads():
    """The docs.s inline example had `?` unquoted in a flow mapping: invalid YAML."""
    from loadtests.endpoints import parse_endpoints

    readme = (Path(__file__).resolve().parent.parent / "docs" / "any-service.md").read_text()
    block = readme.split("**Without a locustfile**", 1)[1].split("```yaml\n", 1)[1]
    found = parse_endpoints(block.split("```", 1)[0], "docs/any-service.md")
    assert [e.path for e in found.endpoints] == ["/", "/api/items?page=1", "/api/items/0"]
