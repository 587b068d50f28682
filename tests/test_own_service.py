"""Your rules, your spec, no demo (issue 21 item 2): a new user with their own service.

Measured: with TARGET_URL set, Prometheus loaded the demo app's rules (PortfolioAppDown showed
in the user's tab and report), the SLO tab showed the demo's spec, the test alert said
`service portfolio-app`, loading the user's own rules took reading the code, and a restart
needed six settings retyped. Here a real native stack runs in front of a service this project
did not write (python -m http.server) with the user's spec: nothing of the demo appears in the
rendered config and rules, in Prometheus's /api/v1/rules and targets, in the SLO tab's spec or
in the test alert; the spec's rules are what Prometheus loads; a restart reuses .stack/env.
"""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from harness_common.stackenv import read_stack_env
from slo.commands.check import spec_path
from slo.commands.run import web_port
from slo.commands.verify_alerts import DEFAULT_SERVICE, alert_service
from slo.errors import SpecError
from slo.spec import DEFAULT_SPEC
from slo.spec.choice import DEMO, GIVEN, NONE, STACK, choose_spec
from stack.config import StackSettings, private_stack_env, recorded_environ
from stack.errors import StackConfigError
from stack.procs import wait_until
from stack.render import RULES_DIR, native_prometheus_config, native_rule_files
from tests.conftest import start_static_server

REPO = Path(__file__).resolve().parent.parent
SPEC = """\
version: slo-harness/v1
service: my-shop
prometheus:
  preset: envoy
  job: envoy
window: 30d
slos:
  - name: error-ratio
    objective: ratio <= 1%
"""
TARGET = "http://127.0.0.1:8000"


def write_spec(directory: Path) -> Path:
    path = directory / "my-slos.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


# -- which spec: one table ---------------------------------------------------------------------

@pytest.mark.parametrize(("given", "stack", "path", "source"), [
    ("mine.yaml", {"SLO_SPEC": "/s.yaml", "TARGET_URL": TARGET}, "mine.yaml", GIVEN),
    (None, {"SLO_SPEC": "/s.yaml", "TARGET_URL": TARGET}, "/s.yaml", STACK),
    ("", {"SLO_SPEC": "/s.yaml"}, "/s.yaml", STACK),
    (None, {"TARGET_URL": TARGET}, None, NONE),
    (None, {}, DEFAULT_SPEC, DEMO),
], ids=["a given spec wins", "the stack's recorded spec", "an empty SPEC is not given",
        "in front of a service without a spec: none, not the demo's", "the demo stack: the demo's"])
def test_the_spec_a_command_uses(given, stack, path, source):
    choice = choose_spec(given, stack)
    assert (choice.path, choice.source) == (path, source)
    if source == NONE:
        assert TARGET in choice.why and "SPEC=" in choice.why


def test_slo_check_without_a_spec_in_front_of_a_service_cannot_evaluate(tmp_path, monkeypatch):
    (tmp_path / "env").write_text(f"TARGET_URL={TARGET}\n")
    monkeypatch.setenv("STACK_DIR", str(tmp_path))
    with pytest.raises(SpecError, match="records no SLO_SPEC; give your spec"):
        spec_path(None)
    (tmp_path / "env").write_text(f"TARGET_URL={TARGET}\nSLO_SPEC=/x/my.yaml\n")
    assert spec_path(None) == "/x/my.yaml"


def test_the_test_alert_is_labelled_with_the_users_service(tmp_path):
    spec = write_spec(tmp_path)
    assert alert_service({"SLO_SPEC": str(spec), "TARGET_URL": TARGET}) == "my-shop"
    assert alert_service({"TARGET_URL": TARGET + "/"}) == "127.0.0.1:8000"
    assert alert_service({}) == DEFAULT_SERVICE


# -- the rules Prometheus loads ----------------------------------------------------------------

def test_in_front_of_a_service_without_a_spec_no_rule_and_no_job_of_the_demo(tmp_path):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path), "TARGET_URL": TARGET})
    files, warnings = native_rule_files(settings)
    assert files == [] and "without a spec" in warnings[0] and "SPEC=" in warnings[0]
    text, _ = native_prometheus_config(settings)
    assert "portfolio" not in text and yaml.safe_load(text)["rule_files"] == []


def test_the_demo_stack_keeps_the_demos_rules_and_job(tmp_path):
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path)})
    files, _ = native_rule_files(settings)
    assert RULES_DIR / "availability.yml" in files and RULES_DIR / "slo-standard.yml" in files
    assert "job_name: portfolio-app" in native_prometheus_config(settings)[0]


