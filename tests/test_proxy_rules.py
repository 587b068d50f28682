"""The spec of a service behind the fault proxy reads Envoy's own series through the `envoy`
preset: status classes, the millisecond histogram, the admin listener left out, and every
latency threshold a bucket of the proxy's layout."""

from pathlib import Path

from slo.spec import load_spec
from stack.proxy.bootstrap import BUCKETS_MS, envoy_le

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "slo" / "specs" / "envoy-proxied.yaml"


def test_the_envoy_spec_reads_envoys_series_with_the_preset():
    spec = load_spec(SPEC)
    assert [s.name for s in spec.slos] == ["latency-p95", "error-ratio", "throughput"]
    errors = str(spec.slo("error-ratio").sli.events)
    assert errors.startswith("envoy_http_downstream_rq_xx{")
    assert 'envoy_response_code_class=~"5"' in errors
    assert 'envoy_http_conn_manager_prefix!="admin"' in errors
    latency = spec.slo("latency-p95")
    assert latency.sli.scale_s == 0.001               # Envoy times in milliseconds
    assert 'le=~"250|250\\\\.0"' in str(latency.budget_ratio.events)  # Go and Python spellings


def test_every_threshold_of_the_envoy_spec_is_a_bucket_of_the_proxy():
    spec = load_spec(SPEC)
    printed = {envoy_le(ms) for ms in BUCKETS_MS}
    assert {envoy_le(t * 1000) for t in spec.latency_thresholds_s} <= printed
