"""What a spec's alerts are: burn-rate maths and every file generated from the spec.

    burnrate   the SRE workbook's multi-window multi-burn-rate table, profiles, detection maths
    rules      Prometheus recording and alerting rules
    grafana    Grafana alert rules and the SLO dashboard
    detection  how fast an alert should fire and resolve, for experiments' theory columns
    generate   the one list of generated files (`slo rules`, its --check and the drift test)
"""
