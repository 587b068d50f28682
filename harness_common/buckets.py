"""The latency histogram layout: one list, shared by the app's histogram and Locust's client one.

Fine-grained around 50 ms - 2 s, and containing every latency threshold of slo/slos.yaml
(tests/test_slo_spec checks that), so "fraction of requests under the threshold" is exact.
"""

DEFAULT_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0,
)
