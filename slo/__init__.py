"""The judge: an SLO spec, and everything generated from it.

    spec (slos.yaml, OpenSLO)  ->  model  ->  promql / burnrate  ->  rules, grafana  ->  cli

`slo.spec.load_spec(path)` validates a spec file once, at the edge, into the frozen
`slo.spec.model.Spec`; everything after it works on valid objects only and is pure, so it is
unit-tested without servers. `slo rules` writes the generated files under stack/.
"""
