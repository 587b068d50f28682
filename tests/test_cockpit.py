"""The SLO tab's document from canned answers (no servers): verdict colours, budget, rows,
alert states with their Telegram delivery, and Prometheus down as one line, never stale data."""

from pathlib import Path

from slo.alerting.burnrate import PROFILES
from slo.cockpit.snapshot import build_snapshot, live_groups, live_window_s
from slo.cockpit.tab import STATUS_TEXT, SloTab
from slo.judge.judgement import Observations, Observed
from slo.live.alerts import parse_rules
from slo.live.delivery import Notice
from slo.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
SPEC = load_spec(REPO / "slo" / "slos.yaml")
FAST = PROFILES["fast"]
NOW = 1_800_000_100.0
PAGE = {"severity": "page", "slo": "error-ratio", "service": "portfolio-app", "long": "1m",
        "short": "20s"}
RULES = {"status": "success", "data": {"groups": [{"name": "slo-error-ratio", "interval": 5,
         "rules": [{"type": "alerting", "name": "ErrorBudgetBurn", "labels": PAGE,
                    "duration": 0, "health": "ok", "query": "...", "alerts": [
                        {"labels": {**PAGE, "alertname": "ErrorBudgetBurn"}, "state": "firing",
                         "activeAt": "2027-01-15T08:01:20Z", "value": "100"}]},
                   {"type": "alerting", "name": "ErrorBudgetBurn",
                    "labels": {**PAGE, "long": "6m", "short": "30s"}, "duration": 0,
                    "health": "ok", "query": "...", "alerts": []}]}]}}


# what a message shows of the alert (stack/alertmanager/telegram.tmpl): the head's labels, and
# long and short from its labels line (a row of one SLO is told from another by them)
MESSAGE = {"alertname": "ErrorBudgetBurn", "slo": "error-ratio", "severity": "page",
           "service": "portfolio-app", "long": "1m", "short": "20s"}


HEALTHY = {"latency-p95": 0.05, "error-ratio": 0.5, "api-fast-requests": 0.99,
           "home-availability": 1.0, "throughput": 9.0}


def observed(values, spec=SPEC, faults=(), client=None):
    """What observe() would hand the tab: per live window its SLOs' numbers and faults."""
    return {w: Observations(tuple(Observed(n, value=values[n], total=1000.0) for n in names
                                  if n in values), faults=faults, client=client)
            for w, names in live_groups(spec, FAST).items()}


def snapshot(values=HEALTHY, faults=(), client=None, spec=SPEC, **overrides):
    answers = dict(observations=observed(values, spec, faults, client),
                   bad={"error-ratio": {20: 0.5, 60: 0.5, 43200: 0.005}},
                   rules=parse_rules(RULES, NOW), faults=[], prometheus_error=None,
                   found=[Notice("firing", MESSAGE, 7, 1_800_000_090.0, -1001234567890)],
                   chat_id=-1001234567890)
    answers.update(overrides)
    return build_snapshot(spec, FAST, NOW, **answers)


def test_each_slo_shows_its_live_value_window_verdict_and_budget():
    slos = {s["name"]: s for s in snapshot()["slos"]}
    assert slos["error-ratio"]["status"] == "fail" and slos["latency-p95"]["status"] == "pass"
    assert slos["error-ratio"]["live_window"] == "20s"    # the page row's short window
    assert slos["error-ratio"]["budget"]["left_shown"] == "50.0%"   # 0.5% of a 1% budget
    page = slos["error-ratio"]["budget"]["rows"][0]
    assert (page["long"], page["short"], page["long_burn"], page["burning"]) == (
        "1m", "20s", 50.0, True)
    assert slos["throughput"]["budget"] is None                      # a rate has no budget
    assert live_window_s(SPEC.slo("throughput"), FAST) == 30


def test_alerts_show_their_state_and_when_telegram_got_them():
    alerts = snapshot()["alerts"]
    firing = alerts[0]
    assert firing["state"] == "firing" and "long=1m" in firing["labels"]
    assert firing["delivered_at"] == "2027-01-15T08:01:30Z"
    assert alerts[1]["state"] == "inactive" and alerts[1]["delivered_at"] is None


def test_a_message_to_another_chat_is_not_a_delivery():
    alerts = snapshot(chat_id=-100999)["alerts"]
    assert alerts[0]["delivered_at"] is None


def test_a_message_of_another_instance_or_without_a_chat_is_not_this_alerts_delivery():
    """The tab matches messages as the delivery checks do (slo.live.delivery.first_notice):
    a block naming another SLO or service, or none, or one whose chat is unknown, was not
    this instance's message."""
    for labels, chat in (({**MESSAGE, "slo": "home-availability"}, -1001234567890),
                         ({**MESSAGE, "service": "another"}, -1001234567890),
                         ({**MESSAGE, "long": "6m", "short": "30s"}, -1001234567890),
                         ({"alertname": "ErrorBudgetBurn"}, -1001234567890),
                         (MESSAGE, None)):
        found = [Notice("firing", labels, 7, 1_800_000_090.0, chat)]
        assert snapshot(found=found)["alerts"][0]["delivered_at"] is None, (labels, chat)


