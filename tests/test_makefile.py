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


def make_n(*args, env=None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(["make", "-n", "--no-print-directory", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, **(env or {})})


def test_a_host_without_a_scheme_is_refused_not_dropped():
    """HOST=127.0.0.1:18000 was filtered out without a word: the load went to the demo app."""
    bad = make_n("load-headless", "HOST=127.0.0.1:18000")
    assert bad.returncode != 0
    assert "HOST=127.0.0.1:18000 is not a URL" in bad.stderr and "http://" in bad.stderr
    good = make_n("load-headless", "HOST=http://127.0.0.1:18000")
    assert good.returncode == 0 and "--host http://127.0.0.1:18000" in good.stdout
    shell = make_n("load-headless", env={"HOST": "mybox"})   # a shell's HOST: not ours
    assert shell.returncode == 0 and "--host" not in shell.stdout


def test_the_fresh_clone_check_clones_head_and_stays_out_of_make_test():
    """issue 19: `make test` failed on a fresh clone while it passed in a used checkout; the
    check runs the README's command there, on its own (~10 min), never inside `make test`."""
    fresh = make_n("test-fresh-clone")
    assert fresh.returncode == 0, fresh.stderr
    assert "git rev-parse HEAD" in fresh.stdout and "git clone" in fresh.stdout
    assert "env -u PYTHONPATH -u VIRTUAL_ENV -u STACK_DIR make -C" in fresh.stdout
    assert "install test" in fresh.stdout
    plain = make_n("test").stdout   # (the checkout's own path may hold any word: not asked)
    assert "git clone" not in plain and "test-fresh-clone" not in plain
    assert (REPO / ".ci" / "run").read_text().rstrip().splitlines()[-1] == "make test"


def test_spec_rules_and_forget_reach_the_stack_and_the_spec_reaches_load_and_check():
    """issue 21: your rules, your spec: `make stack SPEC=` generates and loads the spec's rules
    and records it; `make load SPEC=` shows it in the SLO tab; RULES= and FORGET=1 reach
    `stack up`. Without SPEC, load and slo-check name no spec (they take the stack's)."""
    up = make_n("stack", "SPEC=my.yaml", "RULES=rules.d", "FORGET=1").stdout
    assert "-m slo.cli rules --stack --spec my.yaml" in up
    assert "SLO_SPEC=my.yaml STACK_EXTRA_RULES=rules.d " in up and "-m stack up" in up
    assert "--forget" in up
    plain = make_n("stack").stdout
    assert "-m slo.cli rules --stack" in plain and "--spec" not in plain
    assert "SLO_SPEC" not in plain and "--forget" not in plain
    assert "SLO_SPEC=my.yaml " in make_n("load", "SPEC=my.yaml").stdout
    assert "SLO_SPEC" not in make_n("load").stdout
    assert "--spec my.yaml" in make_n("slo-check", "SPEC=my.yaml").stdout
    assert "--spec" not in make_n("slo-check").stdout
    assert "rules --spec slo/slos.yaml" in make_n("rules").stdout   # the committed demo rules
    assert "--web" in make_n("demo", "WEB=1").stdout


def test_processes_reach_locust_after_the_harness_options():
    """make load-headless PROCESSES=2: Locust forks two workers (docs/load.md)."""
    forked = make_n("load-headless", "PROCESSES=2", "HOST=http://127.0.0.1:18000")
    assert forked.returncode == 0, forked.stderr
    assert forked.stdout.rstrip().endswith("--host http://127.0.0.1:18000 -- --processes 2")
    assert "--processes" not in make_n("load-headless").stdout
