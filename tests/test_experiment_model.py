"""The experiment file (slo-harness/v1, kind Experiment): a good one loads; each rule has its
own message naming the file, the field and the fix (one test per message)."""

import copy
from pathlib import Path

import pytest
import yaml

from slo.experiment.schema import (
    ExperimentError,
    load_experiment,
    parse_experiment,
    read_experiment,
)
from slo.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")

GOOD = {
    "version": "slo-harness/v1",
    "kind": "Experiment",
    "name": "unit",
    "load": {"users": 4, "spawn_rate": 2},
    "phases": [
        {"name": "baseline", "duration": "20s",
         "expect": {"slos": {"error-ratio": "met"},
                    "alerts": [{"alert": "ErrorBudgetBurn", "labels": {"slo": "error-ratio"},
                                "state": "not_firing"}]}},
        {"name": "outage", "duration": "30s",
         "fault": {"kind": "error", "params": {"probability": 1.0, "status": 503}},
         "expect": {"slos": {"error-ratio": "violated"},
                    "alerts": [{"alert": "ErrorBudgetBurn", "state": "firing", "within": "30s"}],
                    "telegram": [{"alert": "ErrorBudgetBurn", "status": "firing",
                                  "within": "30s"}]}},
        {"name": "recovery", "duration": "40s", "load": {"users": 6},
         "expect": {"alerts": [{"alert": "ErrorBudgetBurn", "state": "resolved",
                                "within": "40s"}],
                    "telegram": [{"alert": "ErrorBudgetBurn", "status": "resolved",
                                  "within": 40}]}},
    ],
}


def parse(doc, spec=SPEC):
    return parse_experiment(yaml.safe_dump(doc), "exp.yaml", spec=spec)


def broken(change) -> dict:
    doc = copy.deepcopy(GOOD)
    change(doc)
    return doc


def test_a_good_experiment_loads_with_phase_offsets_and_resolved_load():
    experiment = parse(GOOD)
    assert [p.name for p in experiment.phases] == ["baseline", "outage", "recovery"]
    assert [(p.start_s, p.end_s) for p in experiment.phases] == [(0, 20), (20, 50), (50, 90)]
    assert experiment.duration_s == 90
    assert experiment.phases[0].load.users == 4 and experiment.phases[2].load.users == 6
    fault = experiment.phases[1].fault
    assert fault.kind == "error" and fault.params["ttl_s"] == 30 + 30
    assert fault.describe() == "error probability=1.0 status=503"
    assert experiment.expectation_count() == 7


def test_the_shipped_experiments_load_against_the_shipped_spec():
    for name in ("demo.yaml", "smoke.yaml"):
        experiment, spec = load_experiment(REPO / "slo" / "experiments" / name)
        assert experiment.profile == "fast"
        assert spec.service == "portfolio-app"
    demo, _ = load_experiment(REPO / "slo" / "experiments" / "demo.yaml")
    assert 240 <= demo.duration_s <= 330  # about five minutes


def test_expectations_of_one_burn_rate_row_load_with_the_labels_messages_show():
    """long and short tell the rows of one SLO apart, in the alerts and in their messages."""
    row = {"slo": "error-ratio", "long": "6m", "short": "30s", "severity": "page"}
    doc = broken(lambda d: (d["phases"][1]["expect"]["alerts"][0].update(labels=dict(row)),
                            d["phases"][1]["expect"]["telegram"][0].update(labels=dict(row))))
    outage = parse(doc).phases[1]
    assert outage.telegram[0].labels == tuple(sorted(row.items()))
    assert outage.alerts[0].labels == tuple(sorted(row.items()))
    # an alert the spec does not produce is checked when the run asks Prometheus for its rules
    doc = broken(lambda d: d["phases"][1]["expect"]["alerts"][0].update(
        alert="PortfolioAppDown", labels={"instance": "app:5000"}))
    assert parse(doc).phases[1].alerts[0].alert == "PortfolioAppDown"


def test_infrastructure_faults_end_after_their_delay():
    doc = broken(lambda d: d["phases"][1].update(fault={"kind": "kill", "restart_after": "10s"}))
    kill = parse(doc).phases[1]
    assert kill.fault.infrastructure and kill.fault_end_s == 20 + 10
    doc = broken(lambda d: d["phases"][1].update(fault={"kind": "pause"}))
    pause = parse(doc).phases[1]
    assert pause.fault.for_s == 30 and pause.fault_end_s == 50


