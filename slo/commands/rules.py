"""`slo rules`: write the files generated from the spec, or check that they are up to date.

    slo rules                       # writes stack/prometheus/rules/slo-{standard,fast}.yml,
                                    # stack/grafana/provisioning/alerting/slo-rules.yaml and
                                    # stack/grafana/dashboards/slo.json
    slo rules --check               # exit 1 when a committed file differs from the spec
    slo rules --prometheus URL      # first prove every selector sees data there (exit 2 if not)
    slo rules --stack --spec my.yaml   # only the Prometheus rules, into <STACK_DIR>/rules/, for
                                    # `python -m stack up` with SLO_SPEC (`make stack SPEC=...`)

--prometheus proves over the window (--last) what `slo check` proves before a verdict, with the
same function (slo.judge.seeing -> slo.judge.judgement.unobserved): series with the labels and
label values each selector names, data from the window's start, scrapes covering it, a recent
last sample, events counted; and every latency threshold a bucket. Prometheus unreachable: 2.
"""

import difflib
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness_common import exitcodes
from harness_common.console import print_table
from harness_common.stackenv import read_stack_env, stack_env_path
from slo.alerting.burnrate import PROFILES
from slo.alerting.generate import DEFAULT_OUT_DIR, generated_files
from slo.alerting.rules import render_rules, unreachable_rows
from slo.judge.prom import Prometheus
from slo.judge.seeing import unseen_by_rules
from slo.judge.window import Window
from slo.spec import load_spec

HELP = "generate Prometheus rules and Grafana alerts/dashboard from the spec (--check: drift)"
DEFAULT_SPEC = "slo/slos.yaml"
DIFF_LINES = 40


def add_arguments(parser) -> None:
    """Register the options of `slo rules`."""
    parser.add_argument("--spec", default=None,
                        help=f"spec file (default {DEFAULT_SPEC}; with --stack: $SLO_SPEC, "
                             f"else the stack's recorded SLO_SPEC)")
    parser.add_argument("--stack", action="store_true",
                        help="write only the spec's Prometheus rules (every profile) into "
                             "<STACK_DIR>/rules/, which the stack loads for SLO_SPEC")
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                        help="directory the generated paths are relative to (default %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when a committed file differs from the spec")
    parser.add_argument("--prometheus", help="before writing, prove against this Prometheus "
                        "that every selector sees series with the labels it names and every "
                        "latency threshold is a bucket (exit 2 naming each problem)")
    parser.add_argument("--last", default="1h",
                        help="with --prometheus: the window they must see data in, scraped "
                             "throughout as `slo check` needs (default %(default)s)")


def source_name(spec_path: str) -> str:
    """The spec path as named in generated headers: relative to the working directory."""
    path = Path(spec_path)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_posix()
    return Path(os.path.normpath(path)).as_posix()


def _diff(old: str, new: str, name: str) -> str:
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"committed/{name}",
                                      f"generated/{name}", lineterm="", n=1))
    more = len(lines) - DIFF_LINES
    return "\n".join(lines[:DIFF_LINES]) + (f"\n... {more} more diff lines" if more > 0 else "")


def stack_rules(args, console: Console) -> int:
    """--stack: the rules of the spec given, $SLO_SPEC or the stack's recorded one, written
    where the stack loads them for SLO_SPEC; nothing to do (exit 0, silent) without a spec."""
    from stack.config import recorded_environ  # the stack's (the lab install's): --stack only

    env_file = stack_env_path()
    # the settings `python -m stack up` will use: the recorded ones where the environment
    # leaves them empty (make exports TARGET_URL empty when it is not given)
    recorded = read_stack_env()
    settings, _ = recorded_environ(os.environ, recorded)
    path = args.spec or settings.get("SLO_SPEC")
    if not path:   # the stack says what it loads instead (`make stack` runs this each time)
        return exitcodes.OK
    spec = load_spec(path)
    refused = running_spec_conflict(env_file.parent, recorded.get("SLO_SPEC"), path)
    if refused:    # the stack would refuse the change: its rule files stay those it loads
        console.print(Text.assemble(("no rules written", "red"), f": {refused}"), soft_wrap=True)
        return exitcodes.NOT_EVALUATED
    out = env_file.parent / "rules"
    out.mkdir(parents=True, exist_ok=True)
    for name, profile in PROFILES.items():
        (out / f"slo-{name}.yml").write_text(render_rules(spec, profile, source_name(path)),
                                             encoding="utf-8")
        for warning in unreachable_rows(spec, profile):
            console.print(f"warning ({name}): {warning}", soft_wrap=True)
    # Grafana's share (its SLO alerts and dashboard): the stack provisions these instead of
    # the demo's when it runs in front of TARGET_URL.
    for rel, text in generated_files(spec, source_name(path)).items():
        if rel.startswith("grafana/"):
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    console.print(f"rules of {len(spec.slos)} SLO(s) of {spec.service} from {path} written to "
                  f"{out}/slo-{{{','.join(PROFILES)}}}.yml (Grafana's: {out}/grafana)",
                  highlight=False, soft_wrap=True)
    for warning in unscraped_jobs(spec, settings):
        console.print(f"warning: {warning}", soft_wrap=True)
    return exitcodes.OK


