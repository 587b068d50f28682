"""What every part of slo-harness uses, and nothing else: the neutral floor under the others.

    errors      the one root exception (HarnessError), Problem and InputError
    exitcodes   the exit codes every command shares (0 ok, 1 failed, 2 could not evaluate)
    durations   the one duration parser ("30s", "1h30m", "30d")
    yamlsafe    the one strict YAML loader (no duplicate keys, no aliases, bounded)
    inputs      the one bounded reader of user files (specs, experiments, schedules)
    validation  pydantic errors -> Problems with field paths
    stackenv    where the stack is (.stack/env), read the same way by every CLI
    http        the session of long-lived HTTP clients: a call the server's keep-alive close
                cut is sent once more on a new connection
    buckets     the latency histogram layout shared by the app and the load generator
    exposition  the default collectors and the /metrics answer every part serves
    faults      the fault contract (kinds, bounds, backends), its registry, API, client and CLI

Layers: harness_common <- target_app, stack <- loadtests <- slo. This package imports none of
them (tests/test_layout.py proves it). Its name is long on purpose: Locust puts a locustfile's
folder on sys.path, so a short name (`harness`) would be shadowed by any harness.py there.
"""
