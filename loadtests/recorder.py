"""Writes each run's folder when the test stops: run.json plus Locust's own CSV and HTML reports.

A web UI session can run several tests: each gets its own folder (the run id, then -2, -3...).
Locust's --csv/--html options write once per process, and not at all on SIGTERM, so the
reports are written here with Locust's own writers (StatsCSV, get_html_report) at test stop.
"""

import csv
import logging
from datetime import datetime
from pathlib import Path

from locust import __version__ as locust_version
from locust.html import get_html_report
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV, sort_stats

from loadtests.record import (
    ClientLatencyInfo,
    EndpointStats,
    ErrorCount,
    RunRecord,
    RunStats,
    ScenarioInfo,
    Stage,
    new_run_id,
    save_record,
)
from loadtests.scenarios import LoadPlan

log = logging.getLogger("loadtests.recorder")

ARTIFACTS = {
    "html": "report.html",
    "stats_csv": "locust_stats.csv",
    "failures_csv": "locust_failures.csv",
    "exceptions_csv": "locust_exceptions.csv",
}
MAX_ERRORS = 50


def endpoint_stats(entry) -> EndpointStats:
    """Locust StatsEntry -> the record's EndpointStats."""
    def pct(q):
        return entry.get_response_time_percentile(q) if entry.num_requests else None

    return EndpointStats(
        method=entry.method or "", name=entry.name, requests=entry.num_requests,
        failures=entry.num_failures, failure_ratio=round(entry.fail_ratio, 6),
        rps=round(entry.total_rps, 3), avg_ms=round(entry.avg_response_time, 3),
        min_ms=round(entry.min_response_time or 0, 3), max_ms=round(entry.max_response_time, 3),
        p50_ms=pct(0.5), p95_ms=pct(0.95), p99_ms=pct(0.99),
    )


def _client_latency(environment) -> ClientLatencyInfo | None:
    latency = getattr(environment, "slo_client_latency", None)
    return ClientLatencyInfo.model_validate(latency.summary()) if latency is not None else None


def run_stats(stats) -> RunStats:
    """Locust RequestStats -> per-endpoint, aggregated and error statistics."""
    errors = [ErrorCount(method=e.method or "", name=e.name, error=str(e.error)[:500],
                         occurrences=e.occurrences)
              for e in sort_stats(stats.errors)[:MAX_ERRORS]]
    return RunStats(endpoints=tuple(endpoint_stats(e) for e in sort_stats(stats.entries)),
                    aggregated=endpoint_stats(stats.total), errors=tuple(errors))


def scenario_info(plan: LoadPlan | None, options) -> ScenarioInfo:
    """The plan the shape ran, or 'manual' (web UI without a shape) with the users asked for."""
    if plan is None:
        return ScenarioInfo(name="manual", parameters={
            "users": getattr(options, "num_users", None),
            "spawn_rate": getattr(options, "spawn_rate", None)})
    return ScenarioInfo(name=plan.scenario, parameters=plan.parameters,
                        stages=tuple(Stage(end_s=s.end_s, users=s.users, spawn_rate=s.spawn_rate)
                                     for s in plan.stages))


class Run:
    """One test from test_start to test_stop, and where its folder goes."""

    def __init__(self, run_id: str, run_dir: Path, start: datetime, started_mono: float,
                 plan: LoadPlan | None):
        self.run_id = run_id
        self.run_dir = run_dir
        self.start = start
        self.started_mono = started_mono
        self.plan = plan
        self.end: datetime | None = None
        self.status = "stopped"
        self.test_stopped = False  # test_stop has been handled
        self.sealed = False  # statistics were reset after the run: keep the written record
        self.users: list[tuple[float, int]] = []
        self.workers = 0

    def sample_users(self, offset_s: float, count: int) -> None:
        """Keep the user count whenever it changes."""
        if not self.users or self.users[-1][1] != count:
            self.users.append((round(offset_s, 1), count))


class Recorder:
    """Allocates run ids and folders, and writes record + reports for each run."""

    def __init__(self, reports_dir: Path, base_run_id: str | None):
        self.reports_dir = Path(reports_dir)
        self.base_run_id = base_run_id
        self.runs: list[Run] = []

    def next_run_id(self, scenario: str) -> str:
        """The configured id for the first run, then id-2, id-3...; never an existing record.

        (The folder itself may exist: the CLI creates it for Locust's --csv files.)
        """
        base = self.base_run_id or new_run_id(scenario)
        candidate, n = base, len(self.runs) + 1
        if n > 1:
            candidate = f"{base}-{n}"
        while (self.reports_dir / candidate / "run.json").exists():
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def begin(self, start: datetime, started_mono: float, plan: LoadPlan | None) -> Run:
        """Open a run (test_start)."""
        run_id = self.next_run_id(plan.scenario if plan else "manual")
        run = Run(run_id, self.reports_dir / run_id, start, started_mono, plan)
        run.run_dir.mkdir(parents=True, exist_ok=True)
        self.runs.append(run)
        return run

    @property
    def current(self) -> Run | None:
        """The latest run (finished or not)."""
        return self.runs[-1] if self.runs else None

    def write(self, run: Run, environment, faults, schedule_source: str | None,
              mode: str, workers: int) -> Path:
        """Write run.json and Locust's CSV/HTML reports into the run's folder."""
        end = run.end
        record = RunRecord(
            run_id=run.run_id, start=run.start, end=end,
            duration_s=round((end - run.start).total_seconds(), 3), status=run.status,
            target=environment.host or "", mode=mode, workers=workers,
            locust_version=locust_version,
            scenario=scenario_info(run.plan, environment.parsed_options),
            chaos_schedule=schedule_source, faults=tuple(faults), users=tuple(run.users),
            stats=run_stats(environment.runner.stats), artifacts=dict(ARTIFACTS),
            client_latency=_client_latency(environment),
        )
        path = save_record(record, run.run_dir)
        self._write_reports(run.run_dir, environment)
        return path

    @staticmethod
    def _write_reports(run_dir: Path, environment) -> None:
        writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
        for key, method in (("stats_csv", writer.requests_csv),
                            ("failures_csv", writer.failures_csv),
                            ("exceptions_csv", writer.exceptions_csv)):
            with open(run_dir / ARTIFACTS[key], "w", newline="", encoding="utf-8") as f:
                method(csv.writer(f))
        html = get_html_report(environment, show_download_link=False)
        (run_dir / ARTIFACTS["html"]).write_text(html, encoding="utf-8")
