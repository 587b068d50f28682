"""The run record: what one load test did, written to reports/<run-id>/run.json when it stops.

The SLO checker reads it (`slo check --run reports/<run-id>/run.json`) and needs only `start`
and `end`; the rest documents the run. Every run writes one, from the web UI or headless,
completed or interrupted. Format (version 1):

    {
      "version": 1,
      "run_id": "20250101-120000-steady",     # also the folder name under reports/
      "start": "2025-01-01T12:00:00Z",         # UTC, to the second (rounded down): the test
      "end": "2025-01-01T12:01:00Z",           #   started, and stopped (rounded up), so the
                                               #   window holds all of the load
      "duration_s": 60.2,
      "status": "completed",                   # or "stopped": ended before the scenario did
                                               #   (Stop button, Ctrl-C, SIGTERM)
      "target": "http://127.0.0.1:5000",
      "mode": "local",                         # or "distributed" (then "workers": N)
      "workers": 0,
      "locust_version": "2.47.0",
      "scenario": {"name": "steady", "parameters": {"users": 10, "spawn_rate": 2.0,
                   "duration_s": 60.0}, "stages": [{"end_s": 60.0, "users": 10,
                   "spawn_rate": 2.0}]},       # name "manual" when no shape ran the test
      "chaos_schedule": "loadtests/schedules/latency-then-errors.yaml",   # or null
      "faults": [                              # every fault window this run had on the app
        {"kind": "latency", "source": "schedule",       # or "web-ui"
         "params": {"delay_ms": 400, ...},              # the fault as sent (with ttl_s)
         "start": "2025-01-01T12:00:10Z", "end": "2025-01-01T12:00:40Z",
         "start_offset_s": 10.0, "end_offset_s": 40.0,  # seconds after `start`
         "applied": true, "error": null,                # applied false: the app refused it
         "backend": "app"}                              # or "proxy": Envoy in front of it
      ],
      "users": [[0.0, 0], [1.0, 4], [5.1, 10]],  # [offset_s, users] whenever the count changed
      "stats": {
        "endpoints": [{"method": "GET", "name": "/api/projects/[id]", "requests": 1200,
                       "failures": 3, "failure_ratio": 0.0025, "rps": 20.0, "avg_ms": 21.3,
                       "min_ms": 3.1, "max_ms": 410.0, "p50_ms": 19, "p95_ms": 44,
                       "p99_ms": 120}, ...],
        "aggregated": {"method": "", "name": "Aggregated", ...same fields...},
        "errors": [{"method": "GET", "name": "/", "error": "HTTPError('503 ...')",
                    "occurrences": 4}]
      },
      "artifacts": {"html": "report.html", "stats_csv": "locust_stats.csv",
                    "failures_csv": "locust_failures.csv",
                    "exceptions_csv": "locust_exceptions.csv"}   # names inside the run folder
    }

      "client_latency": {"overall": {"count": 1200, "p50_ms": 19.2, "p95_ms": 43.7,
                                     "p99_ms": 118.0, "max_ms": 410.2},
                         "phases": {"baseline": {...}}},   # experiments: one per phase
                                               # (exact to 0.1%: loadtests/latency.py)

`stats` percentiles are Locust's own (response times rounded to 2 significant digits), in ms;
`client_latency` keeps every response time in an HDR histogram, exact to 0.1%.
The module is pure (no Locust import): save_record/load_record/find_latest are all the checker
needs. REPORTS_DIR overrides the default reports/ folder.
"""

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
)

from harness_common.errors import InputError
from harness_common.inputs import read_input
from loadtests.errors import RecordError

RECORD_VERSION = 1
RECORD_FILE = "run.json"
MAX_RECORD_BYTES = 16 * 1024 * 1024
DEFAULT_REPORTS_DIR = "reports"
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def utc_seconds(moment: datetime) -> datetime:
    """`moment` in UTC, truncated to the second."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a time zone")
    return moment.astimezone(UTC).replace(microsecond=0)


def iso_z(moment: datetime) -> str:
    """2025-01-01T12:00:00Z."""
    return utc_seconds(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


UtcSecond = Annotated[datetime, PlainSerializer(iso_z, return_type=str)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Model):
    """One stage of the scenario's plan."""

    end_s: float
    users: int
    spawn_rate: float


class ScenarioInfo(_Model):
    """Which scenario ran, with the parameters it resolved to."""

    name: str
    parameters: dict = Field(default_factory=dict)
    stages: tuple[Stage, ...] = ()


class FaultWindow(_Model):
    """A fault that was on during the run, clipped to the run's window."""

    kind: str
    source: Literal["schedule", "web-ui"]
    params: dict = Field(default_factory=dict)
    start: UtcSecond
    end: UtcSecond
    start_offset_s: float
    end_offset_s: float
    applied: bool = True
    error: str | None = None
    # where the fault acted: "app" (inside the service, its metrics see it) or "proxy" (Envoy in
    # front: a request it fails or delays never reaches the service's own metrics as such)
    backend: Literal["app", "proxy"] | None = None

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc_seconds(value)


