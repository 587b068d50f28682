"""The outcome of a check: decided once from the verdicts and the request's flags, read by
every output (terminal, JSON, JUnit, Markdown) and by the exit code.

    outcome = decide(result.verdicts, strict=result.strict)   # --strict, as the check recorded it
    outcome.exit_code                 # 0 passed, 1 failed, 2 not evaluated
    outcome.slo("error-ratio")        # SloOutcome: passed | failed | not_evaluated, and why

A verdict says what was measured (met, warn, violated, no data, inconclusive); the outcome says
what the gate makes of it. They differ where a flag is a rule of the gate and not of the
measurement: `--strict` fails a warning. (A baseline's regression and a `--slices` share are
measured: the checker makes them a violated verdict.) Each output shows the verdict and the
outcome from this one value, so a JUnit file can never be green while the exit code is 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness_common import exitcodes
from slo.judge.checker import INCONCLUSIVE, MET, NO_DATA, NOT_JUDGED, VIOLATED, WARN

PASSED, FAILED, NOT_EVALUATED = "passed", "failed", "not_evaluated"
OUTCOME_OF_EXIT = {exitcodes.OK: PASSED, exitcodes.FAILED: FAILED,
                   exitcodes.NOT_EVALUATED: NOT_EVALUATED}
# no data is a refusal: the judge would not judge what it did not see (the reason says what)
LABEL = {MET: "MET", WARN: "WARN", VIOLATED: "VIOLATED", NO_DATA: "NOT EVALUATED",
         INCONCLUSIVE: "INCONCLUSIVE"}
STRICT_RULE = "fails --strict"   # what --strict does to a warning


@dataclass(frozen=True)
class SloOutcome:
    """What the gate makes of one SLO's verdict.

    status: the verdict (met, warn, violated, no_data, inconclusive); outcome: passed, failed
    or not_evaluated; rule: the flag's rule that turned the verdict's usual outcome into this
    one ("" when none did).
    """

    name: str
    status: str
    outcome: str
    rule: str = ""

    @property
    def label(self) -> str:
        """The verdict as every output shows it: "WARN", or "WARN (fails --strict)"."""
        return LABEL[self.status] + (f" ({self.rule})" if self.rule else "")


@dataclass(frozen=True)
class Outcome:
    """The whole check's outcome: one SloOutcome per verdict (in its order) and the exit code."""

    slos: tuple[SloOutcome, ...]
    exit_code: int
    strict: bool = False

    @property
    def overall(self) -> str:
        """passed (exit 0), failed (exit 1) or not_evaluated (exit 2)."""
        return OUTCOME_OF_EXIT[self.exit_code]

    def count(self, outcome: str) -> int:
        """How many SLOs have this outcome."""
        return sum(s.outcome == outcome for s in self.slos)

    def slo(self, name: str) -> SloOutcome:
        """The outcome of the SLO named `name` (KeyError for a verdict it was not decided for:
        an output must never show a verdict without its outcome)."""
        for item in self.slos:
            if item.name == name:
                return item
        raise KeyError(f"no outcome decided for SLO {name!r}")

    @property
    def headline(self) -> str:
        """One line for people: the terminal's last line, the Markdown's title, JSON's
        "verdict"."""
        if self.exit_code == exitcodes.OK:
            return "all SLOs met"
        if self.exit_code == exitcodes.FAILED:
            if any(s.status == VIOLATED for s in self.slos):
                return "SLO violated"
            return f"SLO warning {STRICT_RULE}"
        if not self.slos:
            return "could not evaluate (no SLO was judged)"
        return "could not evaluate (no data or inconclusive)"

    def as_dict(self) -> dict:
        """The outcome's fields of the JSON result (each SLO's is beside its verdict)."""
        return {"outcome": self.overall, "exit_code": self.exit_code, "verdict": self.headline,
                "strict": self.strict,
                "counts": {o: self.count(o) for o in (PASSED, FAILED, NOT_EVALUATED)}}


def slo_outcome(name: str, status: str, *, strict: bool = False) -> SloOutcome:
    """met passes; warn passes unless strict; violated fails; no data and inconclusive are not
    evaluated (never a pass)."""
    if status in NOT_JUDGED:
        return SloOutcome(name, status, NOT_EVALUATED)
    if status == VIOLATED:
        return SloOutcome(name, status, FAILED)
    if status == WARN and strict:
        return SloOutcome(name, status, FAILED, STRICT_RULE)
    if status in (MET, WARN):
        return SloOutcome(name, status, PASSED)
    raise ValueError(f"unknown verdict status {status!r} of SLO {name!r}")


def decide(verdicts, *, strict: bool = False) -> Outcome:
    """The outcome of `verdicts` (anything with .name and .status) under the request's flags:
    exit 1 when any SLO failed, else 2 when any (or every, or no SLO at all) was not
    evaluated, else 0."""
    slos = tuple(slo_outcome(v.name, v.status, strict=strict) for v in verdicts)
    outcomes = {s.outcome for s in slos}
    if FAILED in outcomes:
        code = exitcodes.FAILED
    elif NOT_EVALUATED in outcomes or not slos:
        code = exitcodes.NOT_EVALUATED
    else:
        code = exitcodes.OK
    return Outcome(slos, code, strict)
