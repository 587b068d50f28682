"""The exit codes every command of the harness shares.

    0  OK            every SLO met, every expectation held, delivered, done
    1  FAILED        a verdict against the service: violated, failed, not delivered
    2  NOT_EVALUATED could not evaluate: bad input or usage, unreachable, no data, interrupted

A usage error (an unparsable flag) is 2, never 1: 1 is a claim about the service. `make` only
tells zero from non-zero (it turns any failing recipe into its own 2), so CI jobs that need to
tell 1 from 2 read the command's own code or the JSON it writes.
"""

OK = 0
FAILED = 1
NOT_EVALUATED = 2