def test_a_rule_prometheus_cannot_evaluate_is_an_error_not_inactive():
    broken = {"status": "success", "data": {"groups": [{"name": "slo-error-ratio", "interval": 5,
              "rules": [{"type": "alerting", "name": "ErrorBudgetBurn", "labels": PAGE,
                         "duration": 0, "health": "err", "lastError": "many-to-many matching",
                         "query": "...", "alerts": []},
                        {"type": "alerting", "name": "ErrorBudgetBurn",
                         "labels": {**PAGE, "long": "6m", "short": "30s"}, "duration": 0,
                         "health": "unknown", "query": "...", "alerts": []}]}]}}
    alerts = snapshot(rules=parse_rules(broken, NOW))["alerts"]
    assert [(a["state"], a["error"]) for a in alerts] == [
        ("error", "many-to-many matching"), ("not evaluated yet", None)]


def test_prometheus_down_is_one_line_and_no_verdict():
    doc = snapshot(values={}, bad={}, rules=None,
                   prometheus_error="Prometheus unreachable: connection refused")
    assert doc["prometheus"] == {"ok": False,
                                 "error": "Prometheus unreachable: connection refused"}
    assert {s["status"] for s in doc["slos"]} == {"no_data"} and doc["alerts"] == []


class Canned:
    """A Cockpit stand-in returning a fixed document."""

    spec = SPEC

    def __init__(self, doc):
        self.doc = doc

    def snapshot(self):
        return self.doc


def test_the_fault_api_is_asked_once_per_page_poll_and_never_for_the_table():
    """The table poll and the page poll both come every 2 s: only the page shows faults, and
    it shows them as the fault API answers now, whatever the cached Prometheus view holds."""
    asked = []
    on = [{"kind": "error", "status": 503, "probability": 1.0, "remaining_s": 12.0}]
    tab = SloTab(Canned(snapshot()), faults=lambda: asked.append(1) or on)
    tab.rows()
    assert asked == []
    doc = tab.data()
    assert asked == [1]
    assert doc["faults"] == [{"kind": "error", "settings": "status=503 probability=1.0",
                              "remaining_s": 12.0}] and doc["faults_error"] is None


def test_the_tabs_table_has_a_row_per_slo_or_the_unreachable_line():
    rows = SloTab(Canned(snapshot())).rows()
    assert [r["slo"] for r in rows][:2] == ["latency-p95 (key)", "api-fast-requests"]
    assert rows[2]["status"] == STATUS_TEXT["fail"] and "over 20s" in rows[2]["now"]
    down = SloTab(Canned(snapshot(prometheus_error="Prometheus unreachable: x"))).rows()
    assert down == [{"slo": "—", "now": "Prometheus unreachable: x", "objective": "",
                     "budget": "", "status": "❔ Prometheus unreachable"}]


def test_the_tab_script_mounts_pages_only_for_plugin_tabs():
    from loadtests.tabs import tab_script

    script = tab_script(["slo"])
    assert script.startswith('window.SLO_HARNESS_TABS = ["slo"];')
    assert "SLO_HARNESS_TABS || []).includes(key)" in script   # ?tab=stats gets no iframe


def test_the_tab_address_opens_the_web_ui_on_it():
    from loadtests.tabs import tab_url

    assert tab_url("", 8089, "", "slo") == "http://127.0.0.1:8089/?tab=slo"
    assert tab_url("0.0.0.0", 9000, "/locust", "slo") == "http://127.0.0.1:9000/locust/?tab=slo"
    assert tab_url("::1", 8089, "", "slo") == "http://[::1]:8089/?tab=slo"


class _Greenlet:
    def __init__(self, dead):
        self.dead = dead


class _Runner:
    def __init__(self, shape=None):
        self.shape_greenlet = shape


class _WebUi:
    def __init__(self, swarm=None):
        self._swarm_greenlet = swarm


def test_between_start_and_the_first_user_the_ui_hears_spawning_not_ready():
    """Locust's UI stops polling when a poll right after Start says "ready" (the runner's
    STATE_INIT while its shape greenlet has not spawned anyone yet)."""
    from loadtests.webui import starting

    assert starting(_Runner(_Greenlet(dead=False)), _WebUi())
    assert starting(_Runner(), _WebUi(_Greenlet(dead=False)))
    assert not starting(_Runner(), _WebUi())                       # idle: really ready
    assert not starting(_Runner(_Greenlet(dead=True)), _WebUi(_Greenlet(dead=True)))


def test_tabs_polling_at_once_share_one_measurement(monkeypatch):
    """Four tabs poll together while Prometheus is slow: one set of queries, one answer."""
    import threading
    import time

    from slo.cockpit.snapshot import Cockpit

    cockpit = Cockpit(SPEC, "http://127.0.0.1:9", "fast", clock=lambda: NOW)
    measured = []

    def slow(now):
        measured.append(now)
        time.sleep(0.3)
        return {}, {}, {}, parse_rules(RULES, now)

    monkeypatch.setattr(cockpit, "_measure", slow)
    docs = []
    threads = [threading.Thread(target=lambda: docs.append(cockpit.snapshot()))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(measured) == 1 and len(docs) == 4
    assert all(doc is docs[0] for doc in docs)
