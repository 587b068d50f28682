"""The SLO tab of Locust's web UI, in headless Chromium (Playwright), against a real stack.

What a person sees: a fault set in the Chaos tab turns the error-ratio SLO red and its page
alert firing, then delivered to the Telegram sandbox, within the times the experiment runner
holds a run to (smoke.yaml: firing within 40 s, Telegram within 45 s); the page follows Locust's
dark and light themes; a foreign Host header is refused; with Prometheus down the tab says so in
one line instead of showing old numbers.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness_common.faults.client import FaultClient
from harness_common.stackenv import read_stack_env
from stack.config import StackSettings, private_stack_env
from stack.launcher import stop_part
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, browser_marks, locust_web_ui, start_from_the_ui

REPO = Path(__file__).resolve().parent.parent
FIRING_WITHIN_S, DELIVERED_WITHIN_S = 40, 45   # slo/experiments/smoke.yaml's expectations

pytestmark = browser_marks()


@pytest.fixture
def stack(tmp_path):
    """A private native stack with the fast alert profile; stopped afterwards."""
    env = private_stack_env(tmp_path / "stack", SLO_PROFILE="fast",
                            REPORTS_DIR=str(tmp_path / "reports"), APP_BASELINE_DELAY_MS="0")
    up = subprocess.run([sys.executable, "-m", "stack", "up"], env=env, cwd=REPO,
                        capture_output=True, text=True, timeout=180, check=False)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        yield env
    finally:
        subprocess.run([sys.executable, "-m", "stack", "down"], env=env, cwd=REPO,
                       capture_output=True, check=False, timeout=60)


@pytest.fixture
def locust_web(stack, tmp_path):
    """`python -m loadtests web` against the stack's app (found in .stack/env)."""
    try:
        with locust_web_ui(stack, tmp_path / "locust.log", ["--users", "8", "--spawn-rate", "8"],
                           "/tabs/slo/data") as url:
            yield url
    finally:
        pairs = read_stack_env(stack["STACK_DIR"])
        FaultClient(pairs["APP_URL"], pairs["FAULT_ADMIN_TOKEN"]).clear()


def wait_for(predicate, seconds: float, what: str, interval: float = 0.3):
    """predicate()'s first truthy value within `seconds` (AssertionError naming `what`)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(interval)
    raise AssertionError(f"not within {seconds:.0f}s: {what}")


def test_a_chaos_fault_turns_the_slo_red_and_its_alert_firing_then_delivered(locust_web, stack,
                                                                              tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            start_from_the_ui(page, locust_web + "/", "SLO")
            page.get_by_role("tab", name="SLO").click()
            slo_tab = page.frame_locator("iframe.slo-tab-slo")
            error_row = slo_tab.locator("#slos tbody tr", has_text="error-ratio")
            error_row.locator("td.pass").first.wait_for(timeout=30_000)   # healthy first
            # Locust's own truth over the same window, beside the verdict (loadtests.recent)
            wait_for(lambda: re.search(r"\d+ requests, 0 failed", error_row.inner_text()), 10,
                     "Locust's requests in the error-ratio row")
            page_alert = slo_tab.locator("#alerts tbody tr").filter(
                has_text="slo=error-ratio").filter(has_text="long=1m")
            states = []

            def state() -> str:
                text = page_alert.inner_text(timeout=5000)
                seen = next((s for s in ("firing", "pending", "inactive") if s in text), "?")
                if not states or states[-1] != seen:
                    states.append(seen)
                return text

            state()                                   # before the fault: inactive

            page.get_by_role("tab", name="Chaos").click()
            controls = page.frame_locator("iframe.chaos-controls")
            controls.locator("#error-form input[name=status]").fill("503")
            controls.locator("#error-form input[name=probability]").fill("1")
            controls.get_by_role("button", name="Set error").click()
            controls.get_by_role("status").filter(has_text="error fault set").wait_for()
            fault_at = time.monotonic()

            page.get_by_role("tab", name="SLO").click()
            slo_tab = page.frame_locator("iframe.slo-tab-slo")
            error_row = slo_tab.locator("#slos tbody tr", has_text="error-ratio")
            error_row.locator("td.fail").first.wait_for(timeout=FIRING_WITHIN_S * 1000)
            red_after = time.monotonic() - fault_at
            assert "fail" in (error_row.get_attribute("class") or "")
            assert "503" in slo_tab.locator("#faults").inner_text()     # the fault on now
            # the app's own fault: its metrics count the 503s, so it is judged, not blind
            assert "BLIND" not in error_row.inner_text()
            wait_for(lambda: re.search(r"requests, [1-9]\d* failed", error_row.inner_text()),
                     10, "Locust's failures in the error-ratio row")

            wait_for(lambda: "firing" in state(), FIRING_WITHIN_S - red_after,
                     "the page alert firing in the SLO tab")
            firing_after = time.monotonic() - fault_at
            wait_for(lambda: "delivered" in state(), DELIVERED_WITHIN_S - firing_after + 5,
                     "the page alert's Telegram delivery in the SLO tab")
            delivered_after = time.monotonic() - fault_at
            # inactive before the fault, then only forward (pending may pass between two looks)
            order = ["inactive", "pending", "firing"]
            assert states[0] == "inactive" and states[-1] == "firing", states
            steps = [order.index(s) for s in states]
            assert steps == sorted(steps), states

            # Locust's theme toggle is localStorage.theme: the page follows it
            html = slo_tab.locator("html")
            page.evaluate("localStorage.setItem('theme', 'dark')")
            wait_for(lambda: html.get_attribute("data-theme") == "dark", 5, "the dark theme")
            page.evaluate("localStorage.setItem('theme', 'light')")
            wait_for(lambda: html.get_attribute("data-theme") == "light", 5, "the light theme")

            # Locust's log names the tab's own address, which opens the web UI on it
            printed = re.search(r"SLO tab: (\S+)", (tmp_path / "locust.log").read_text())
            assert printed and printed.group(1) == locust_web + "/?tab=slo"
            direct = browser.new_page()
            direct.goto(printed.group(1))
            direct.frame_locator("iframe.slo-tab-slo").locator("#slos tbody tr").first.wait_for(
                timeout=15000)

            # Prometheus down: one clear line, no stale verdicts
            stop_part("prometheus", StackSettings.from_env(stack))
            status = slo_tab.locator("#status")
            wait_for(lambda: "Prometheus unreachable" in status.inner_text(), 15,
                     "the 'Prometheus unreachable' line")
            assert "down" in (status.get_attribute("class") or "")
        finally:
            browser.close()
    assert delivered_after <= DELIVERED_WITHIN_S, (red_after, firing_after, delivered_after)
    print(f"\nSLO tab: red after {red_after:.1f}s, firing {firing_after:.1f}s, Telegram "
          f"{delivered_after:.1f}s")

    # the same cross-site guard as the Chaos tab
    port = locust_web.rsplit(":", 1)[1]
    rebound = requests.get(locust_web + "/tabs/slo/data",
                           headers={"Host": f"rebind.evil.example:{port}"}, timeout=5)
    assert rebound.status_code == 403
    assert requests.get(locust_web + "/tabs/slo/data", timeout=5).headers[
        "Access-Control-Allow-Origin"] == locust_web
