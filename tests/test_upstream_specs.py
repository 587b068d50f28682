"""Sloth and OpenSLO files as their own repositories write them (issue 21 item 5).

tests/specs/upstream/ holds one file in the shape of each example of slok/sloth's examples/
and of OpenSLO's examples (examples/ and pkg/openslo/*/examples/), written for these tests
(other services, metrics and names; same structure: multi-document files, YAML lists of
objects, the Kubernetes CRDs, v1alpha's indicator.thresholdMetric, hyphenated alert names).
One row per file: accepted with the SLO names Sloth would give, or refused with the reason,
which names the file, the document (when the file holds several), the field and the fix.
docs/sloth-openslo.md shows the same table before and after.
"""

from pathlib import Path

import pytest

from slo.alerting.burnrate import PROFILES
from slo.alerting.rules import render_rules
from slo.errors import SpecError
from slo.spec import load_spec

UPSTREAM = Path(__file__).parent / "specs" / "upstream"

ACCEPTED = [
    # file                                      SLO names (Sloth's, for a file Sloth reads)
    ("sloth/getting-started.yml", ["checkout-availability"]),
    ("sloth/home-wifi.yml", ["clients-connected", "good-signal"]),
    ("sloth/raw-home-wifi.yml", ["clients-connected"]),
    ("sloth/no-alerts.yml", ["checkout-availability"]),
    ("sloth/k8s-getting-started.yml", ["checkout-availability"]),
    ("sloth/k8s-home-wifi.yml", ["clients-connected", "good-signal"]),
    ("sloth/k8s-multifile.yml", ["shop-requests-availability", "cart-requests-availability"]),
    ("sloth/multifile.yml", ["shop-requests-availability", "cart-requests-availability"]),
    ("sloth/kubernetes-apiserver.yml", ["requests-availability", "requests-latency"]),
    ("sloth/slo-plugin-getting-started.yml", ["checkout-availability"]),
    ("sloth/slo-plugin-k8s-getting-started.yml", ["checkout-availability"]),
    ("sloth/contrib-slo-plugins.yml", ["checkout-availability"]),
    ("sloth/contrib-denominator-corrected.yaml", ["slo-a"]),
    ("sloth/contrib-sli-total-amount-rules.yaml", ["slo-a"]),
    ("sloth/custom_rule_group_interval.yml", ["cpu-softirq"]),
    ("sloth/managed-prometheus-getting-started.yml", ["checkout-availability"]),
    ("sloth/managed-prometheus-grpc-server.yml", ["calls-availability"]),
    ("sloth/hyphenated-alert-name.yml", ["checkout-availability"]),
    ("sloth/openslo-getting-started.yml", ["shop-checkout-0"]),
    ("sloth/openslo-kubernetes-apiserver.yml",
     ["apiserver-availability-0", "apiserver-latency-0", "apiserver-latency-1"]),
    ("openslo/v1-list-judgeable.yaml", ["portal-availability-0", "portal-availability-1"]),
    ("openslo/v1alpha-threshold-judgeable.yaml", ["portal-latency-0"]),
]

NO_SLO = ("holds no kind: SLO document to judge (only {}); pass the file with the SLOs, with "
          "the SLI, Service and DataSource documents they reference in the same file")
REFUSED = [
    # file, the first line of the refusal (after "<file>: ")
    ("sloth/plugin-getting-started.yml",
     "slos[0].sli.plugin: SLI plugins run inside Sloth and cannot be evaluated here; write the "
     "SLI as events (error_query, total_query) or raw"),
    ("sloth/plugin-k8s-getting-started.yml",
     "spec.slos[0].sli.plugin: SLI plugins run inside Sloth and cannot be evaluated here; write "
     "the SLI as events (error_query, total_query) or raw"),
    ("sloth/victoria-metrics.yml",
     "slos[0].sli.events.error_query: is not valid PromQL: unknown function with name "
     "'histogram_share'; write the query in PromQL (MetricsQL extensions of VictoriaMetrics"),
    ("openslo/occurrences-slo.yaml",
     "spec.indicator.spec.thresholdMetric.metricSource.spec: must be a mapping (got None)"),
    ("openslo/ratio-timeslices.yaml",
     "spec.budgetingMethod: only Occurrences can be judged (got 'RatioTimeslices')"),
    ("openslo/timeslices-slo.yaml",
     "spec.budgetingMethod: only Occurrences can be judged (got 'Timeslices')"),
    ("openslo/low-traffic-timeslices.yaml",
     "spec.budgetingMethod: only Occurrences can be judged (got 'Timeslices')"),
    ("openslo/v1-slos.yaml",
     "spec.budgetingMethod: only Occurrences can be judged (got 'Timeslices')"),
    ("openslo/v1alpha-slos.yaml",
     "document 1.spec.timeWindows[0]: calendar windows cannot be judged; use isRolling: true"),
    ("openslo/v1-slis.yaml", NO_SLO.format("SLI")),
    ("openslo/v1-services.yaml", NO_SLO.format("Service")),
    ("openslo/v1-data-sources.yaml", NO_SLO.format("DataSource")),
    ("openslo/v1-alert-policies.yaml", NO_SLO.format("AlertPolicy")),
    ("openslo/v1-alert-conditions.yaml", NO_SLO.format("AlertCondition")),
    ("openslo/v1-alert-notification-targets.yaml", NO_SLO.format("AlertNotificationTarget")),
    ("openslo/v1alpha-services.yaml", NO_SLO.format("Service")),
]


