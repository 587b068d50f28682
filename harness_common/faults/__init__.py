"""The fault contract every part speaks: kinds and their bounded fields, the client, the CLI.

    model     latency / error / abort specs with bounds on every field, TTLs
    routes    which paths a route glob selects (/metrics, /health, /admin: never by a wildcard)
    backends  the two fault backends (the demo app, the fault proxy) and what each refuses
    registry  FaultRegistry: the active faults with their TTLs, a reaper switching them off
    api       the /admin/faults HTTP API (bearer token) both backends serve on a registry
    client    FaultClient: set, list, clear through the fault API (either backend)
    cli       `python -m harness_common.faults set|list|clear` (make fault, make fault-clear)
"""
