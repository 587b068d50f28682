"""The judge: a spec's SLOs over a time window, against Prometheus -> verdicts (`slo check`).

    window    the time window judged (a run record, --start/--end, --last)
    promql    the PromQL built from the model (pure)
    prom      the one Prometheus adapter (queries with a bounded retry, status endpoints)
    coverage  how much of the window was observed: gaps, down targets, resets (pure)
    checker   one SLO's measured numbers -> a frozen Verdict (pure judge(), slices, baseline)
    judgement the one judgement: spec + observations + request -> a frozen Judgement (pure
              judge_window(): verdicts, coverage, unseen faults, slices, baseline, outcome)
    observe   the I/O: every query of a check -> frozen Observations; evaluate() = both
    outcome   verdicts + the request's flags -> the gate's one Outcome (per SLO, exit code)
    outputs   terminal table, JSON, JUnit, Markdown, each from that Outcome
"""
