"""The fault proxy's pure parts: prefixes, route selection, runtime values, what the proxy
refuses, and the bootstrap (which the real Envoy binary validates)."""

import json
import subprocess

import pytest

from harness_common.buckets import ANCHORS_S, DEFAULT_BUCKETS
from harness_common.errors import FaultValidationError
from harness_common.faults.backends import check_supported
from harness_common.faults.model import parse_fault
from stack.proxy.bootstrap import BUCKETS_MS, ProxyConfig, build_bootstrap, route_stat_prefix
from stack.proxy.envoy import envoy_binary
from stack.proxy.routes import parse_prefixes, proxy_routes, select_routes
from stack.proxy.runtime import (
    RoutedFault,
    desired_runtime,
    differences,
    fractional_percent,
    overrides,
)
from stack.proxy.watchdog import due_resets, updates_for

ROUTES = proxy_routes(parse_prefixes("/api,/api/v2,/orders"))


def test_prefixes_are_ordered_longest_first_so_envoy_matches_the_deepest():
    assert parse_prefixes(" /api , /api/v2,/orders ") == ("/api/v2", "/orders", "/api")
    assert [r.slug for r in ROUTES] == ["p1", "p2", "p3", "all"]
    assert parse_prefixes("") == ()


@pytest.mark.parametrize(("text", "fragment"), [
    ("api", "not a path prefix"),
    ("/api/", "not a path prefix"),
    ("/api/*", "not a path prefix"),
    ("/a b", "not a path prefix"),
    ("/api?x=1", "not a path prefix"),
    ("/health", "never faulted"),
    ("/admin/faults", "never faulted"),
    ("/api,/api", "listed twice"),
    (",".join(f"/p{i}" for i in range(21)), "at most 20"),
], ids=["no leading slash", "a trailing slash", "a wildcard", "whitespace", "a query",
        "the health path", "under admin", "a duplicate", "too many"])
