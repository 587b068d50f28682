"""The Makefile is the user's interface: every contract target is listed by `make help`, which
prints plain text when it is not on a terminal (issue: ANSI codes in CI logs and pipes)."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTRACT = ("help install test demo setup stack stack-down stack-status stack-logs app load "
            "load-headless load-distributed fault fault-clear slo-check rules alert-check bench "
            "telegram-sandbox").split()


def test_make_help_lists_every_contract_target_without_escape_codes_in_a_pipe():
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True,
                         timeout=30, check=True).stdout
    assert "\x1b[" not in out
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(CONTRACT) <= listed, sorted(set(CONTRACT) - listed)