def test_a_spec_whose_rules_were_not_generated_is_refused_naming_the_command(tmp_path):
    spec = write_spec(tmp_path)
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path / "stack"),
                                       "TARGET_URL": TARGET, "SLO_SPEC": str(spec)})
    with pytest.raises(StackConfigError, match="slo rules --stack --spec"):
        native_rule_files(settings)


def test_rules_takes_directories_and_refuses_what_is_neither(tmp_path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "b.yml").write_text("groups: []\n")
    (rules / "a.yaml").write_text("groups: []\n")
    (rules / "notes.txt").write_text("x")
    settings = StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_EXTRA_RULES": str(rules)})
    assert settings.extra_rules == (rules / "a.yaml", rules / "b.yml")
    assert settings.extra_rules_given == str(rules)
    for bad, fragment in ((tmp_path / "nope", "neither a rule file"),
                          (tmp_path / "empty", "holds no *.yml")):
        if fragment.startswith("holds"):
            bad.mkdir()
        with pytest.raises(StackConfigError, match=f"STACK_EXTRA_RULES: {bad}"):
            StackSettings.from_env({"STACK_DIR": str(tmp_path), "STACK_EXTRA_RULES": str(bad)})


def test_a_restart_reuses_the_recorded_settings_the_environment_leaves_empty():
    recorded = {"TARGET_URL": TARGET, "PROXY_ROUTES": "/api", "SLO_SPEC": "/s.yaml",
                "PROMETHEUS_PORT": "19090", "FAULT_ADMIN_TOKEN": "secret", "APP_URL": "x"}
    env, taken = recorded_environ({"PROMETHEUS_PORT": "", "SLO_SPEC": "/mine.yaml"}, recorded)
    assert env["TARGET_URL"] == TARGET and env["PROXY_ROUTES"] == "/api"
    assert env["SLO_SPEC"] == "/mine.yaml" and env["PROMETHEUS_PORT"] == "19090"
    assert "FAULT_ADMIN_TOKEN" not in env and "APP_URL" not in env   # only settings
    assert set(taken) == {"TARGET_URL", "PROXY_ROUTES", "PROMETHEUS_PORT"}
    other, taken = recorded_environ({"TARGET_URL": "http://127.0.0.1:9"}, recorded)
    assert "PROXY_ROUTES" not in other and "TARGET_URL" not in taken   # a new service's own


def test_slo_run_web_port():
    assert web_port(None) is None
    assert web_port(18089) == 18089
    assert web_port(-1, {"LOCUST_PORT": "18090"}) == 18090


# -- the real stack ----------------------------------------------------------------------------

def cli(env, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, check=False, timeout=timeout)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory):
    """A native stack in front of http.server, started the documented way (the spec's rules,
    then `stack up` with SLO_SPEC); stopped after the module."""
    tmp = tmp_path_factory.mktemp("own")
    server = start_static_server(tmp / "service", {"index.html": "home\n", "api/items": "[1]\n"})
    spec = write_spec(tmp)
    env = private_stack_env(tmp / "stack", TARGET_URL=server.url, APP_BASELINE_DELAY_MS="0",
                            PYTHONPATH=str(REPO))
    env.pop("APP_URL", None)
    rules = cli(env, "slo.cli", "rules", "--stack", "--spec", str(spec))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    up = cli({**env, "SLO_SPEC": str(spec)}, "stack", "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield SimpleNamespace(env=env, spec=spec, server=server, up=up,
                              pairs=read_stack_env(env["STACK_DIR"]))
    finally:
        cli(env, "stack", "down")
        server.proc.stop()


