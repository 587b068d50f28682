"""bench-load's summary entry: the harness-to-wrk ratio reaches summary.json (no speed asserted)."""

import copy

import pytest

from bench.all import load_outcome, to_json


def run_result(harness_users_rps=10_000.0, wrk_rps=100_000.0, recorded=80_000) -> dict:
    """reports/bench/load.json as bench.load_capacity writes it (the fields the summary reads)."""
    def run(rps, cores=1.5, us=120.0):
        return {"rps": rps, "client_cores": cores, "nginx_cores": 0.2,
                "client_cpu_us_per_request": us}

    users = run(harness_users_rps)
    users["run_record"] = {"path": "r/run.json", "requests": 80_000,
                           "client_latency_count": recorded,
                           "latency_counts_every_request": recorded == 80_000}
    return {
        "load_average_1m": {"before": 1.0, "after": 1.5},
        "runs": {"wrk": run(wrk_rps, 0.9, 7.0), "bare_1": run(8_000.0),
                 "bare_procs": run(12_000.0), "harness_static": run(11_000.0),
                 "harness_users": users},
        "ratios": {"harness_users_vs_wrk": harness_users_rps / wrk_rps if wrk_rps else None,
                   "harness_static_vs_wrk": 0.11, "bare_procs_vs_wrk": 0.12,
                   "bare_1_vs_wrk": 0.08, "harness_static_vs_bare_procs": 0.92,
                   "processes_vs_one": 1.5},
        "goal": {"harness_users_vs_wrk_at_least": 0.5, "met_in_this_run": False,
                 "client_cores_needed": 6.0},
        "latency_recording": {"harness_listener_us_per_request": 3.9,
                              "share_of_locust_cpu_per_request": 0.03},
    }


def comparison(outcome, name):
    return next((c for c in outcome.comparisons if c["name"] == name), None)


def test_the_summary_carries_the_harness_to_wrk_ratio_of_every_run():
    runs = [run_result(10_000.0), run_result(12_000.0)]
    summary = to_json([load_outcome(runs)], quick=False, total_s=1.0, load_avg=(1.0, 1.0, 1.0))
    entry = summary["benchmarks"]["load"]
    headline = next(c for c in entry["comparisons"] if c["name"] == "harness users / wrk")
    assert headline["median"] == pytest.approx(0.11) and headline["runs"] == 2
    assert headline["min"] == pytest.approx(0.1) and headline["max"] == pytest.approx(0.12)
    assert entry["status"] == "ok" and "goal >= 0.5" in entry["note"]
    assert "1.0->1.5" in entry["note"]  # load average before -> after, per run
    cost = next(c for c in entry["comparisons"]
                if c["name"] == "latency recording / Locust CPU per request")
    assert cost["median"] == pytest.approx(0.03)


def test_without_wrk_there_is_no_ratio_and_the_note_says_why():
    run = run_result()
    run["runs"]["wrk"] = None
    run["ratios"] = {key: (None if key.endswith("_vs_wrk") else value)
                     for key, value in run["ratios"].items()}
    outcome = load_outcome([run])
    assert comparison(outcome, "harness users / wrk") is None
    assert "wrk is not installed" in outcome.note


def test_a_run_record_whose_latency_count_misses_requests_fails_the_benchmark():
    good, bad = run_result(), run_result(recorded=79_999)
    outcome = load_outcome([good, copy.deepcopy(bad)])
    assert outcome.status == "failed"
    assert "HdrHistogram count differs" in outcome.note


def test_cpu_meter_reads_a_window_between_the_nearest_samples():
    from bench.cpu import CpuMeter

    meter = CpuMeter({"client": 1})
    meter.samples["client"] = [(100.0, 5.0), (101.0, 6.5), (102.0, 8.0), (103.0, 8.5)]
    assert meter.cores("client", 100.9, 102.1) == 1.5  # 1.5 CPU-seconds in 1 s
    assert meter.cores("client", 99.0, 103.0) == 1.167
    assert meter.cores("nginx", 100.0, 103.0) is None  # no such tree: no figure, not 0
    assert meter.cores("client", 102.0, 101.0) is None
