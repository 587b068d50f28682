"""`slo run`: one experiment (phases of load, faults and expectations) end to end.

    schema        the experiment file -> a frozen Experiment (validated once)
    runner        the run: stack, preflight, load, faults, rollback -> ExperimentResult
    load          Locust as the load generator (one headless process through every phase)
    infra         kill / pause faults on the app's process
    progress      what the runner shows while it runs
    expectations  observations -> outcomes (pure)
    timings       per-alert timings beside the theory (pure)
    series        the Prometheus range data the report plots
    result        the typed, frozen record of a run (the only thing the report reads)
    report        summary.json, junit.xml, report.md, report.html (templates/)
"""