CASES = [
    ("version is required", lambda d: d.pop("version"), "version: add `version: slo-harness/v1`"),
    ("another version is refused", lambda d: d.update(version="v2"),
     "version: unsupported version"),
    ("kind is required", lambda d: d.pop("kind"), "kind: add `kind: Experiment`"),
    ("an SLO spec is not an experiment", lambda d: d.update(kind="SLO"),
     "kind: must be Experiment (got 'SLO'); an SLO spec goes to --spec"),
    ("an unknown field is named with the allowed ones", lambda d: d.update(phase=[]),
     "phase: unknown field; remove it or fix its spelling; allowed here:"),
    ("an experiment needs a phase", lambda d: d.update(phases=[]), "phases: must not be empty"),
    ("a name must be a slug", lambda d: d.update(name="My Test"), "name: must match"),
    ("phase names are unique", lambda d: d["phases"][2].update(name="baseline"),
     "phases[2].name: duplicate phase name 'baseline' (also phases[0])"),
    ("a phase lasts at least one scrape", lambda d: d["phases"][0].update(duration="3s"),
     "phases[0].duration: must be at least 5s"),
    ("a phase whose SLOs are judged lasts fifteen seconds",
     lambda d: d["phases"][0].update(duration="12s"),
     "phases[0].duration: must be at least 15s to judge its SLOs"),
    ("a duration must parse", lambda d: d["phases"][0].update(duration="soon"),
     "phases[0].duration: must be a duration like"),
    ("users are at least one", lambda d: d["load"].update(users=0), "load.users: must be >= 1"),
    ("the scenario is a load-test scenario", lambda d: d["load"].update(scenario="soak"),
     "load.scenario: must be 'steady', 'ramp', 'step' or 'spike'"),
    ("an unknown fault kind is named", lambda d: d["phases"][1]["fault"].update(kind="flood"),
     "phases[1].fault.kind: unknown fault kind 'flood'; use one of latency, error, abort, kill, "
     "pause"),
    ("fault params are the app's own rules",
     lambda d: d["phases"][1]["fault"]["params"].update(status=404),
     "phases[1].fault.params.status:"),
    ("the runner sets the TTL", lambda d: d["phases"][1]["fault"]["params"].update(ttl_s=10),
     "phases[1].fault.params.ttl_s: set by the runner"),
    ("an app fault lasts its phase",
     lambda d: d["phases"][1]["fault"].update(restart_after="5s"),
     "phases[1].fault.restart_after: does not apply to a error fault"),
    ("a kill has no params",
     lambda d: d["phases"][1].update(fault={"kind": "kill", "restart_after": "5s",
                                            "params": {"a": 1}}),
     "phases[1].fault.params: a kill fault has no params"),
    ("a kill says when the app comes back", lambda d: d["phases"][1].update(fault={"kind": "kill"}),
     "phases[1].fault.restart_after: required for a kill fault"),
    ("a kill restarts within its phase",
     lambda d: d["phases"][1].update(fault={"kind": "kill", "restart_after": "40s"}),
     "phases[1].fault.restart_after: must be between 1s and the phase's duration 30s (got 40s)"),
    ("a kill ends by restart, not by for",
     lambda d: d["phases"][1].update(fault={"kind": "kill", "restart_after": "5s", "for": "5s"}),
     "phases[1].fault.for: a kill fault ends when the app is restarted"),
    ("a pause has no restart",
     lambda d: d["phases"][1].update(fault={"kind": "pause", "restart_after": "5s"}),
     "phases[1].fault.restart_after: applies to kill faults only"),
    ("a pause ends within its phase",
     lambda d: d["phases"][1].update(fault={"kind": "pause", "for": "1m"}),
     "phases[1].fault.for: must be between 1s and the phase's duration 30s (got 1m)"),
    ("an SLO expectation names an SLO of the spec",
     lambda d: d["phases"][0]["expect"]["slos"].update({"latency-p99": "met"}),
     "phases[0].expect.slos.latency-p99: no SLO named 'latency-p99' in slos.yaml; known:"),
    ("an SLO is met or violated",
     lambda d: d["phases"][0]["expect"]["slos"].update({"error-ratio": "ok"}),
     "phases[0].expect.slos.error-ratio: must be 'met' or 'violated'"),
    ("label names follow Prometheus",
     lambda d: d["phases"][0]["expect"]["alerts"][0]["labels"].update({"bad-label": "x"}),
     "phases[0].expect.alerts[0].labels.bad-label: not a Prometheus label name"),
    ("the alert name is not a label",
     lambda d: d["phases"][0]["expect"]["alerts"][0]["labels"].update(alertname="X"),
     "phases[0].expect.alerts[0].labels.alertname: the alert's name goes in `alert:`"),
    ("not firing holds for the whole phase",
     lambda d: d["phases"][0]["expect"]["alerts"][0].update(within="10s"),
     "phases[0].expect.alerts[0].within: does not apply to not_firing"),
    ("firing needs a time limit", lambda d: d["phases"][1]["expect"]["alerts"][0].pop("within"),
     "phases[1].expect.alerts[0].within: required for state firing"),
    ("an alert state is one of three",
     lambda d: d["phases"][1]["expect"]["alerts"][0].update(state="on"),
     "phases[1].expect.alerts[0].state: must be 'firing', 'not_firing' or 'resolved'"),
    ("a Telegram status is firing or resolved",
     lambda d: d["phases"][1]["expect"]["telegram"][0].update(status="sent"),
     "phases[1].expect.telegram[0].status: must be 'firing' or 'resolved'"),
    ("resolved counts from an earlier fault",
     lambda d: d["phases"][0]["expect"].update(
         telegram=[{"alert": "X", "status": "resolved", "within": "10s"}]),
     "phases[0].expect.telegram[0].status: resolved counts from the end of a fault, and no "
     "earlier phase has one"),
    ("a deadline ends with the experiment",
     lambda d: d["phases"][2]["expect"]["alerts"][0].update(within="2m"),
     "phases[2].expect.alerts[0].within: the deadline ends 1m20s after the experiment does"),
    ("a deadline is at least a second",
     lambda d: d["phases"][1]["expect"]["alerts"][0].update(within=0),
     "phases[1].expect.alerts[0].within: must be at least 1s"),
    ("an experiment lasts at most six hours",
     lambda d: d["phases"][0].update(duration="7h"),
     "phases: the phases last"),
    ("an app fault's TTL stays within the app's limit",
     lambda d: d["phases"][1].update(duration="1h"),
     "phases[1].duration: a phase with an app fault may last at most 59m30s"),
    ("a target is the app or the proxy", lambda d: d.update(target="nginx"),
     "target: must be 'app' or 'proxy'"),
    ("the proxy has no connection aborts",
     lambda d: (d.update(target="proxy"), d["phases"][1].update(fault={"kind": "abort"})),
     "phases[1].fault.kind: the fault proxy (Envoy's fault filter) cannot drop or hang"),
    ("the proxy has no jitter",
     lambda d: (d.update(target="proxy"), d["phases"][1].update(fault={
         "kind": "latency", "params": {"delay_ms": 300, "jitter_ms": 50}})),
     "phases[1].fault.params.jitter_ms: the fault proxy (Envoy's fault filter) has no jitter"),
    ("the proxy answers with Envoy's body",
     lambda d: (d.update(target="proxy"), d["phases"][1]["fault"]["params"].update(
         message="down")),
     "phases[1].fault.params.message: the fault proxy (Envoy's fault filter) answers with"),
    ("the service behind the proxy is not killed",
     lambda d: (d.update(target="proxy"), d["phases"][1].update(
         fault={"kind": "kill", "restart_after": "5s"})),
     "phases[1].fault.kind: kill acts on the demo app's process"),
    # issue 19 item 5: an expectation naming a label its evidence cannot show is refused
    ("a Telegram expectation matches only labels every message shows",
     lambda d: d["phases"][1]["expect"]["telegram"][0].update(labels={"instance": "a"}),
     "phases[1].expect.telegram[0].labels.instance: a Telegram message does not always show "
     "label 'instance' (it always shows severity, slo, service, long and short"),
    ("a Telegram expectation's value must fit in the message",
     lambda d: d["phases"][1]["expect"]["telegram"][0].update(labels={"slo": "s" * 40}),
     "phases[1].expect.telegram[0].labels.slo: the message shows at most 32 characters of "
     "slo"),
    ("an alert expectation names labels the spec's rules give the alert",
     lambda d: d["phases"][0]["expect"]["alerts"][0]["labels"].update(instance="a"),
     "phases[0].expect.alerts[0].labels.instance: no ErrorBudgetBurn rule of slos.yaml "
     "(profile fast) has label 'instance'; its labels: long, service, severity, short, slo"),
    ("an alert expectation names a row the spec's rules have",
     lambda d: d["phases"][0]["expect"]["alerts"][0]["labels"].update(long="7m"),
     "phases[0].expect.alerts[0].labels.long: no ErrorBudgetBurn rule of slos.yaml (profile "
     "fast) has long='7m' with slo='error-ratio'; it has long 1h12m, 1m, 24m, 6m"),
    ("a Telegram expectation names a row the spec's rules have",
     lambda d: d["phases"][1]["expect"]["telegram"][0].update(labels={"long": "6m",
                                                                      "short": "20s"}),
     "phases[1].expect.telegram[0].labels.long: no ErrorBudgetBurn rule of slos.yaml (profile "
     "fast) has long='6m' with short='20s'; it has long 1m"),
    ("users come from one source",
     lambda d: d.update(users={"endpoints": "a.yaml", "locustfile": "b.py"}),
     "users: give exactly one of endpoints"),
    ("an endpoints file must exist", lambda d: d.update(users={"endpoints": "nope.yaml"}),
     "users.endpoints: "),
]


