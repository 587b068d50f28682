"""The fault proxy: Envoy in front of any HTTP service, its faults switched through the same
fault API as the demo app's, with TTLs that hold.

    routes      the faultable path prefixes (PROXY_ROUTES) and how a fault's globs select them
    bootstrap   Envoy's static bootstrap (pure): a front layer with per-route stats, a fault
                layer (internal listener) with the fault filter (docs/fault-proxy.md)
    runtime     faults -> Envoy runtime keys (pure), and reading Envoy's /runtime
    envoy       the Envoy binary and its admin endpoint (adapter)
    controller  ProxyRegistry (Envoy follows it; TTLs, reconciling) and the fault API app
    watchdog    `python -m stack.proxy.watchdog`: ends what Envoy holds past its end (no state)
    serve       `python -m stack.proxy`: Envoy, the controller and its watchdog as one part
    rules       Prometheus recording rules that put Envoy's metrics in the native spec's shape
"""
