"""`pip install slo-harness` (the core, no [lab] extra) is enough for the CI gate.

A venv made here holds the project with its core dependencies only; `slo check` run from it
against a real Prometheus gives the verdicts, exit code and JSON that the full install gives on
the same window, `slo rules` writes the same files, and the lab's commands say what to install
instead of crashing. The lab's packages are proved absent from that venv, so the test cannot
pass by finding them.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slo.cli import main

ROOT = Path(__file__).resolve().parent.parent
LAB = ("flask", "gunicorn", "locust", "gevent", "docker", "matplotlib", "psutil", "envoy",
       "hdrh")
SPEC = """\
version: slo-harness/v1
service: svc
prometheus:
  job: svc
  requests_metric: svc_requests_total
  duration_metric: svc_request_duration_seconds
  status_label: code
  route_label: handler
slos:
  - name: availability
    objective: availability >= 99%
  - name: errors-strict
    kind: error_ratio
    max_percent: 0.1
  - name: p95
    objective: p(95) <= 300ms
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory) -> Path:
    """A venv with the project installed without extras (from a copy of the tree, so the
    build leaves nothing in the work tree)."""
    work = tmp_path_factory.mktemp("core")
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".stack", "reports", "build", "*.egg-info", "__pycache__",
        ".pytest_cache", ".ruff_cache", "node_modules"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                          "--disable-pip-version-check", str(source)],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    return venv


def core_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "STACK_DIR", "PROMETHEUS_URL")}
    env["NO_COLOR"] = "1"
    return env


def window_samples(start: float, seconds: int = 900) -> dict:
    """Exact samples every 5 s: 10 requests per 5 s, 1 in 200 a 503 (0.5 %: availability 99 %
    met, the 99.9 % error SLO violated); all of them faster than 0.1 s (p95 met)."""
    times = [start + i for i in range(0, seconds + 1, 5)]
    base = 'job="svc",instance="a:1"'
    series = {}
    for code, per_step in (("200", 9.95), ("503", 0.05)):
        series[f'svc_requests_total{{{base},code="{code}",handler="/x"}}'] = [
            (t, round(per_step * i, 3)) for i, t in enumerate(times)]
    for le in ("0.1", "0.3", "+Inf"):
        series[f'svc_request_duration_seconds_bucket{{{base},le="{le}"}}'] = [
            (t, 10.0 * i) for i, t in enumerate(times)]
    series[f'svc_request_duration_seconds_count{{{base}}}'] = [
        (t, 10.0 * i) for i, t in enumerate(times)]
    series[f'svc_request_duration_seconds_sum{{{base}}}'] = [
        (t, 0.5 * i) for i, t in enumerate(times)]
    series[f'up{{{base}}}'] = [(t, 1.0) for t in times]
    return series


def test_the_core_venv_lacks_every_lab_package(core_venv):
    probe = f"import importlib.util as u; print([m for m in {LAB!r} if u.find_spec(m)])"
    out = subprocess.run([str(core_venv / "bin" / "python"), "-c", probe], cwd=core_venv,
                         capture_output=True, text=True, env=core_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_slo_check_from_the_core_gives_the_full_installs_verdicts(
        core_venv, prometheus_with_samples, tmp_path):
    start = int(time.time()) - 3600
    prom = prometheus_with_samples(window_samples(start))
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    window = ["--start", str(start + 300), "--end", str(start + 840), "--no-settle"]
    full_json = tmp_path / "full.json"
    full_code = main(["check", "--spec", str(spec), "--prometheus", prom.url, *window,
                      "--json", str(full_json)])
    core_json = tmp_path / "core.json"
    core = subprocess.run([str(core_venv / "bin" / "slo"), "check", "--spec", str(spec),
                           "--prometheus", prom.url, *window, "--json", str(core_json)],
                          cwd=tmp_path, capture_output=True, text=True, env=core_env(),
                          timeout=120)
    assert core.returncode == full_code == 1, core.stdout + core.stderr
    full = {v["name"]: (v["status"], v["value"]) for v in
            json.loads(full_json.read_text())["slos"]}
    got = {v["name"]: (v["status"], v["value"]) for v in
           json.loads(core_json.read_text())["slos"]}
    assert got == full
    assert {name: status for name, (status, _) in got.items()} == {
        "availability": "met", "errors-strict": "violated", "p95": "met"}


def test_slo_rules_from_the_core_writes_what_the_full_install_writes(
        core_venv, tmp_path, monkeypatch):
    (tmp_path / "spec.yaml").write_text(SPEC, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the files name the spec as given: the same relative path
    assert main(["rules", "--spec", "spec.yaml", "--out-dir", "full"]) == 0
    core = subprocess.run([str(core_venv / "bin" / "slo"), "rules", "--spec", "spec.yaml",
                           "--out-dir", "core"], cwd=tmp_path,
                          capture_output=True, text=True, env=core_env(), timeout=120)
    assert core.returncode == 0, core.stdout + core.stderr
    full_files = sorted(p.relative_to(tmp_path / "full")
                        for p in (tmp_path / "full").rglob("*") if p.is_file())
    assert full_files
    for rel in full_files:
        assert (tmp_path / "core" / rel).read_bytes() == (tmp_path / "full" / rel).read_bytes()


@pytest.mark.parametrize("command", [["verify-alerts", "--help"], ["check", "--help"]])
def test_the_gates_commands_start_from_the_core(core_venv, command):
    out = subprocess.run([str(core_venv / "bin" / "slo"), *command], capture_output=True,
                         text=True, env=core_env(), timeout=60)
    assert out.returncode == 0, out.stderr


def test_a_lab_command_from_the_core_names_the_extra_to_install(core_venv):
    out = subprocess.run([str(core_venv / "bin" / "slo"), "run", "slo/experiments/demo.yaml"],
                         capture_output=True, text=True, env=core_env(), timeout=60)
    assert out.returncode == 2
    assert "pip install 'slo-harness[lab]'" in out.stderr
    assert "Traceback" not in out.stderr
