"""Names and bounds every spec format shares (slo-harness/v1, Sloth, OpenSLO), in one place."""

from harness_common.durations import DAY

NAME = r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$"
SERVICE = r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
METRIC = r"^[a-zA-Z_:][a-zA-Z0-9_:]{0,199}$"
LABEL = r"^[a-zA-Z_][a-zA-Z0-9_]{0,99}$"
SEVERITY = r"^[a-z][a-z0-9_-]{0,30}$"
# an http(s) URL, or a path in this repository such as README.md#runbook
URL = r"^(?:https?://[^\s]{1,490}|[A-Za-z0-9_./-]{1,200}(?:#[A-Za-z0-9_-]{1,100})?)$"
MIN_WINDOW_S, MAX_WINDOW_S = 7 * DAY, 90 * DAY
MAX_FOR_S = DAY
MAX_LATENCY_MS = 3_600_000
MAX_RPS = 1e6
MAX_SPEC_BYTES = 1024 * 1024


def unique_by_name(built, problem, prefix: tuple = ()) -> list:
    """The SLOs a loader built ((index, SLO or None) pairs) without a second one of a name;
    each duplicate reported through problem(location, message)."""
    slos, seen = [], {}
    for index, slo in built:
        if slo is None:
            continue
        if slo.name in seen:
            problem(prefix + ("slos", index, "name"),
                    f"duplicate SLO name {slo.name!r} (also slos[{seen[slo.name]}]); names must "
                    "be unique")
            continue
        seen[slo.name] = index
        slos.append(slo)
    return slos
