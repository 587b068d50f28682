"""Bad input everywhere: every edge of the harness refuses it clearly and changes nothing.

One table feeds malformed syntax, wrong types, huge values, unknown fields, non-UTF-8 bytes
and oversized documents to each edge that takes user input: the SLO spec loader, the
experiment loader, the chaos-schedule loader, the app's fault admin API, and the Telegram
sandbox (its Bot API and its control API). Each row names a fragment the error must contain
(the field or the problem), and each edge's adapter also checks that nothing changed: loaders
write nothing next to the file, the app's faults and the sandbox's messages and fault stay
as they were. The Bot API accepts unknown parameters, as Telegram does, so it has no such row.

Property-based tests (hypothesis) add: random admin API requests never get a 500, agree with
the fault model's own validation, and change nothing when refused; random in-range values of
each explicit SLO kind always load, exactly, and the compact form means the same as the
explicit one (tests/test_slo_spec.py already covers the loader's refusals of random input).
"""

import copy
import functools
import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness_common.errors import FaultValidationError
from harness_common.faults.model import KINDS, parse_fault
from loadtests.errors import ScheduleError
from loadtests.schedule import load_schedule
from slo.errors import SpecError
from slo.experiment.schema import ExperimentError, load_experiment
from slo.spec import load_spec, parse_spec
from stack.telegram_sandbox import create_app as sandbox_app
from target_app import create_app
from tests.conftest import fake_bot_token

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
SPEC = (REPO / "slo" / "slos.yaml").read_bytes()
EXPERIMENT = (REPO / "slo" / "experiments" / "smoke.yaml").read_bytes()
SCHEDULE = (REPO / "loadtests" / "schedules" / "latency-then-errors.yaml").read_bytes()
TOKEN = "reliability-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BOT = fake_bot_token()
CHAT = "-1001234567890"
BIG_INT = b"1" * 5000
NOT_UTF8 = b"\xff\xfe"


def replaced(doc: bytes, old: bytes, new: bytes) -> bytes:
    """`doc` with its first `old` replaced (the row's one change to a good document)."""
    assert old in doc, old
    return doc.replace(old, new, 1)


def padded(doc: bytes, size: int) -> bytes:
    """A good YAML document made larger than `size` by a comment."""
    return b"# " + b"x" * size + b"\n" + doc


# ------------------------------------------------------------------ one adapter per edge

def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def refused(tmp_path: Path, error: type[Exception], load, path: Path) -> str:
    """Load `path` with `load`; the message of the `error` it must raise (the folder must not
    change)."""
    before = _files(tmp_path)
    with pytest.raises(error) as caught:
        load(path)
    assert _files(tmp_path) == before
    return str(caught.value)


def spec_error(tmp_path: Path, data: bytes) -> str:
    """Load `data` as slos.yaml; the SpecError message."""
    path = tmp_path / "slos.yaml"
    path.write_bytes(data)
    return refused(tmp_path, SpecError, load_spec, path)


def experiment_error(tmp_path: Path, data: bytes) -> str:
    """Load `data` as experiments/x.yaml next to the default spec; the ExperimentError."""
    (tmp_path / "experiments").mkdir()
    shutil.copyfile(REPO / "slo" / "slos.yaml", tmp_path / "slos.yaml")
    path = tmp_path / "experiments" / "x.yaml"
    path.write_bytes(data)
    return refused(tmp_path, ExperimentError, load_experiment, path)


def schedule_error(tmp_path: Path, data: bytes) -> str:
    """Load `data` as a chaos schedule; the ScheduleError message."""
    path = tmp_path / "schedule.yaml"
    path.write_bytes(data)
    return refused(tmp_path, ScheduleError, load_schedule, path)


def admin_error(_tmp_path: Path, data: bytes) -> str:
    """PUT `data` to /admin/faults/latency; the error (faults and counters must not change)."""
    app = create_app({"TESTING": True, "FAULT_ADMIN_TOKEN": TOKEN, "BASELINE_DELAY_MS": (0, 0)})
    client = app.test_client()
    assert client.put("/admin/faults/error", json={"status": 503, "probability": 0.1},
                      headers=AUTH).status_code == 200
    registry = app.extensions["fault_registry"]
    before = registry.active()
    response = client.put("/admin/faults/latency", data=data, headers=AUTH,
                          content_type="application/json")
    assert response.status_code in (400, 413), response.get_data()
    assert registry.active() == before
    metrics = app.extensions["metrics"].registry
    assert metrics.get_sample_value("app_fault_active", {"kind": "latency"}) == 0.0
    registry.close()
    return response.get_json()["error"]


