"""`slo init`: recognise a service's instrumentation and write a starting slo-harness/v1 spec.

    inventory   the series a service exposes: its /metrics page (prometheus_client's parsers)
                or Prometheus's series of a job (slo.judge.prom), as one frozen Inventory
    recognise   every preset of slo.spec.presets scored against an Inventory, ranked; the
                HTTP/gRPC-looking families no preset explains
    starter     the spec text for the best match: availability, error ratio and p95 on a
                bucket bound the histogram has
"""
