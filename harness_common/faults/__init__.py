"""The fault contract every part speaks: kinds and their bounded fields, the client, the CLI.

    model    latency / error / abort specs with bounds on every field, TTLs
    routes   which paths a route glob selects (/metrics, /health, /admin: never by a wildcard)
    client   FaultClient: set, list, clear through the fault API
    cli      `python -m harness_common.faults set|list|clear` (make fault, make fault-clear)
"""