def _sandbox():
    app = sandbox_app({"TESTING": True, "DATA_PATH": None})
    client = app.test_client()
    assert client.post(f"/bot{BOT}/sendMessage",
                       json={"chat_id": CHAT, "text": "kept"}).status_code == 200
    assert client.put("/sandbox/faults", json={"mode": "500", "count": 5,
                                               "methods": ["getMe"]}).status_code == 200
    return app, client


def _sandbox_state(client) -> tuple:
    fault = client.get("/sandbox/faults").get_json()["fault"]
    return (client.get("/sandbox/messages").get_json()["messages"],
            {k: v for k, v in fault.items() if k not in ("remaining_s", "expires_in_s")})


def sandbox_send_error(content_type: str):
    """An adapter: POST `data` as sendMessage with this content type; Telegram's description."""

    def send(_tmp_path: Path, data: bytes) -> str:
        _app, client = _sandbox()
        before = _sandbox_state(client)
        response = client.post(f"/bot{BOT}/sendMessage", data=data, content_type=content_type)
        assert response.status_code in (400, 413), response.get_data()
        body = response.get_json()
        assert body["ok"] is False and body["error_code"] == response.status_code
        assert _sandbox_state(client) == before
        return body["description"]

    return send


def sandbox_fault_error(_tmp_path: Path, data: bytes) -> str:
    """PUT `data` to /sandbox/faults; the error (messages and the fault in force unchanged)."""
    _app, client = _sandbox()
    before = _sandbox_state(client)
    response = client.put("/sandbox/faults", data=data, content_type="application/json")
    assert response.status_code in (400, 413), response.get_data()
    assert _sandbox_state(client) == before
    return response.get_json()["error"]


send_json = sandbox_send_error("application/json")
send_form = sandbox_send_error("application/x-www-form-urlencoded")
GOOD_SEND = json.dumps({"chat_id": CHAT, "text": "hello"}).encode()
GOOD_FAULT = b'{"mode": "429", "count": 2, "retry_after": 1}'

