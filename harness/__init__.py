"""What every part of slo-harness uses, and nothing else: the neutral floor under the others.

    harness.errors      the one root exception (HarnessError), Problem and InputError
    harness.exitcodes   the exit codes every command shares (0 ok, 1 failed, 2 could not evaluate)
    harness.durations   the one duration parser ("30s", "1h30m", "30d")
    harness.yamlsafe    the one strict YAML loader (no duplicate keys, no aliases, bounded)
    harness.inputs      the one bounded file reader for user inputs (specs, experiments, schedules)
    harness.validation  pydantic errors -> Problems with field paths
    harness.stackenv    where the stack is (.stack/env), read the same way by every CLI
    harness.buckets     the latency histogram layout shared by the app and the load generator
    harness.faults      the fault contract (kinds, bounds), its admin-API client and CLI

Layers: harness <- target_app, stack <- loadtests <- slo. This package imports none of them
(tests/test_layout.py proves it).
"""
