"""The fault contract every part speaks: kinds and their bounded fields, the client, the CLI.

    harness.faults.model    latency / error / abort specs with bounds on every field, TTLs
    harness.faults.routes   which paths a route glob selects (/metrics, /health, /admin: never
                            by a wildcard)
    harness.faults.client   FaultClient: set, list, clear through the fault API
    harness.faults.cli      `python -m harness.faults set|list|clear` (make fault, fault-clear)
"""
