"""The shared fixtures start real processes that answer, and stop them afterwards."""

import pytest
import requests

pytestmark = pytest.mark.integration


def test_prometheus_fixture_scrapes_the_real_app(app_server, start_prometheus):
    from stack.procs import wait_until

    prom = start_prometheus({"portfolio-app": [f"127.0.0.1:{app_server.port}"]})

    def app_up():
        r = requests.get(prom.url + "/api/v1/query", params={"query": 'up{job="portfolio-app"}'},
                         timeout=2).json()
        return r["data"]["result"] and r["data"]["result"][0]["value"][1] == "1"

    assert wait_until(app_up, 20, "the app target to be up")


def test_alertmanager_fixture_answers_ready(start_alertmanager):
    am = start_alertmanager("route: {receiver: none}\nreceivers: [{name: none}]\n")
    status = requests.get(am.url + "/api/v2/status", timeout=2).json()
    assert status["cluster"]["status"] == "disabled"
    am.proc.stop()
    assert not am.proc.alive()