@pytest.mark.integration
def test_nothing_of_the_demo_in_the_config_rules_and_prometheus_and_the_spec_is_loaded(
        own_stack):
    stack_dir = Path(own_stack.env["STACK_DIR"])
    config = (stack_dir / "prometheus" / "prometheus.yml").read_text()
    rule_files = yaml.safe_load(config)["rule_files"]
    assert rule_files == [str(stack_dir / "rules" / "slo-standard.yml")]
    for text in [config, *(Path(f).read_text() for f in rule_files)]:
        assert "portfolio" not in text.lower()
    prom = own_stack.pairs["PROMETHEUS_URL"]
    answer = requests.get(prom + "/api/v1/rules", timeout=5)
    groups = [g["name"] for g in answer.json()["data"]["groups"]]
    assert "slo-error-ratio" in groups, groups
    assert "portfolio" not in answer.text.lower()
    assert "my-shop" in answer.text
    targets = requests.get(prom + "/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    assert "portfolio-app" not in {t["labels"]["job"] for t in targets}
    assert own_stack.pairs["SLO_SPEC"] == str(own_stack.spec)


@pytest.mark.integration
def test_the_slo_tab_shows_the_stacks_spec_not_the_demos(own_stack, monkeypatch):
    from slo.cockpit import tab

    monkeypatch.setenv("STACK_DIR", own_stack.env["STACK_DIR"])
    locust = SimpleNamespace(parsed_options=SimpleNamespace(slo_spec=None, slo_prometheus=None))
    shown = tab.create(locust, SimpleNamespace(chaos=None))
    assert shown is not None and shown.cockpit.spec.service == "my-shop"
    assert "portfolio" not in shown.describe()


@pytest.mark.integration
def test_the_test_alert_carries_the_users_service_and_is_delivered(own_stack):
    sent = cli(own_stack.env, "slo.cli", "verify-alerts", "--send-test", "--no-resolve",
               "--within", "40s")
    out = sent.stdout + sent.stderr
    assert "posting a test alert (service my-shop)" in " ".join(out.split()), out
    assert "DELIVERED" in out and "portfolio" not in out.lower(), out
    sandbox = own_stack.pairs["TELEGRAM_SANDBOX_URL"]
    messages = requests.get(sandbox + "/sandbox/messages", timeout=5)
    assert messages.ok and "my-shop" in messages.text, messages.text[:500]
    assert "portfolio" not in messages.text.lower()


@pytest.mark.integration
def test_a_restart_needs_nothing_retyped_and_says_what_it_reused(own_stack):
    env = own_stack.env
    assert cli(env, "stack", "down").returncode == 0
    bare = {k: v for k, v in env.items()
            if not k.endswith("_PORT") and k not in ("TARGET_URL", "SLO_SPEC")}
    again = cli(bare, "stack", "up")
    out = " ".join(again.stdout.split())
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"TARGET_URL={own_stack.server.url}" in out and f"SLO_SPEC={own_stack.spec}" in out
    assert "ports" in out and "--forget" in out
    pairs = read_stack_env(env["STACK_DIR"])
    assert pairs["PROMETHEUS_URL"] == own_stack.pairs["PROMETHEUS_URL"]
    assert pairs["TARGET_URL"] == own_stack.server.url
    groups = requests.get(pairs["PROMETHEUS_URL"] + "/api/v1/rules", timeout=5).json()
    assert "slo-error-ratio" in [g["name"] for g in groups["data"]["groups"]]


@pytest.mark.integration
def test_a_changed_spec_on_a_running_stack_is_reloaded_and_another_spec_is_not_claimed(
        own_stack, tmp_path):
    """A new user's walk: `make stack SPEC=` on a running stack rewrote .stack/rules and said
    "SLO rules: those of my-slos.yaml" while Prometheus kept evaluating the old rules."""
    env, spec = own_stack.env, own_stack.spec
    prometheus = own_stack.pairs["PROMETHEUS_URL"]
    original = spec.read_text(encoding="utf-8")
    try:
        spec.write_text(original + "  - name: latency-p95\n    objective: p(95) <= 250ms\n",
                        encoding="utf-8")
        rules = cli(env, "slo.cli", "rules", "--stack", "--spec", str(spec))
        assert rules.returncode == 0, rules.stdout + rules.stderr
        up = cli({**env, "SLO_SPEC": str(spec)}, "stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "reread the rule files" in up.stdout, up.stdout

        def groups():
            answer = requests.get(prometheus + "/api/v1/rules", timeout=5).json()
            return {g["name"] for g in answer["data"]["groups"]}
        wait_until(lambda: "slo-latency-p95" in groups(), 20, "Prometheus to reload the rules")
        other = tmp_path / "other.yaml"
        other.write_text(original, encoding="utf-8")
        drift = cli({**env, "SLO_SPEC": str(other)}, "stack", "up")
        assert drift.returncode == 0, drift.stdout + drift.stderr
        assert f"loads the rules of {spec}, not {other}" in " ".join(drift.stdout.split())
    finally:
        spec.write_text(original, encoding="utf-8")
        cli(env, "slo.cli", "rules", "--stack", "--spec", str(spec))
        cli({**env, "SLO_SPEC": str(spec)}, "stack", "up")


@pytest.mark.integration
def test_make_stacks_rules_step_reads_the_recorded_settings_and_never_writes_refused_rules(
        own_stack, tmp_path):
    """A new user's walk: a second `make stack` (make exports TARGET_URL empty) warned "the
    spec reads job 'envoy', which this stack does not scrape (its jobs: portfolio-app)"; and
    `make stack SPEC=other.yaml` on the running stack rewrote .stack/rules with other.yaml's
    rules, then the stack refused the change: the files no longer were the loaded spec's."""
    env, spec = own_stack.env, own_stack.spec
    made_env = {**env, "TARGET_URL": "", "TARGET_METRICS_URL": "", "PROXY_ROUTES": ""}
    again = cli(made_env, "slo.cli", "rules", "--stack")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"from {spec}" in " ".join(again.stdout.split()), again.stdout
    assert "does not scrape" not in again.stdout, again.stdout
    rules_dir = Path(env["STACK_DIR"]) / "rules"
    before = {p: p.read_bytes() for p in sorted(rules_dir.rglob("*")) if p.is_file()}
    other = tmp_path / "other.yaml"
    other.write_text(spec.read_text(encoding="utf-8").replace("service: ", "service: x"),
                     encoding="utf-8")
    refused = cli(made_env, "slo.cli", "rules", "--stack", "--spec", str(other))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = " ".join((refused.stdout + refused.stderr).split())
    assert f"the running stack loads the rules of {spec}, not {other}" in said, said
    assert "make stack-down" in said and "no rules written" in said, said
    assert {p: p.read_bytes() for p in sorted(rules_dir.rglob("*")) if p.is_file()} == before


@pytest.mark.integration
def test_slo_run_web_serves_the_ui_with_its_tabs_while_the_experiment_runs(tmp_path,
                                                                          static_server):
    """`slo run --web`: Locust's web UI (Chaos and SLO tabs on the experiment's spec) answers
    during the run, which starts and ends by itself and leaves its run record, as headless."""
    from slo.experiment.load import Locust
    from slo.experiment.schema import load_experiment
    from stack.procs import free_port

    spec = write_spec(tmp_path)
    path = tmp_path / "watch.yaml"
    path.write_text(yaml.safe_dump({"version": "slo-harness/v1", "kind": "Experiment",
                                    "name": "watch", "spec": str(spec),
                                    "load": {"users": 2, "spawn_rate": 2},
                                    "phases": [{"name": "load", "duration": "6s"}]}))
    experiment, _ = load_experiment(path)
    env = private_stack_env(tmp_path / "no-stack", PYTHONPATH=str(REPO))
    locust = Locust(experiment, static_server.url, tmp_path / "run", env,
                    web_port=free_port())
    (tmp_path / "run").mkdir()
    try:
        locust.start()
        page = requests.get(locust.web_url + "/", timeout=5)
        assert page.status_code == 200
        assert locust.wait(40) == 0
    finally:
        locust.stop()
    log = (tmp_path / "run" / "locust.log").read_text()
    assert f"the SLO tab shows {spec} (given)" in log and "1 SLOs of my-shop" in log, log[-2000:]
    assert (locust.output_dir / "run.json").is_file()


def test_a_spec_reading_a_job_the_stack_does_not_scrape_is_warned_of_when_its_rules_are_made():
    """A new user's walk: `slo init --job my-items` wrote a spec the stack in front of
    TARGET_URL could never feed (it scrapes the service as job 'target', and only with
    TARGET_METRICS_URL); `make stack SPEC=` said nothing."""
    from slo.commands.rules import unscraped_jobs
    from slo.spec import parse_spec

    spec = parse_spec("version: slo-harness/v1\nservice: items\nprometheus:\n"
                      "  preset: promhttp\n  job: my-items\nslos:\n"
                      "  - {name: errors, objective: ratio <= 1%}\n", "my.yaml")
    (warning,) = unscraped_jobs(spec, {"TARGET_URL": "http://127.0.0.1:8000"})
    assert "job 'my-items', which this stack does not scrape (its jobs: envoy)" in warning
    assert "TARGET_METRICS_URL" in warning
    target = parse_spec("version: slo-harness/v1\nservice: items\nprometheus:\n"
                        "  preset: promhttp\n  job: target\nslos:\n"
                        "  - {name: errors, objective: ratio <= 1%}\n", "my.yaml")
    assert unscraped_jobs(target, {"TARGET_URL": "http://127.0.0.1:8000",
                                   "TARGET_METRICS_URL": "http://127.0.0.1:8000/metrics"}) == []
    assert unscraped_jobs(target, {"TARGET_URL": "http://127.0.0.1:8000"}) != []
