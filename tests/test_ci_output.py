"""What a CI log shows (issue 21 items 6 and 8): output to a pipe is never wrapped or cut, a
refusal several SLOs share is said once as NOT EVALUATED, and what a user wrote (a regex, a
name) is printed as it is, never read as rich markup.

Before: rich laid tables out to 80 columns off a terminal ('availabil / ity',
'ErrorBudget...'), a refusal read NO DATA with the same paragraph repeated per SLO, and
'/api/[a-z]+(' printed as '/api/+('.
"""

import io
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from harness_common.console import make_console
from slo.cli import main
from slo.judge import outputs
from slo.judge.checker import CheckResult, judge
from slo.judge.outcome import decide
from slo.judge.window import Window
from slo.spec import load_spec
from stack.config import private_stack_env

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")
LONG = ("availability-of-the-checkout-api-for-signed-in-eu-customers",   # names: <= 63
        "error-ratio-of-the-checkout-api-for-signed-in-eu-customers",
        "api-fast-requests-of-the-checkout-api-for-signed-in-eu-users")
SHARED = ("app_requests_total has no series between 2026-12-06T06:00:00Z and "
          "2026-12-06T06:10:00Z: check the metric name (prometheus.requests_metric) and that "
          "Prometheus scrapes the service")


def refused_result(reasons=(SHARED, SHARED, SHARED)) -> CheckResult:
    slos = [SPEC.slo("home-availability"), SPEC.slo("error-ratio"), SPEC.slo("api-fast-requests")]
    verdicts = [replace(judge(slo, None, None, problems=[reason]), name=name)
                for slo, name, reason in zip(slos, LONG, reasons, strict=True)]
    return CheckResult(spec="slo/slos.yaml", service="checkout", prometheus="http://prom",
                       window=Window(1_700_000_000, 1_700_000_600, "last 10m"),
                       verdicts=verdicts, evaluated_in_s=0.01)


def printed(result: CheckResult, console_of=lambda f: make_console(file=f)) -> str:
    buffer = io.StringIO()
    outputs.print_table(result, decide(result.verdicts), console_of(buffer))
    return buffer.getvalue()


def test_a_table_to_a_pipe_keeps_each_long_slo_name_whole_on_its_line():
    out = printed(refused_result())
    for name in LONG:
        (row,) = [line for line in out.splitlines() if name in line and "│" in line]
        assert "NOT EVALUATED" in row
    assert "NO DATA" not in out


def test_a_refusal_every_slo_shares_is_said_once_for_the_whole_run():
    result = refused_result()
    out = printed(result)
    assert out.count(SHARED) == 1
    (line,) = [line for line in out.splitlines() if SHARED in line]
    assert line == f"  every SLO ({', '.join(LONG)}): NOT EVALUATED: {SHARED}"
    markdown = outputs.to_markdown(result, decide(result.verdicts))
    assert markdown.count(SHARED) == 1 and "❔ NOT EVALUATED" in markdown
    # JSON and JUnit stay per SLO: each verdict carries its reason, the outcome is the same
    junit = outputs.to_junit(result, decide(result.verdicts))
    assert junit.count('type="no_data"') == 3


def test_reasons_that_differ_are_each_said_with_their_slo():
    other = SHARED.replace("app_requests_total", "app_request_duration_seconds_count")
    out = printed(refused_result((SHARED, SHARED, other)))
    assert f"  {LONG[0]}, {LONG[1]}: NOT EVALUATED: {SHARED}" in out.splitlines()
    assert f"  {LONG[2]}: NOT EVALUATED: {other}" in out.splitlines()


@pytest.mark.parametrize("console_of", [
    lambda f: make_console(file=f),
    lambda f: Console(file=f, width=400),   # a caller's own console, markup on
], ids=["the commands' console", "a console with markup on"])
def test_a_users_pattern_in_a_reason_is_printed_as_it_is(console_of):
    reason = ('app_requests_total{endpoint=~"/api/[a-z]+(/.*)?"} selects no series [bold]: '
              "no series has it")
    out = printed(refused_result((reason, SHARED, SHARED)), console_of)
    assert 'endpoint=~"/api/[a-z]+(/.*)?"} selects no series [bold]:' in out


