"""The judge: a spec's SLOs over a time window, against Prometheus -> verdicts (`slo check`).

    window    the time window judged (a run record, --start/--end, --last)
    promql    the PromQL built from the model (pure)
    prom      the one Prometheus adapter (queries with a bounded retry, status endpoints)
    coverage  how much of the window was observed: gaps, down targets, resets (pure)
    checker   samples -> verdicts (pure judge()), and evaluate() running the queries
    outcome   verdicts + the request's flags -> the gate's one Outcome (per SLO, exit code)
    outputs   terminal table, JSON, JUnit, Markdown, each from that Outcome
"""