def running_spec_conflict(stack_dir: Path, recorded: str | None, path: str) -> str | None:
    """Why the stack running from `stack_dir` with the `recorded` SLO_SPEC would refuse the
    rules of the spec at `path` (stack.config.spec_change_refused, as its launcher says), or
    None (nothing runs, or it runs this spec, whose regenerated rules it rereads)."""
    from stack.config import spec_change_refused
    from stack.state import load_state

    state = load_state(stack_dir / "state.json")
    if state is None or not (state.mode == "compose"
                             or any(part.leader_alive() for part in state.parts)):
        return None
    return spec_change_refused(recorded or None, path)


def stack_jobs(env: dict) -> tuple[str, ...]:
    """The jobs the native stack scrapes for the settings `env` (stack/render.py's jobs): in
    front of TARGET_URL, Envoy and (with TARGET_METRICS_URL) the service as job 'target'; else
    the demo app."""
    if env.get("TARGET_URL"):
        return ("envoy", "target") if env.get("TARGET_METRICS_URL") else ("envoy",)
    return ("portfolio-app",)


def unscraped_jobs(spec, env: dict) -> list[str]:
    """Why the stack could never feed the spec's rules: a job="..." its selectors name that the
    stack does not scrape (a new user's `slo init --job my-shop` beside the stack's 'target')."""
    named = sorted({m.value for slo in spec.slos for src in slo.sources
                    for m in src.selector.matchers if m.label == "job" and m.op == "="})
    jobs = stack_jobs(env)
    missing = [job for job in named if job not in jobs]
    if not missing:
        return []
    fix = ("set prometheus.job: target and give TARGET_METRICS_URL=<your service's /metrics> "
           "(the stack scrapes it as job 'target'), or judge from the proxy: preset envoy, "
           "job envoy" if env.get("TARGET_URL") else
           "point TARGET_URL (and TARGET_METRICS_URL) at your service, or fix prometheus.job")
    return [f"the spec reads job {', '.join(repr(j) for j in missing)}, which this stack does "
            f"not scrape (its jobs: {', '.join(jobs)}): its rules and `slo check` would see "
            f"no data; {fix}"]


def run(args, console: Console) -> int:
    """Generate (or --check) every file; 0 ok, 1 drift found by --check."""
    if args.stack:
        return stack_rules(args, console)
    args.spec = args.spec or DEFAULT_SPEC
    spec = load_spec(args.spec)
    if args.prometheus:
        window = Window.from_last(args.last, time.time())
        problems = unseen_by_rules(Prometheus(args.prometheus), spec, window)
        for name, problem in problems:
            console.print(Text.assemble((f"{name}:", "red"), f" {problem}"), soft_wrap=True)
        if problems:
            console.print(Text.assemble(("no rules written", "red"),
                                        f": {len(problems)} problem(s) with the data the rules "
                                        f"would read at {args.prometheus} (last {args.last}): the "
                                        "proof `slo check` makes before a verdict"),
                          soft_wrap=True)
            return exitcodes.NOT_EVALUATED
        console.print(Text(f"every selector sees data at {args.prometheus} (last "
                           f"{args.last}): what `slo check` proves before a verdict"),
                      soft_wrap=True)
    files = generated_files(spec, source_name(args.spec))
    out_dir = Path(args.out_dir)
    table = Table()
    table.add_column("file")
    table.add_column("status")
    drifted = []
    for rel, text in files.items():
        path = out_dir / rel
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            table.add_row(Text(str(path)), Text("up to date", style="green"))
        elif args.check:
            drifted.append((path, current, text))
            table.add_row(Text(str(path)), Text("missing" if current is None else "differs",
                                                style="red"))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            table.add_row(Text(str(path)), Text("written", style="yellow"))
    print_table(console, f"slo rules from {args.spec} ({len(spec.slos)} SLOs)", table)
    for profile in PROFILES.values():
        for warning in unreachable_rows(spec, profile):
            console.print(Text.assemble((f"warning ({profile.name}):", "yellow"),
                                        f" {warning}"), soft_wrap=True)
    if drifted:
        for path, current, text in drifted:
            if current is not None:
                console.print(Text(_diff(current, text, path.name)), soft_wrap=True)
        console.print(Text.assemble((f"{len(drifted)} generated file(s) differ from "
                                     f"{args.spec}", "red"), ": run `make rules` (or `slo "
                                    "rules`) and commit the result"), soft_wrap=True)
        return exitcodes.FAILED
    return exitcodes.OK