def test_an_error_echoing_a_users_regex_is_printed_as_it_is(tmp_path, capsys):
    spec = tmp_path / "bad.yaml"
    spec.write_text(textwrap.dedent("""\
        version: slo-harness/v1
        service: api
        prometheus: {job: api}
        slos:
          - {name: e, objective: ratio <= 1%, selector: 'endpoint=~"/api/[a-z]+("'}
        """), encoding="utf-8")
    assert main(["check", "--spec", str(spec), "--last", "1m"]) == 2
    err = capsys.readouterr().err
    assert "(got '/api/[a-z]+(')" in err, err


# ---- the real commands, stdout a pipe ---------------------------------------------------------

def run_slo(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    """`slo ...` with stdout a pipe, as in CI; COLUMNS=80 as many CI runners set it."""
    environ = private_stack_env(tmp_path / "no-stack", PYTHONPATH=str(REPO), COLUMNS="80",
                                **env)
    return subprocess.run([sys.executable, "-m", "slo.cli", *args], env=environ, cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


LONG_SPEC = """\
    version: slo-harness/v1
    service: checkout
    prometheus: {job: checkout, requests_metric: app_requests_total}
    slos:
"""


@pytest.mark.integration
def test_slo_check_to_a_pipe_shows_whole_names_and_a_shared_refusal_once(tmp_path,
                                                                          start_prometheus):
    prom = start_prometheus({})   # scrapes nothing: no SLO's metric has a series
    spec = tmp_path / "long.yaml"
    spec.write_text(textwrap.dedent(LONG_SPEC) + "".join(
        f"      - {{name: {name}, objective: ratio <= 1%}}\n" for name in LONG[:2]),
        encoding="utf-8")
    done = run_slo(tmp_path, "check", "--spec", str(spec), "--prometheus", prom.url,
                   "--last", "1m", "--no-settle")
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in LONG[:2]:
        assert any(name in line and "NOT EVALUATED" in line for line in lines), done.stderr
    refusals = [line for line in lines if "has no series" in line]
    assert len(refusals) == 1, done.stdout
    assert refusals[0].startswith(f"  every SLO ({LONG[0]}, {LONG[1]}): NOT EVALUATED: "
                                  "app_requests_total has no series between ")
    assert "NO DATA" not in done.stdout


@pytest.mark.integration
def test_slo_verify_alerts_to_a_pipe_shows_whole_alert_names(tmp_path, start_prometheus):
    alert = "ErrorBudgetBurnCheckoutApiFastRequestsForSignedInCustomersInTheEuWestRegion"
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "long", "interval": "1s", "rules": [
        {"alert": alert, "expr": "vector(0) > 1",
         "labels": {"slo": LONG[2], "severity": "page"}}]}]}))
    prom = start_prometheus({}, rule_files=[rules])
    done = run_slo(tmp_path, "verify-alerts", PROMETHEUS_URL=prom.url,
                   ALERTMANAGER_URL="http://127.0.0.1:9")
    (row,) = [line for line in done.stdout.splitlines() if alert in line]
    assert LONG[2] in row, done.stdout


def test_slo_runs_summary_says_a_shared_refusal_once_and_keeps_long_subjects_whole(tmp_path):
    from slo.experiment.expectations import Outcome
    from tests.test_experiment_report import result_of

    refusal = ("Prometheus at http://127.0.0.1:9 did not answer a query after 3 tries: is it "
               "running? /api/[a-z]+(")
    subject = 'ErrorBudgetBurn{slo="api-fast-requests-of-the-checkout-api-for-signed-in-eu-users"}'
    result = replace(result_of(tmp_path), outcomes=(
        Outcome("outage", "alert", subject, "firing within 20s", "not_evaluated", "—", refusal),
        Outcome("recovery", "slo", LONG[0], "met", "not_evaluated", "—", refusal)))
    from slo.experiment.report import print_summary

    buffer = io.StringIO()
    print_summary(make_console(file=buffer), result)
    out = buffer.getvalue()
    assert out.count(refusal) == 1
    assert f"NOT EVALUATED outage, recovery: {refusal}" in out.splitlines()
    assert any(subject in line and "NOT EVALUATED" in line for line in out.splitlines())
    assert any(LONG[0] in line for line in out.splitlines())