class EndpointStats(_Model):
    """Locust's totals and percentiles for one request name (or all of them)."""

    method: str
    name: str
    requests: int
    failures: int
    failure_ratio: float
    rps: float
    avg_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class ErrorCount(_Model):
    """One kind of failure and how often it happened."""

    method: str
    name: str
    error: str
    occurrences: int


class RunStats(_Model):
    """Per-endpoint and aggregated statistics, plus the failure breakdown."""

    endpoints: tuple[EndpointStats, ...] = ()
    aggregated: EndpointStats
    errors: tuple[ErrorCount, ...] = ()


class LatencySummary(_Model):
    """Exact client-side response times (HDR histogram, 0.1%): count, p50/p95/p99, max (ms)."""

    count: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None


class ClientLatencyInfo(_Model):
    """The client's truth for the whole run and for each experiment phase (loadtests.latency)."""

    overall: LatencySummary
    phases: dict[str, LatencySummary] = Field(default_factory=dict)


class RunRecord(_Model):
    """One load test run (see the module docstring for the JSON format)."""

    version: Literal[1] = RECORD_VERSION
    run_id: str
    start: UtcSecond
    end: UtcSecond
    duration_s: float
    status: Literal["completed", "stopped"]
    target: str
    mode: Literal["local", "distributed"] = "local"
    workers: int = 0
    locust_version: str = ""
    scenario: ScenarioInfo
    chaos_schedule: str | None = None
    faults: tuple[FaultWindow, ...] = ()
    users: tuple[tuple[float, int], ...] = ()
    stats: RunStats
    client_latency: ClientLatencyInfo | None = None
    artifacts: dict[str, str] = Field(default_factory=dict)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc_seconds(value)

    @field_validator("end")
    @classmethod
    def _utc_up(cls, value: datetime) -> datetime:
        # Rounded up: a window judged from the record must hold the load's last second too.
        whole = utc_seconds(value)
        return whole if whole == value.astimezone(UTC) else whole + timedelta(seconds=1)

    @field_validator("run_id")
    @classmethod
    def _safe_run_id(cls, value: str) -> str:
        if not RUN_ID_PATTERN.match(value):
            raise ValueError("must be 1-100 letters, digits, '.', '_' or '-' (it names a folder)")
        return value


def reports_dir(environ=None) -> Path:
    """REPORTS_DIR, else reports/ (relative to the working directory)."""
    env = os.environ if environ is None else environ
    return Path(env.get("REPORTS_DIR") or DEFAULT_REPORTS_DIR)


def new_run_id(scenario: str, now: datetime | None = None) -> str:
    """A sortable run id: 20250101-120000-steady (UTC)."""
    now = now or datetime.now(UTC)
    return f"{now.astimezone(UTC):%Y%m%d-%H%M%S}-{scenario}"


def record_path(run_dir: str | Path) -> Path:
    """Where a run folder keeps its record."""
    return Path(run_dir) / RECORD_FILE


def save_record(record: RunRecord, run_dir: str | Path) -> Path:
    """Write run.json into run_dir atomically (readers never see half a file); return its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = record_path(run_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_record(path: str | Path) -> RunRecord:
    """Read a run.json (or the run.json inside a run folder); RecordError naming the problem."""
    path = Path(path)
    if path.is_dir():
        path = record_path(path)
    try:
        raw = json.loads(read_input(path, what="run record", max_bytes=MAX_RECORD_BYTES,
                                    missing_hint="pass a run folder or its run.json "
                                                 "(reports/<id>/run.json)"))
    except InputError as err:
        raise RecordError(str(err)) from None
    except UnicodeDecodeError:
        raise RecordError(f"{path}: not a run record (not UTF-8 JSON)") from None
    except json.JSONDecodeError as err:
        raise RecordError(f"{path}: not valid JSON (line {err.lineno}): {err.msg}") from None
    try:
        return RunRecord.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise RecordError(f"{path}: {field}: {first['msg']}") from None


def find_latest(base: str | Path | None = None) -> Path | None:
    """The run.json of the most recently ended run under `base` (default reports_dir()): a
    load test's reports/<id>/run.json, or the Locust record an experiment leaves in
    reports/<id>/locust/run.json (all that is left of an experiment killed with SIGKILL)."""
    base = Path(base) if base is not None else reports_dir()
    latest: tuple[datetime, Path] | None = None
    for path in (*base.glob(f"*/{RECORD_FILE}"), *base.glob(f"*/*/{RECORD_FILE}")):
        try:
            record = load_record(path)
        except RecordError:
            continue
        if latest is None or record.end > latest[0]:
            latest = (record.end, path)
    return latest[1] if latest else None
