"""The Chaos tab of Locust's web UI, driven in headless Chromium (Playwright).

Start a test from the UI, open the Chaos tab, set a latency fault with its form, see it active
at the app's admin API and in the tab's table, clear it, and check the guard on the POST routes.
"""

import os
from pathlib import Path

import pytest
import requests

from harness_common.faults.client import FaultClient
from loadtests.record import load_record
from stack.procs import wait_until
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, browser_marks, locust_web_ui, start_from_the_ui

REPO = Path(__file__).resolve().parent.parent

pytestmark = browser_marks()


@pytest.fixture
def locust_web(app_server, tmp_path):
    """`python -m loadtests web` against the shared app on a free port; stopped afterwards."""
    env = {**os.environ, "APP_URL": app_server.url, "FAULT_ADMIN_TOKEN": app_server.token,
           "REPORTS_DIR": str(tmp_path / "reports")}
    env.pop("SCENARIO", None)
    try:
        with locust_web_ui(env, tmp_path / "locust.log", ["--users", "2"],
                           "/chaos/faults") as url:
            yield url
    finally:
        FaultClient(app_server.url, app_server.token).clear()


def test_the_chaos_tab_sets_and_clears_a_fault_at_the_app(locust_web, app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    admin = FaultClient(app_server.url, app_server.token)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            start_from_the_ui(page, locust_web + "/", "Chaos")
            page.get_by_role("tab", name="Chaos").click()
            page.get_by_text("no fault is active").wait_for()

            controls = page.frame_locator("iframe.chaos-controls")
            controls.locator("#latency-form input[name=delay_ms]").fill("150")
            controls.locator("#latency-form input[name=routes]").fill("/api/*")
            controls.get_by_role("button", name="Set latency").click()
            controls.get_by_role("status").filter(has_text="latency fault set").wait_for()

            (fault,) = admin.list()
            assert (fault["kind"], fault["delay_ms"], fault["routes"]) == ("latency", 150,
                                                                           ["/api/*"])
            row = page.get_by_role("row").filter(has_text="delay_ms=150")
            row.wait_for()
            assert "web-ui" in row.inner_text()

            controls.get_by_role("button", name="Clear latency").click()
            controls.get_by_role("status").filter(has_text="cleared: latency").wait_for()
            assert admin.list() == []
            page.get_by_text("no fault is active").wait_for()
        finally:
            browser.close()

    # the token never reached the browser, and cross-site posts are refused
    page_html = requests.get(locust_web + "/chaos", timeout=5).text
    assert app_server.token not in page_html
    forged = requests.post(locust_web + "/chaos/set/latency", data={"delay_ms": "100"},
                           headers={"Origin": "http://evil.example"}, timeout=5)
    no_token = requests.post(locust_web + "/chaos/set/latency", data={"delay_ms": "100"},
                             headers={"Origin": locust_web}, timeout=5)
    assert (forged.status_code, no_token.status_code) == (403, 403)
    rebound = requests.get(locust_web + "/chaos", headers={"Host": "rebind.evil.example:"
                                                          + locust_web.rsplit(":", 1)[1]},
                           timeout=5)
    assert rebound.status_code == 403 and "csrf_token" not in rebound.text
    assert admin.list() == []

    # stopping the test writes its record with the window the tab opened
    requests.post(locust_web + "/stop", timeout=10)
    records = wait_until(lambda: list((tmp_path / "reports").glob("*/run.json")), 10,
                         "the run record")
    (window,) = load_record(records[0]).faults
    assert (window.kind, window.source, window.params["delay_ms"]) == ("latency", "web-ui", 150)
    assert window.end_offset_s > window.start_offset_s
