"""Which spec a command uses when none is given: the stack's, never the demo's for your service.

    choice = choose_spec(args.spec, read_stack_env())
    choice.path      # the spec file, or None (then choice.why says what to give)

In order: the spec given (--spec, SPEC=, --slo-spec); the SLO_SPEC the stack recorded in
.stack/env (`make stack SPEC=...`); with a stack in front of TARGET_URL, none (the demo's spec
describes the demo app, not the user's service); else the demo's slo/slos.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from slo.spec import DEFAULT_SPEC

GIVEN, STACK, DEMO, NONE = "given", "stack", "demo", "none"


@dataclass(frozen=True)
class SpecChoice:
    """The spec a command uses (None: no spec) and where it comes from."""

    path: str | None
    source: str          # given | stack | demo | none
    why: str


def choose_spec(given: str | None, stack: Mapping[str, str]) -> SpecChoice:
    """The spec for `given` (None or "": not given) and the stack's recorded env."""
    if given:
        return SpecChoice(given, GIVEN, f"{given} (given)")
    recorded = stack.get("SLO_SPEC") or ""
    if recorded:
        return SpecChoice(recorded, STACK, f"{recorded} (the stack's SLO_SPEC, .stack/env)")
    target = stack.get("TARGET_URL") or ""
    if target:
        return SpecChoice(None, NONE,
                          f"no spec: the stack runs in front of {target} and records no SLO_SPEC; "
                          f"give your spec (make stack SPEC=your-slos.yaml records it; or "
                          f"SPEC=... / --spec) - the demo's {DEFAULT_SPEC} describes the demo "
                          f"app, not your service")
    return SpecChoice(DEFAULT_SPEC, DEMO, f"{DEFAULT_SPEC} (the demo's)")