# (edge, category, input, fragment the error must contain)
ROWS = [
    # malformed syntax
    ("spec", "malformed", replaced(SPEC, b"slos:", b"slos: ["), "invalid YAML"),
    ("experiment", "malformed", replaced(EXPERIMENT, b"spawn_rate: 10", b"spawn_rate: [10"),
     "invalid YAML"),
    ("schedule", "malformed", replaced(SCHEDULE, b"for: 30s", b"for: [30s"), "invalid YAML"),
    ("schedule", "malformed", b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ("schedule", "malformed", b"- {at: 1s, at: 2s, set: latency, params: {delay_ms: 5}, "
                              b"for: 2s}\n", "duplicate key 'at'"),
    ("admin API", "malformed", b'{"delay_ms": 100', "body: is not valid JSON"),
    ("sandbox control", "malformed", GOOD_FAULT[:-1], "body: expected a JSON object"),
    # wrong types
    ("spec", "wrong type", replaced(SPEC, b"objective_percent: 95", b"objective_percent: '95'"),
     "objective_percent"),
    ("spec", "wrong type", replaced(SPEC, b"window: 30d", b"window: [30d]"), "window"),
    ("experiment", "wrong type", replaced(EXPERIMENT, b"duration: 20s", b"duration: [20]"),
     "phases[0].duration"),
    ("experiment", "wrong type", replaced(EXPERIMENT, b"users: 10", b"users: many"), "users"),
    ("schedule", "wrong type", replaced(SCHEDULE, b"at: 10s", b"at: [10]"), "steps[0].at"),
    ("schedule", "wrong type", replaced(SCHEDULE, b"{status: 503", b"{status: x503"),
     "steps[1].params.status"),
    ("admin API", "wrong type", b'{"delay_ms": "fast"}', "delay_ms"),
    ("admin API", "wrong type", b'["delay_ms", 100]', "body: must be a JSON object"),
    ("sandbox control", "wrong type", b'{"mode": "429", "count": "many"}', "count"),
    ("sandbox Bot API (JSON)", "wrong type", b'{"chat_id": [1], "text": "x"}', "chat not found"),
    # huge values
    ("spec", "huge value", replaced(SPEC, b"threshold_ms: 300", b"threshold_ms: 1e12"),
     "threshold_ms"),
    ("spec", "huge value", replaced(SPEC, b"threshold_ms: 300", b"threshold_ms: " + BIG_INT),
     "more than 4300 digits"),
    ("experiment", "huge value", replaced(EXPERIMENT, b"users: 10", b"users: 100000000"),
     "load.users: must be <= 1000"),
    ("experiment", "huge value", replaced(EXPERIMENT, b"users: 10", b"users: " + BIG_INT),
     "more than 4300 digits"),
    ("schedule", "huge value", replaced(SCHEDULE, b"at: 10s", b"at: 99999999999999999999"),
     "within the longest load test"),
    ("schedule", "huge value", replaced(SCHEDULE, b"delay_ms: 400", b"delay_ms: 400000000"),
     "steps[0].params.delay_ms"),
    ("schedule", "huge value", replaced(SCHEDULE, b"at: 10s", b"at: " + BIG_INT),
     "more than 4300 digits"),
    ("admin API", "huge value", b'{"delay_ms": 1000000000000}', "delay_ms"),
    ("admin API", "huge value", b'{"delay_ms": 5, "ttl_s": 1e400}', "ttl_s"),
    ("admin API", "huge value", b'{"delay_ms": 5, "routes": [' + b",".join([b'"/a"'] * 500)
     + b"]}", "routes"),
    ("sandbox control", "huge value", b'{"mode": "429", "duration_s": 1e9}', "duration_s"),
    ("sandbox Bot API (JSON)", "huge value",
     json.dumps({"chat_id": CHAT, "text": "x" * 5000}).encode(), "message is too long"),
    # unknown fields
    ("spec", "unknown field", replaced(SPEC, b"window: 30d", b"window: 30d\ncolour: red"),
     "colour: unknown field"),
    ("experiment", "unknown field", replaced(EXPERIMENT, b"profile: fast",
                                             b"profile: fast\ncolour: red"),
     "colour: unknown field"),
    ("schedule", "unknown field", replaced(SCHEDULE, b"for: 30s", b"for: 30s\n  colour: red"),
     "steps[0].colour: unknown field"),
    ("admin API", "unknown field", b'{"delay_ms": 5, "colour": "red"}', "colour: unknown field"),
    ("sandbox control", "unknown field", b'{"mode": "429", "colour": "red"}', "colour"),
    # bytes that are not UTF-8
    ("spec", "not UTF-8", replaced(SPEC, b"portfolio-app", b"portfolio" + NOT_UTF8),
     "not valid UTF-8"),
    ("experiment", "not UTF-8", replaced(EXPERIMENT, b"name: smoke", b"name: sm" + NOT_UTF8),
     "not valid UTF-8"),
    ("schedule", "not UTF-8", replaced(SCHEDULE, b"set: latency", b"set: lat" + NOT_UTF8),
     "not valid UTF-8"),
    ("admin API", "not UTF-8", b'{"delay_ms": 5, "routes": ["/' + NOT_UTF8 + b'"]}',
     "is not valid JSON"),
    ("sandbox control", "not UTF-8", b'{"mode": "' + NOT_UTF8 + b'"}', "expected a JSON object"),
    ("sandbox Bot API (form)", "not UTF-8", f"chat_id={CHAT}&text=%ff%fe".encode(),
     "strings must be encoded in UTF-8"),
    ("sandbox Bot API (form)", "not UTF-8", f"chat_id={CHAT}&text=".encode() + NOT_UTF8,
     "strings must be encoded in UTF-8"),
    # oversized documents and bodies
    ("spec", "oversized", padded(SPEC, 2 * 1024 * 1024), "larger than 1024 KiB"),
    ("experiment", "oversized", padded(EXPERIMENT, 2 * 1024 * 1024), "larger than 1024 KiB"),
    ("schedule", "oversized", padded(SCHEDULE, 300 * 1024), "larger than 256 KiB"),
    ("admin API", "oversized", b'{"delay_ms": 5, "message": "' + b"x" * 20_000 + b'"}',
     "larger than 16384 bytes"),
    ("sandbox control", "oversized", b'{"mode": "429", "pad": "' + b"x" * 70_000 + b'"}',
     "413 Request Entity Too Large"),
    ("sandbox Bot API (JSON)", "oversized",
     json.dumps({"chat_id": CHAT, "text": "x" * 70_000}).encode(), "Request Entity Too Large"),
]

EDGES = {
    "spec": spec_error,
    "experiment": experiment_error,
    "schedule": schedule_error,
    "admin API": admin_error,
    "sandbox control": sandbox_fault_error,
    "sandbox Bot API (JSON)": send_json,
    "sandbox Bot API (form)": send_form,
}


def test_the_table_covers_every_category_for_every_file_loader_and_api():
    covered = {(edge, category) for edge, category, _, _ in ROWS}
    for edge in ("spec", "experiment", "schedule", "admin API", "sandbox control"):
        for category in ("malformed", "wrong type", "huge value", "unknown field", "not UTF-8",
                         "oversized"):
            assert (edge, category) in covered, (edge, category)


@pytest.mark.parametrize(("edge", "category", "data", "fragment"), ROWS,
                         ids=[f"{e}-{c}-{i}" for i, (e, c, _, _) in enumerate(ROWS)])
def test_bad_input_is_refused_with_an_error_naming_the_problem_and_changes_nothing(
        tmp_path, edge, category, data, fragment):
    message = EDGES[edge](tmp_path, data)
    assert fragment in message, message
    assert "Traceback" not in message and len(message) < 2000, message


def test_the_unchanged_documents_of_the_table_are_accepted(tmp_path):
    """The rows break good documents: those documents themselves must load (else the table
    would test nothing but a broken base)."""
    assert load_spec(REPO / "slo" / "slos.yaml").slos
    assert load_experiment(REPO / "slo" / "experiments" / "smoke.yaml")[0].phases
    assert load_schedule(REPO / "loadtests" / "schedules" / "latency-then-errors.yaml").actions
    app = create_app({"TESTING": True, "FAULT_ADMIN_TOKEN": TOKEN})
    assert app.test_client().put("/admin/faults/latency", data=b'{"delay_ms": 100}',
                                 headers=AUTH, content_type="application/json").status_code == 200
    app.extensions["fault_registry"].close()
    _app, client = _sandbox()
    assert client.post(f"/bot{BOT}/sendMessage", data=GOOD_SEND,
                       content_type="application/json").status_code == 200
    assert client.post(f"/bot{BOT}/sendMessage", data=f"chat_id={CHAT}&text=h%C3%A9".encode(),
                       content_type="application/x-www-form-urlencoded").status_code == 200
    assert client.put("/sandbox/faults", data=GOOD_FAULT,
                      content_type="application/json").status_code == 200


# ------------------------------------------------------------------ properties: the admin API

@functools.cache
def _admin():
    """One app for every example (building one per example would leak reaper threads)."""
    app = create_app({"TESTING": True, "FAULT_ADMIN_TOKEN": TOKEN, "BASELINE_DELAY_MS": (0, 0)})
    return app, app.test_client()


FIELDS = ["delay_ms", "jitter_ms", "probability", "routes", "ttl_s", "status", "message",
          "mode", "hang_s", "kind"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**12),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
                         st.sampled_from(["reset", "hang", "latency", "*", "/api/*"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=4),
    json_values,
)
url_kinds = st.sampled_from([*KINDS, "cpu", "LATENCY", "error%00", "a" * 300])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=url_kinds, body=bodies)
def test_random_admin_requests_never_fail_with_500_and_agree_with_the_fault_model(kind, body):
    app, client = _admin()
    registry = app.extensions["fault_registry"]
    registry.clear()
    client.put("/admin/faults/error", json={"status": 502, "ttl_s": 3600}, headers=AUTH)
    before = registry.active()

    response = client.put(f"/admin/faults/{kind}", data=json.dumps(body), headers=AUTH,
                          content_type="application/json")  # json= would send no body for None
    try:
        expected = parse_fault(kind, body)
    except FaultValidationError as err:
        expected, field = None, err.field
    if expected is None:
        assert response.status_code == 400, (response.status_code, response.get_data())
        # a body that is no object may be refused before the URL's kind is looked at
        allowed = {field} if isinstance(body, dict) else {field, "body"}
        assert response.get_json()["field"] in allowed, (response.get_json(), field)
        assert registry.active() == before  # refused: nothing changed
    else:
        assert response.status_code == 200, response.get_data()
        assert registry.get(kind).spec == expected  # exactly what the model says
        others = [f for f in registry.active() if f.kind != kind]
        assert others == [f for f in before if f.kind != kind]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), data=st.binary(max_size=200))