@pytest.mark.parametrize("change, message", [(c, m) for _, c, m in CASES],
                         ids=[name for name, _, _ in CASES])
def test_each_rule_has_its_own_message(change, message):
    with pytest.raises(ExperimentError) as info:
        parse(broken(change))
    text = str(info.value)
    assert text.startswith("exp.yaml: ")
    assert message in text, text


def test_an_experiment_against_the_proxy_names_its_users_relative_to_the_file(tmp_path):
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "api.yaml").write_text("- {path: /api, weight: 2}\n")
    (tmp_path / "bad.yaml").write_text("- {path: api}\n")
    doc = broken(lambda d: d.update(target="proxy", users={"endpoints": "load/api.yaml"}))
    experiment = parse_experiment(yaml.safe_dump(doc), "exp.yaml", base_dir=tmp_path, spec=SPEC)
    assert experiment.target == "proxy"
    assert experiment.endpoints == tmp_path / "load" / "api.yaml"
    assert experiment.locustfile is None
    doc["users"] = {"endpoints": "bad.yaml"}
    with pytest.raises(ExperimentError, match=r"users.endpoints: .*bad.yaml: \[0\].path: must "
                                              r"start with '/'"):
        parse_experiment(yaml.safe_dump(doc), "exp.yaml", base_dir=tmp_path, spec=SPEC)


