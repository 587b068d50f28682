"""The bridge rules that put Envoy's metrics in the native spec's shape: committed as generated,
and proven by promtool on Envoy-shaped input (milliseconds in, seconds out)."""

import subprocess
import textwrap

from slo.spec import load_spec
from stack.proxy.rules import RULES_FILE, bridge_rules_text
from tests.helpers import promtool

REPO = RULES_FILE.parents[3]
SPEC = REPO / "slo" / "specs" / "envoy-proxied.yaml"


def test_the_committed_rule_file_is_the_generated_one():
    assert RULES_FILE.read_text(encoding="utf-8") == bridge_rules_text(), (
        "stack/prometheus/rules/envoy-slo.yml drifted: run `python -m stack.proxy.rules`")


def test_the_envoy_spec_reads_the_bridged_series_and_its_thresholds_are_buckets():
    spec = load_spec(SPEC)
    assert [s.name for s in spec.slos] == ["latency-p95", "error-ratio", "throughput"]
    assert "le=\"0.25\"" in str(spec.slo("latency-p95").budget_ratio.events)
    assert 'status=~"5xx"' in str(spec.slo("error-ratio").sli.events)


PROMTOOL_TEST = """\
rule_files: [{rules}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{rq}xx{{{i},envoy_response_code_class="2"}}'
        values: '0 90 180'
      - series: '{rq}xx{{{i},envoy_response_code_class="5"}}'
        values: '0 10 20'
      - series: '{rq}xx{{{a},envoy_response_code_class="2"}}'
        values: '0 500 1000'
      - series: '{rq}time_bucket{{{i},le="250"}}'
        values: '0 30 60'
      - series: '{rq}time_bucket{{{i},le="300"}}'
        values: '0 100 200'
      - series: '{rq}time_bucket{{{i},le="+Inf"}}'
        values: '0 100 200'
      - series: '{rq}time_count{{{i}}}'
        values: '0 100 200'
      - series: '{rq}time_sum{{{i}}}'
        values: '0 29000 58000'
    promql_expr_test:
      - expr: sum by (status) (envoy_slo:requests_total)
        eval_time: 2m
        exp_samples:
          - {{labels: '{{status="2xx"}}', value: 180}}
          - {{labels: '{{status="5xx"}}', value: 20}}
      - expr: sum by (le) ({d}_bucket)
        eval_time: 2m
        exp_samples:
          - {{labels: '{{le="0.25"}}', value: 60}}
          - {{labels: '{{le="0.3"}}', value: 200}}
          - {{labels: '{{le="+Inf"}}', value: 200}}
      - expr: histogram_quantile(0.95, sum by (le) (increase({d}_bucket[2m])))
        eval_time: 2m
        exp_samples:
          - {{labels: '{{}}', value: 0.29642857142857143}}
      - expr: sum({d}_sum) / sum({d}_count)
        eval_time: 2m
        exp_samples:
          - {{labels: '{{}}', value: 0.29}}
"""


def test_promtool_proves_the_bridge_maps_classes_to_status_and_milliseconds_to_seconds(
        tmp_path):
    test_file = tmp_path / "bridge_test.yml"
    test_file.write_text(textwrap.dedent(PROMTOOL_TEST.format(
        rules=RULES_FILE, rq="envoy_http_downstream_rq_", d="envoy_slo:request_duration_seconds",
        i='job="envoy",envoy_http_conn_manager_prefix="ingress_http"',
        a='job="envoy",envoy_http_conn_manager_prefix="admin"')))
    done = subprocess.run([promtool(), "test", "rules", str(test_file)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