def test_random_bytes_to_the_admin_api_are_refused_without_a_500_and_change_nothing(kind, data):
    app, client = _admin()
    registry = app.extensions["fault_registry"]
    registry.clear()
    client.put("/admin/faults/error", json={"status": 502, "ttl_s": 3600}, headers=AUTH)
    before = registry.active()
    response = client.put(f"/admin/faults/{kind}", data=data, headers=AUTH,
                          content_type="application/json")
    assert response.status_code in (200, 400), response.get_data()
    if response.status_code == 400:
        assert registry.active() == before
        assert response.get_json()["field"]


# ------------------------------------------------------------------ properties: the spec loader

BASE = yaml.safe_load(SPEC)
percent = st.decimals(min_value="0.01", max_value="99.99", places=2).map(float)
threshold_ms = st.integers(1, 3_600_000)


def spec_with(slo: dict):
    """The default spec's top level with one SLO."""
    doc = copy.deepcopy(BASE)
    doc["slos"] = [{"name": "generated", **slo}]
    return parse_spec(yaml.safe_dump(doc, sort_keys=False), "generated.yaml").slos[0]


@settings(max_examples=100, deadline=None)
@given(p=percent, ms=threshold_ms, q=st.integers(1, 99))
def test_any_in_range_value_of_each_explicit_kind_loads_exactly(p, ms, q):
    latency = spec_with({"kind": "latency_percentile", "percentile": q, "threshold_ms": ms})
    assert latency.objectives[0].target == pytest.approx(ms / 1000) and latency.key is False
    ratio = spec_with({"kind": "latency_ratio", "threshold_ms": ms, "objective_percent": p})
    assert ratio.objectives[0].target == pytest.approx(p / 100)
    assert ratio.threshold_s == pytest.approx(ms / 1000)
    errors = spec_with({"kind": "error_ratio", "max_percent": p})
    assert (errors.objectives[0].op, errors.objectives[0].target) == ("<=", pytest.approx(p / 100))
    available = spec_with({"kind": "availability", "objective_percent": p})
    assert available.objectives[0].target == pytest.approx(p / 100)
    assert available.objectives[0].op == ">="