def test_a_bad_proxy_routes_entry_is_refused_naming_it(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_prefixes(text)


@pytest.mark.parametrize(("globs", "slugs"), [
    (("*",), ("p1", "p2", "p3", "all")),
    (("/api/*",), ("p3",)),
    (("/api/v2/*", "/orders/*"), ("p1", "p2")),
    (("/api/*", "*"), ("p3", "p1", "p2", "all")),
], ids=["every route", "one prefix", "two prefixes", "a prefix and everything"])
def test_route_globs_select_the_proxys_routes(globs, slugs):
    assert select_routes(globs, ROUTES) == slugs


@pytest.mark.parametrize(("globs", "field", "fragment"), [
    (("/users/*",), "routes[0]", "no route for /users: its routes are fixed at start"),
    (("*", "/api"), "routes[1]", "path prefixes only"),
    (("/api*",), "routes[0]", "path prefixes only"),
    (("/api/*/x",), "routes[0]", "path prefixes only"),
    (("/metrics",), "routes[0]", "never faults /metrics"),
    (("/admin*",), "routes[0]", "never faults /admin"),
    (("/health/*",), "routes[0]", "never faults /health"),
], ids=["an unconfigured prefix", "an exact path", "a glob that is not a prefix",
        "a wildcard inside", "metrics", "admin by a glob", "health"])
def test_route_globs_the_proxy_cannot_honour_are_refused_naming_the_entry(globs, field,
                                                                          fragment):
    with pytest.raises(FaultValidationError, match=fragment) as info:
        select_routes(globs, ROUTES)
    assert info.value.field == field


@pytest.mark.parametrize(("kind", "body", "field", "fragment"), [
    ("latency", {"delay_ms": 300, "jitter_ms": 50}, "jitter_ms", "has no jitter"),
    ("abort", {"mode": "reset"}, "kind", "cannot drop or hang connections"),
    ("abort", {"mode": "hang", "hang_s": 5}, "kind", "cannot drop or hang connections"),
    ("error", {"status": 503, "message": "down"}, "message", "Envoy's own body"),
], ids=["jitter", "a connection reset", "a hang", "a custom error body"])
def test_what_envoys_fault_filter_cannot_do_is_refused_naming_backend_and_field(
        kind, body, field, fragment):
    with pytest.raises(FaultValidationError, match=fragment) as info:
        check_supported("proxy", parse_fault(kind, body))
    assert info.value.field == field
    assert "the fault proxy (Envoy's fault filter)" in str(info.value)


def test_the_app_backend_takes_every_kind_and_the_proxy_the_rest():
    for kind, body in (("latency", {"delay_ms": 1, "jitter_ms": 1}), ("abort", {})):
        check_supported("app", parse_fault(kind, body))
    check_supported("proxy", parse_fault("latency", {"delay_ms": 300, "probability": 0.5}))
    check_supported("proxy", parse_fault("error", {"status": 503}))


@pytest.mark.parametrize(("probability", "numerator"), [
    (1.0, 1_000_000), (0.1, 100_000), (0.025, 25_000), (0.000001, 1), (0.0, 0)])
def test_shares_become_fractional_percents_over_a_million(probability, numerator):
    assert json.loads(fractional_percent(probability)) == {"numerator": numerator,
                                                           "denominator": "MILLION"}
    assert " " not in fractional_percent(probability)


def test_desired_runtime_sets_only_the_selected_routes_keys_and_their_ends_and_unsets_the_rest():
    latency = RoutedFault(parse_fault("latency", {"delay_ms": 300, "routes": ["/api/*"]}),
                          ("p3",), 1_712_345_678.25)
    error = RoutedFault(parse_fault("error", {"status": 502, "probability": 0.1}), ("all",),
                        1_712_345_999.0)
    want = desired_runtime([latency, error], ROUTES)
    assert len(want) == 24
    assert {k: v for k, v in want.items() if v} == {
        "harness.p3.delay_percent": fractional_percent(1.0), "harness.p3.delay_ms": "300",
        "harness.p3.delay_expires_at": "1712345678.250",
        "harness.all.abort_percent": fractional_percent(0.1), "harness.all.abort_status": "502",
        "harness.all.abort_expires_at": "1712345999.000"}


def test_overrides_read_the_admin_layer_and_differences_remove_stale_keys():
    doc = {"layers": ["static", "admin"], "entries": {
        "harness.p3.delay_ms": {"final_value": "300", "layer_values": ["", "300"]},
        "harness.old.delay_ms": {"final_value": "5", "layer_values": ["", "5"]},
        "fault.http.delay.fixed_delay_percent": {"final_value": "1", "layer_values": ["", "1"]},
    }}
    have = overrides(doc)
    assert have == {"harness.p3.delay_ms": "300", "harness.old.delay_ms": "5"}
    want = dict.fromkeys(["harness.p3.delay_ms", "harness.p3.delay_percent"], "")
    assert differences(want, have) == {"harness.p3.delay_ms": "", "harness.old.delay_ms": ""}
    assert differences({"harness.p3.delay_ms": "300"}, have) == {"harness.old.delay_ms": ""}


NOW = 1_712_345_678.0
ABORT = {"harness.all.abort_percent": fractional_percent(1.0), "harness.all.abort_status": "503"}
DELAY = {"harness.p1.delay_percent": fractional_percent(1.0), "harness.p1.delay_ms": "300"}


@pytest.mark.parametrize(("have", "reset", "why"), [
    ({**ABORT, "harness.all.abort_expires_at": f"{NOW - 1.5:.3f}"}, [("all", "abort")],
     "its TTL ended 1.5s ago"),
    ({**ABORT, "harness.all.abort_expires_at": f"{NOW + 30:.3f}"}, [], None),
    ({**ABORT, "harness.all.abort_expires_at": f"{NOW - 0.5:.3f}"}, [], None),
    (ABORT, [("all", "abort")], "no abort_expires_at key"),
    ({**ABORT, "harness.all.abort_expires_at": "soon"}, [("all", "abort")],
     "'soon' is not epoch seconds"),
    ({**ABORT, "harness.all.abort_expires_at": "nan"}, [("all", "abort")],
     "'nan' is not epoch seconds"),
    ({**ABORT, "harness.all.abort_expires_at": f"{NOW + 3700:.3f}"}, [("all", "abort")],
     "further away than the longest TTL"),
    ({"harness.all.abort_expires_at": f"{NOW - 5:.3f}"}, [("all", "abort")], "TTL ended"),
    ({**ABORT, "harness.all.abort_expires_at": f"{NOW - 5:.3f}", **DELAY,
      "harness.p1.delay_expires_at": f"{NOW + 30:.3f}"}, [("all", "abort")], "TTL ended"),
    ({"harness.all.delay_ms": "300", "harness.all.delay_expires_at": f"{NOW - 5:.3f}",
      **ABORT, "harness.all.abort_expires_at": f"{NOW + 30:.3f}"}, [("all", "delay")],
     "TTL ended"),
    ({"harness.old.something": "1", "harness.all": "x", "harness.p1.delay_ms.x": "3"}, [], None),
], ids=["expired past the grace", "not yet", "expired within the grace", "no expiry key",
        "a malformed expiry", "an expiry that is not a number", "an end past the longest TTL",
        "an expiry key alone", "another route's keys are untouched",
        "the other kind on the same route is untouched", "keys outside the layout"])
def test_the_watchdog_ends_a_group_past_its_end_and_grace_or_with_no_valid_end(have, reset, why):
    resets = due_resets(have, NOW, grace=1.0)
    assert [(r.slug, r.group) for r in resets] == reset
    if why:
        assert why in resets[0].why
    updates = updates_for(resets)
    assert all(value == "" for value in updates.values())
    assert {k.split(".")[1] + "/" + k.split(".")[2].split("_")[0] for k in updates} == \
        {f"{slug}/{group}" for slug, group in reset}
    assert len(updates) == 3 * len(reset)
    # what it leaves is exactly the other groups' keys
    left = {k for k in have if k not in updates}
    assert left == {k for k in have if not any(k.startswith(f"harness.{slug}.{group}_")
                                               for slug, group in reset)}


def test_the_bootstrap_routes_never_faulted_paths_first_then_prefixes_then_everything():
    config = ProxyConfig(10000, 9901, "127.0.0.1", 8000, parse_prefixes("/api,/api/v2"))
    doc = build_bootstrap(config)
    listeners = doc["static_resources"]["listeners"]
    front, inner = ([lst["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]
                     ["virtual_hosts"][0]["routes"] for lst in listeners])
    expected = [{"path_separated_prefix": "/metrics"}, {"path_separated_prefix": "/health"},
                {"path_separated_prefix": "/admin"}, {"path_separated_prefix": "/api/v2"},
                {"path_separated_prefix": "/api"}, {"prefix": "/"}]
    assert [r["match"] for r in front] == [r["match"] for r in inner] == expected
    # the front: a stat_prefix per route (Envoy's envoy_route label), the faultable routes
    # through the fault layer, the never-faulted ones straight to the service, no fault filter
    assert [r["stat_prefix"] for r in front] == ["/metrics", "/health", "/admin", "/api/v2",
                                                 "/api", "/"]
    assert [r["route"]["cluster"] for r in front] == ["upstream"] * 3 + ["faults"] * 3
    assert all("typed_per_filter_config" not in r for r in front)
    routes = inner
    for route in routes[:3]:
        assert route["typed_per_filter_config"]["envoy.filters.http.fault"]["disabled"] is True
    for route in routes[3:]:
        fault = route["typed_per_filter_config"]["envoy.filters.http.fault"]
        assert {"delay", "abort"} <= set(fault)   # without both, runtime keys are ignored
        assert fault["delay_percent_runtime"].startswith(f"harness.{route['name']}.")
    assert doc["stats_config"]["histogram_bucket_settings"][0]["buckets"] == list(BUCKETS_MS)
    # the harness's layout in whole milliseconds from 10 ms up: every anchor kept, Envoy prints
    # every boundary plainly (the bridge rules match them by name)
    assert {round(a * 1000) for a in ANCHORS_S} <= set(BUCKETS_MS)
    assert all(ms == int(ms) for ms in BUCKETS_MS if ms >= 10)
    assert len(BUCKETS_MS) == len(DEFAULT_BUCKETS)
    assert doc["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    assert doc["stats_flush_interval"] == "1s"


def test_a_route_stat_prefix_keeps_only_what_envoys_tag_extractor_splits_on_out():
    """A dot in a stat_prefix splits Envoy's stat name: /api/v1.2 became the metric
    envoy_vhost_route_2_upstream_rq_xx{envoy_route="/api/v1"} (Envoy 1.40)."""
    assert [route_stat_prefix(p) for p in (None, "/api", "/api/v1.2", "/a:b@c", "/x-y_z")] == [
        "/", "/api", "/api/v1_2", "/a_b_c", "/x-y_z"]


@pytest.mark.parametrize("upstream", ["127.0.0.1", "service.internal"], ids=["an IP", "a name"])
def test_the_real_envoy_accepts_the_bootstrap(tmp_path, upstream):
    config = ProxyConfig(10000, 9901, upstream, 8000, parse_prefixes("/api,/orders"))
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(build_bootstrap(config)))
    result = subprocess.run([str(envoy_binary()), "--mode", "validate", "-c", str(path),
                             "--disable-hot-restart", "--log-level", "error"],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
