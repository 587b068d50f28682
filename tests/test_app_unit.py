"""The Flask app through its test client: pages, API, metrics in its own registry, admin API."""

import pytest

from harness_common.errors import HarnessError
from target_app import create_app
from target_app.config import config_from_env

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def app():
    app = create_app({"TESTING": True, "BASELINE_DELAY_MS": (0, 0), "FAULT_ADMIN_TOKEN": TOKEN})
    yield app
    app.extensions["fault_registry"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def sample(app, name, **labels):
    return app.extensions["metrics"].registry.get_sample_value(name, labels)


def test_the_portfolio_page_shows_about_projects_and_contact(client):
    html = client.get("/").get_data(as_text=True)
    for section in ('id="about"', 'id="projects"', 'id="contact"', "Locust Load Profiles"):
        assert section in html


def test_the_api_lists_projects_and_returns_one_by_id(client):
    assert client.get("/api/projects").get_json()["count"] == 4
    assert client.get("/api/projects/2").get_json()["id"] == 2


@pytest.mark.parametrize("bad_id", ["99", "abc", "-1"])
def test_an_unknown_project_id_is_a_json_404(client, bad_id):
    resp = client.get(f"/api/projects/{bad_id}")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not found"


def test_health_reports_status_version_and_uptime(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["version"] == "0.1.0" and body["uptime_s"] >= 0


def test_requests_are_counted_by_route_template_not_raw_path(app, client):
    client.get("/api/projects/1")
    client.get("/api/projects/3")
    client.get("/api/projects/99")
    labels = {"method": "GET", "endpoint": "/api/projects/<project_id>"}
    assert sample(app, "app_requests_total", **labels, status="200") == 2
    assert sample(app, "app_requests_total", **labels, status="404") == 1
    assert sample(app, "app_request_duration_seconds_count", **labels) == 3


def test_unknown_paths_and_methods_share_one_label_each(app, client):
    for path in ("/wp-login.php", "/.env", "/a/b/c"):
        client.get(path)
    client.open("/", method="BREW")
    assert sample(app, "app_requests_total", method="GET", endpoint="<unmatched>",
                  status="404") == 3
    assert sample(app, "app_requests_total", method="OTHER", endpoint="<unmatched>",
                  status="405") == 1


def test_the_histogram_has_the_configured_buckets_and_in_progress_returns_to_zero(app, client):
    client.get("/")
    assert sample(app, "app_request_duration_seconds_bucket", method="GET", endpoint="/",
                  le="0.3") == 1
    assert sample(app, "app_requests_in_progress") == 0


def test_default_process_gc_and_platform_collectors_are_exported(client):
    text = client.get("/metrics").get_data(as_text=True)
    for name in ("process_resident_memory_bytes", "python_gc_collections_total", "python_info"):
        assert name in text


def test_each_app_has_its_own_registry():
    a = create_app({"TESTING": True, "BASELINE_DELAY_MS": (0, 0)})
    b = create_app({"TESTING": True, "BASELINE_DELAY_MS": (0, 0)})
    a.test_client().get("/")
    assert sample(a, "app_requests_total", method="GET", endpoint="/", status="200") == 1
    assert sample(b, "app_requests_total", method="GET", endpoint="/", status="200") == 0.0


def test_admin_api_is_closed_without_a_configured_token():
    app = create_app({"TESTING": True, "BASELINE_DELAY_MS": (0, 0)})
    resp = app.test_client().get("/admin/faults", headers=AUTH)
    assert resp.status_code == 403 and "FAULT_ADMIN_TOKEN" in resp.get_json()["error"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic " + TOKEN, TOKEN])
def test_admin_api_rejects_a_missing_or_wrong_token_without_details(client, header):
    resp = client.get("/admin/faults", headers={"Authorization": header} if header else {})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": "unauthorized"}
    assert TOKEN not in resp.get_data(as_text=True)


def test_an_error_fault_answers_its_status_and_is_counted(app, client):
    resp = client.put("/admin/faults/error", json={"status": 503, "message": "boom"}, headers=AUTH)
    assert resp.status_code == 200 and resp.get_json()["fault"]["status"] == 503
    hit = client.get("/api/projects")
    assert hit.status_code == 503 and hit.get_json() == {"error": "boom", "injected": True}
    assert sample(app, "app_requests_total", method="GET", endpoint="/api/projects",
                  status="503") == 1
    assert sample(app, "app_faults_injected_total", kind="error") == 1
    assert sample(app, "app_fault_active", kind="error") == 1
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_a_fault_limited_to_routes_leaves_other_routes_alone(client):
    client.put("/admin/faults/error", json={"routes": ["/api/*"]}, headers=AUTH)
    assert client.get("/api/projects").status_code == 500
    assert client.get("/").status_code == 200


def test_a_fault_naming_health_is_refused_and_health_stays_up(client):
    answer = client.put("/admin/faults/error", json={"routes": ["/health"]}, headers=AUTH)
    assert answer.status_code == 400 and answer.get_json()["field"] == "routes"
    assert client.get("/admin/faults", headers=AUTH).get_json()["faults"] == []
    assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("kind", "body", "field"), [
    ("latency", {"delay_ms": 10**9}, "delay_ms"),
    ("latency", {"delay_ms": 10, "extra": True}, "extra"),
    ("cpu", {}, "kind"),
    ("error", {"status": 200}, "status"),
    ("latency", "not-json{", "body"),
])
def test_a_bad_fault_request_gets_400_naming_the_field_and_changes_nothing(client, kind, body,
                                                                           field):
    client.put("/admin/faults/latency", json={"delay_ms": 5}, headers=AUTH)
    before = client.get("/admin/faults", headers=AUTH).get_json()["faults"]
    kwargs = {"data": body, "content_type": "application/json"} if isinstance(body, str) else {
        "json": body}
    resp = client.put(f"/admin/faults/{kind}", headers=AUTH, **kwargs)
    assert resp.status_code == 400 and resp.get_json()["field"] == field
    assert client.get("/admin/faults", headers=AUTH).get_json()["faults"] == before


def test_an_oversized_admin_body_is_refused_with_413(client):
    resp = client.put("/admin/faults/error", data="x" * 20_000, headers=AUTH,
                      content_type="application/json")
    assert resp.status_code == 413


def test_clear_one_kind_and_clear_all(client):
    client.put("/admin/faults/latency", json={"delay_ms": 1}, headers=AUTH)
    client.put("/admin/faults/error", json={}, headers=AUTH)
    assert client.delete("/admin/faults/latency", headers=AUTH).get_json()["cleared"] == [
        "latency"]
    body = client.delete("/admin/faults", headers=AUTH).get_json()
    assert body == {"backend": "app", "cleared": ["error"], "faults": []}
    assert client.delete("/admin/faults/cpu", headers=AUTH).status_code == 400


def test_config_from_env_parses_ranges_and_buckets_and_rejects_garbage():
    config = config_from_env({"APP_BASELINE_DELAY_MS": "0", "APP_LATENCY_BUCKETS": "0.3,0.1",
                              "FAULT_ADMIN_TOKEN": "t", "APP_INSTRUMENTATION": "off"})
    assert config == {"BASELINE_DELAY_MS": (0, 0), "LATENCY_BUCKETS": (0.1, 0.3),
                      "FAULT_ADMIN_TOKEN": "t", "INSTRUMENTATION": False}
    with pytest.raises(HarnessError, match="APP_BASELINE_DELAY_MS"):
        config_from_env({"APP_BASELINE_DELAY_MS": "50-5"})
    with pytest.raises(HarnessError, match="APP_LATENCY_BUCKETS"):
        config_from_env({"APP_LATENCY_BUCKETS": "a,b"})


@pytest.mark.parametrize(("method", "endpoint", "status"), [
    ("GET", "/", "503"), ("GET", "/api/projects", "500"), ("GET", "/api/projects/<project_id>",
                                                           "aborted"),
    ("GET", "/", "200"), ("GET", "<unmatched>", "404"), ("PUT", "/admin/faults/<kind>", "500"),
])
def test_every_route_method_and_error_status_exists_at_zero_before_any_request(
        app, method, endpoint, status):
    assert sample(app, "app_requests_total", method=method, endpoint=endpoint,
                  status=status) == 0.0
    assert sample(app, "app_request_duration_seconds_count", method="GET", endpoint="/") == 0.0


def test_a_first_error_increments_a_series_that_was_already_there(app, client):
    client.put("/admin/faults/error", json={"status": 503}, headers=AUTH)
    client.get("/")
    assert sample(app, "app_requests_total", method="GET", endpoint="/", status="503") == 1.0


def test_a_json_body_sent_without_its_content_type_is_read_as_json(client):
    """`curl -X PUT -d '{"delay_ms": 50}'` sends form-urlencoded: it was refused as 'not valid
    JSON' although it was."""
    resp = client.put("/admin/faults/latency", data='{"delay_ms": 50}', headers=AUTH,
                      content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 200 and resp.get_json()["fault"]["delay_ms"] == 50
    bad = client.put("/admin/faults/latency", data="delay_ms=50", headers=AUTH,
                     content_type="application/x-www-form-urlencoded")
    assert bad.status_code == 400 and "is not valid JSON" in bad.get_json()["error"]