def test_the_table_has_one_row_per_upstream_shaped_file():
    files = sorted(str(p.relative_to(UPSTREAM)) for p in UPSTREAM.glob("*/*.y*ml"))
    rows = sorted(name for name, _ in ACCEPTED + REFUSED)
    assert rows == files
    assert sum(f.startswith("sloth/") for f in files) >= 20
    assert sum(f.startswith("openslo/") for f in files) >= 13


@pytest.mark.parametrize(("name", "slos"), ACCEPTED, ids=[n for n, _ in ACCEPTED])
def test_an_upstream_shaped_file_is_accepted_with_sloths_slo_names(name, slos):
    spec = load_spec(UPSTREAM / name)
    assert [s.name for s in spec.slos] == slos
    # and its rules generate (promtool checks them in test_sloth_meta_rules.py)
    assert "sloth_slo_info" in render_rules(spec, PROFILES["standard"], name)


@pytest.mark.parametrize(("name", "reason"), REFUSED, ids=[n for n, _ in REFUSED])
def test_an_upstream_shaped_file_that_cannot_be_judged_is_refused_naming_why(name, reason):
    with pytest.raises(SpecError) as err:
        load_spec(UPSTREAM / name)
    first = str(err.value).splitlines()[0]
    assert first.startswith(f"{Path(name).name}: {reason}"), first


def test_a_multi_service_sloth_file_labels_each_slo_with_its_service():
    spec = load_spec(UPSTREAM / "sloth/multifile.yml")
    assert spec.service == "shop+cart"
    assert [(spec.service_of(s), dict(s.labels)["tier"]) for s in spec.slos] == [
        ("shop", "1"), ("cart", "2")]
    rules = render_rules(spec, PROFILES["standard"], "multifile.yml")
    # Sloth's ids: <service>-<slo>, with the SLO's own name in sloth_slo
    assert "sloth_id: cart-requests-availability" in rules
    assert "sloth_slo: requests-availability" in rules
    assert "service: cart\n" in rules and "slo: cart-requests-availability" in rules


def test_a_bad_document_of_a_multi_document_sloth_file_is_named_by_its_index(tmp_path):
    text = (UPSTREAM / "sloth/multifile.yml").read_text(encoding="utf-8")
    bad = text.replace("objective: 99.99", "objective: 100")
    (tmp_path / "multi.yml").write_text(bad, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "multi.yml")
    assert str(err.value) == (
        "multi.yml: document 2.slos[0].objective: must be below 100: a 100% objective leaves no "
        "error budget to alert on (got 100)")


def test_a_sloth_file_mixing_in_another_format_is_refused(tmp_path):
    text = (UPSTREAM / "sloth/getting-started.yml").read_text(encoding="utf-8")
    other = "---\nversion: slo-harness/v1\nservice: x\n"
    (tmp_path / "mixed.yml").write_text(text + other, encoding="utf-8")
    with pytest.raises(SpecError, match="mixed.yml: document 2: is not a Sloth spec"):
        load_spec(tmp_path / "mixed.yml")


def test_the_same_slo_twice_in_one_services_documents_is_refused(tmp_path):
    text = (UPSTREAM / "sloth/getting-started.yml").read_text(encoding="utf-8")
    (tmp_path / "twice.yml").write_text(text + "---\n" + text, encoding="utf-8")
    with pytest.raises(SpecError, match="SLO 'checkout-availability' is defined in several"):
        load_spec(tmp_path / "twice.yml")


def test_an_alert_name_with_a_control_character_is_still_refused(tmp_path):
    text = (UPSTREAM / "sloth/hyphenated-alert-name.yml").read_text(encoding="utf-8")
    (tmp_path / "ctl.yml").write_text(text.replace("_fail", '_fail\\t"').replace(
        "name: slo_", 'name: "slo_'), encoding="utf-8")
    with pytest.raises(SpecError, match=r"ctl.yml: slos\[0\].alerting.name: must match"):
        load_spec(tmp_path / "ctl.yml")


def test_v1_thresholdmetric_in_the_v1alpha_place_is_refused_naming_the_v1_shape(tmp_path):
    text = (UPSTREAM / "openslo/v1alpha-threshold-judgeable.yaml").read_text(encoding="utf-8")
    (tmp_path / "v1.yaml").write_text(
        text.replace("openslo/v1alpha", "openslo/v1").replace(
            "timeWindows: [{unit: Day, count: 7, isRolling: true}]",
            "timeWindow: [{duration: 7d, isRolling: true}]"), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(tmp_path / "v1.yaml")
    assert str(err.value) == (
        "v1.yaml: spec.indicator.thresholdMetric: is the openslo/v1alpha shape; in openslo/v1 "
        "write indicator: {metadata: ..., spec: {thresholdMetric: ...}}")
