"""The endpoints file (load for a service without a locustfile): a good one loads; each rule has
its own message naming the file and the field."""

import pytest

from loadtests.cli import imports_plugin
from loadtests.endpoints import load_endpoints, parse_endpoints
from loadtests.errors import EndpointsError

GOOD = """\
wait: 0.1s-0.5s
endpoints:
  - {path: /, weight: 3}
  - {path: "/api/items?page=1", name: /api/items, expect: [200, 304]}
  - {path: /gone, expect: 404}
  - {path: /api/items, method: POST, json: {sku: 1}, expect: 2xx}
"""


def test_a_good_file_loads_with_defaults_and_weights():
    endpoints = parse_endpoints(GOOD, "ep.yaml")
    assert endpoints.wait_s == (0.1, 0.5)
    home, api, gone, post = endpoints.endpoints
    assert (home.method, home.name, home.weight, home.expect) == ("GET", "/", 3, (200,))
    assert api.name == "/api/items" and api.accepts(304) and not api.accepts(500)
    assert gone.accepts(404) and not gone.accepts(200)
    assert post.json == {"sku": 1} and post.accepts(201) and not post.accepts(302)
    assert post.describe_expected() == "2xx" and api.describe_expected() == "200 or 304"


def test_the_list_form_needs_no_mapping_and_waits_a_second():
    endpoints = parse_endpoints("- {path: /health}\n", "ep.yaml")
    assert endpoints.wait_s == (1.0, 1.0)
    assert endpoints.endpoints[0].name == "/health"


@pytest.mark.parametrize(("text", "message"), [
    ("- {path: health}\n", "ep.yaml: [0].path: must start with '/'"),
    ("- {path: /a b}\n", "ep.yaml: [0].path: must start with '/' and hold no whitespace"),
    ("- {path: /, weight: 0}\n", "ep.yaml: [0].weight: must be >= 1"),
    ("- {path: /, weight: 1.5}\n", "ep.yaml: [0].weight:"),
    ("- {path: /, expect: 700}\n", "ep.yaml: [0].expect: a status is 100-599 (got 700)"),
    ("- {path: /, expect: ok}\n", "ep.yaml: [0].expect: must be a status (200)"),
    ("- {path: /, expect: []}\n", "ep.yaml: [0].expect: must name at least one status"),
    ("- {path: /, method: BREW}\n", "ep.yaml: [0].method:"),
    ("- {path: /, bogus: 1}\n", "ep.yaml: [0].bogus: unknown field"),
    ("- {weight: 2}\n", "ep.yaml: [0].path: required"),
    ("[]\n", "ep.yaml: endpoints: must not be empty"),
    ("wait: soon\nendpoints: [{path: /}]\n", "ep.yaml: wait:"),
    ("wait: 2s-1s\nendpoints: [{path: /}]\n", "ep.yaml: wait: must be a duration 0-60s"),
    ("just text\n", "ep.yaml: must be one YAML list of endpoints"),
    ("- {path: /}\n- {path: /}\n" * 60, "ep.yaml: endpoints: must be at most 100 items"),
], ids=["a relative path", "whitespace", "a zero weight", "a fractional weight",
        "a status out of range", "a word for a status", "no status", "an unknown method",
        "an unknown field", "no path", "no endpoint", "a bad wait", "a reversed wait range",
        "not a list", "too many"])
def test_each_rule_has_its_own_message(text, message):
    with pytest.raises(EndpointsError) as info:
        parse_endpoints(text, "ep.yaml")
    assert message in str(info.value), str(info.value)


def test_a_missing_file_says_what_to_pass(tmp_path):
    with pytest.raises(EndpointsError, match="no such file; pass the path of an endpoints file"):
        load_endpoints(tmp_path / "nope.yaml")


@pytest.mark.parametrize(("source", "expected"), [
    ("import loadtests.plugin  # noqa\n", True),
    ("from loadtests import plugin\n", True),
    ("from loadtests.plugin import *\n", True),
    ("from locust import task\n", False),
    ("def f():\n    import loadtests.plugin\n", False),
], ids=["import", "from-import", "star import", "no import", "only inside a function"])
def test_a_locustfile_must_import_the_plugin_at_its_top_level(tmp_path, source, expected):
    path = tmp_path / "lf.py"
    path.write_text(source)
    assert imports_plugin(path) is expected
