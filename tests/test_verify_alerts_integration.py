"""`slo verify-alerts --alert` against a real Prometheus whose rules have not all run: a rule
never evaluated (its group's first evaluation is a day away, like every group right after `make
stack FRESH=1` for up to one interval) and a rule whose query fails at evaluation."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from stack.config import private_stack_env
from stack.procs import wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
# many-to-many: the right side has two series for the one match group {}
FAILS = ('vector(1) + on() group_left() (label_replace(vector(1), "a", "1", "", "") or '
         'label_replace(vector(1), "a", "2", "", ""))')


@pytest.fixture
def prometheus(tmp_path, start_prometheus):
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": [
        {"name": "not-yet", "interval": "24h", "rules": [
            {"alert": "ErrorBudgetBurn", "expr": "vector(0) > 1",
             "labels": {"slo": "home-availability", "severity": "page"}}]},
        {"name": "broken", "interval": "1s", "rules": [
            {"alert": "BrokenRule", "expr": FAILS, "labels": {"severity": "page"}}]}]}))
    server = start_prometheus({}, rule_files=[rules])

    def broken_ran():
        groups = requests.get(server.url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
        return any(r["health"] == "err" for g in groups for r in g["rules"])

    wait_until(broken_ran, 30, "the broken rule's first evaluation")
    return server


def verify(prometheus, tmp_path, *args):
    env = private_stack_env(tmp_path / "no-stack", PROMETHEUS_URL=prometheus.url,
                            PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "slo.cli", "verify-alerts", *args], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_a_rule_never_evaluated_is_not_resolved_and_a_failing_one_names_its_error(prometheus,
                                                                                  tmp_path):
    """Before: `OK ErrorBudgetBurn{...} is not firing after 0.0s`, exit 0, about a rule
    Prometheus listed with health unknown and lastEvaluation 0001-01-01T00:00:00Z."""
    rules = requests.get(prometheus.url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
    never = next(g for g in rules if g["name"] == "not-yet")["rules"][0]
    assert (never["health"], never["lastEvaluation"]) == ("unknown", "0001-01-01T00:00:00Z")

    resolved = verify(prometheus, tmp_path, "--alert", "ErrorBudgetBurn", "--label",
                      "slo=home-availability", "--label", "severity=page", "--expect",
                      "resolved", "--within", "3s")
    assert resolved.returncode == 2, resolved.stdout + resolved.stderr
    assert ('NOT EVALUATED could not evaluate: rule ErrorBudgetBurn{severity="page",'
            'slo="home-availability"} has not been evaluated yet') in resolved.stdout
    assert "runs every 86400s" in resolved.stdout

    firing = verify(prometheus, tmp_path, "--alert", "ErrorBudgetBurn", "--expect", "firing",
                    "--within", "2s")
    assert firing.returncode == 2 and "has not been evaluated yet" in firing.stdout, (
        firing.stdout)

    broken = verify(prometheus, tmp_path, "--alert", "BrokenRule", "--expect", "resolved",
                    "--within", "10s")
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert "fails to evaluate: found duplicate series" in broken.stdout