@settings(max_examples=100, deadline=None)
@given(p=percent, ms=threshold_ms, q=st.integers(1, 99))
def test_the_compact_form_means_what_the_explicit_form_means_for_any_value(p, ms, q):
    assert spec_with({"objective": f"ratio <= {p}%"}) == spec_with(
        {"kind": "error_ratio", "max_percent": p})
    assert spec_with({"objective": f"availability >= {p}%"}) == spec_with(
        {"kind": "availability", "objective_percent": p})
    assert spec_with({"objective": f"p({q}) <= {ms}ms"}) == spec_with(
        {"kind": "latency_percentile", "percentile": q, "threshold_ms": ms})


# ------------------------------------------------------------------ inputs that exhaust memory

BILLION_LAUGHS = (b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
                  + b"".join(f"{chr(98 + i)}: &{chr(98 + i)} [".encode()
                             + b",".join([f"*{chr(97 + i)}".encode()] * 9) + b"]\n"
                             for i in range(8)))


def load_run_record(path: Path) -> None:
    from loadtests.record import load_record

    load_record(path)


def load_baseline(path: Path) -> None:
    from slo.cli import main

    code = main(["check", "--last", "1m", "--baseline", str(path), "--no-settle",
                 "--prometheus", "http://127.0.0.1:9", "--retries", "1"])
    assert code == 2


LOADERS = {
    "spec": (SpecError, load_spec),
    "experiment": (ExperimentError, load_experiment),
    "schedule": (ScheduleError, load_schedule),
}


@pytest.mark.parametrize("edge", sorted(LOADERS))
def test_a_stream_like_dev_zero_is_refused_by_size_not_read_until_memory_runs_out(edge):
    error, load = LOADERS[edge]
    with pytest.raises(error, match="larger than"):
        load(Path("/dev/zero"))


def test_a_run_record_or_baseline_that_is_a_stream_is_refused_by_size(capsys):
    from loadtests.errors import RecordError

    with pytest.raises(RecordError, match="larger than"):
        load_run_record(Path("/dev/zero"))
    load_baseline(Path("/dev/zero"))
    assert "larger than" in capsys.readouterr().err


@pytest.mark.parametrize("edge", sorted(LOADERS))
def test_a_billion_laughs_document_is_refused_before_it_expands(tmp_path, edge):
    """435 bytes of nested aliases took 2.2 GB in the chaos-schedule loader: aliases are refused
    by every loader."""
    assert len(BILLION_LAUGHS) < 600
    error, load = LOADERS[edge]
    path = tmp_path / "laughs.yaml"
    path.write_bytes(BILLION_LAUGHS)
    with pytest.raises(error, match=r"YAML aliases \(\*a\) are not allowed"):
        load(path)
