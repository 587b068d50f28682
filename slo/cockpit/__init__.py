"""The cockpit: the live SLO view a person watches while a test runs (the SLO tab of Locust's
web UI), from Prometheus, the alert rules and the Telegram sandbox.

    snapshot  what the view shows, measured now (the pure builder and its queries)
    tab       the SLO tab: a plugin of the load tests' web UI (entry point
              `slo_harness.locust_tabs`), so loadtests never imports the judge
"""