def test_the_shipped_envoy_experiment_targets_the_proxy_with_endpoints():
    experiment, spec = load_experiment(REPO / "slo" / "experiments" / "envoy-prometheus.yaml")
    assert experiment.target == "proxy" and experiment.endpoints.name == "prometheus-api.yaml"
    assert spec.service == "proxied-service"
    faults = [p.fault.describe() for p in experiment.phases if p.fault]
    assert faults == ["latency delay_ms=300", "error status=503 probability=0.1"]


def test_a_file_that_is_not_a_mapping_is_refused():
    with pytest.raises(ExperimentError, match="must be one YAML mapping"):
        parse_experiment("- a\n- b\n", "exp.yaml")


def test_duplicate_keys_are_refused_like_in_the_spec():
    with pytest.raises(ExperimentError, match="duplicate key 'name'"):
        parse_experiment("version: slo-harness/v1\nname: a\nname: b\n", "exp.yaml")


def test_a_missing_file_says_which_and_what_to_pass(tmp_path):
    with pytest.raises(ExperimentError, match="nope.yaml: no such file; pass the path"):
        read_experiment(tmp_path / "nope.yaml")


def test_a_missing_spec_names_the_spec_field(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({**GOOD, "spec": "missing.yaml"}))
    with pytest.raises(ExperimentError, match=r"spec: .*missing.yaml does not exist"):
        load_experiment(path)


def test_every_problem_is_reported_at_once():
    def two(d):
        d["phases"][0]["duration"] = "2s"
        d["phases"][2]["name"] = "baseline"

    with pytest.raises(ExperimentError) as info:
        parse(broken(two))
    assert len(info.value.problems) == 2
