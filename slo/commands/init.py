"""`slo init`: recognise a service's instrumentation and write a starting spec.

    slo init --metrics-url http://127.0.0.1:5000/metrics --job portfolio-app -o slos.yaml
    slo init --prometheus http://127.0.0.1:9090 --job checkout -o checkout.yaml
    slo init ... --preset promhttp      # when two instrumentations fit equally well
    slo init ... --force                # overwrite an existing file

Prints what it recognised, the routes and status values found, the buckets and the chosen p95
threshold, and the HTTP/gRPC-looking families it could not recognise. Exit 0 when the spec was
written, 2 (naming the fix) when the metrics could not be read, nothing was recognised, two
presets fit equally well, or the output file exists.
"""

import re
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness_common import exitcodes
from slo.errors import InitError
from slo.init.inventory import Inventory, read_metrics_page, read_prometheus_job
from slo.init.recognise import Recognition, recognise
from slo.init.starter import starter
from slo.judge.prom import Prometheus
from slo.spec import parse_spec
from slo.spec.limits import SERVICE
from slo.spec.presets import PRESETS

HELP = "recognise a service's metrics (/metrics or a Prometheus job) and write a starting spec"
DEFAULT_OUT = "slos.yaml"
DEFAULT_SERVICE = "my-service"


def add_arguments(parser) -> None:
    """Register the options of `slo init`."""
    parser.add_argument("--metrics-url", help="the service's metrics page, e.g. "
                        "http://127.0.0.1:5000/metrics")
    parser.add_argument("--prometheus", help="a Prometheus that scrapes the service; with --job "
                        "(and no --metrics-url) the job's series are read there")
    parser.add_argument("--job", help="the job name Prometheus scrapes the service under "
                        "(default: --service)")
    parser.add_argument("--service", help="the service's name in the spec (default: --job, "
                        f"else {DEFAULT_SERVICE})")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="only try this instrumentation (when two fit equally well)")
    parser.add_argument("-o", "--out", default=DEFAULT_OUT,
                        help="spec file to write (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite the spec file if it exists")


def _inventory(args) -> Inventory:
    if args.metrics_url:
        return read_metrics_page(args.metrics_url)
    if args.prometheus and args.job:
        return read_prometheus_job(Prometheus(args.prometheus), args.job)
    raise InitError("nothing to read: pass --metrics-url URL (the service's metrics page), or "
                    "--prometheus URL with --job NAME (a job that Prometheus scrapes)")


def _nothing(recognition: Recognition, inventory: Inventory, preset: str | None) -> str:
    what = f"preset {preset!r}" if preset else "no preset"
    lines = [f"{inventory.source}: {what} fits these metrics "
             f"({len(inventory.names())} metric names)."]
    for miss in recognition.misses:
        lines.append(f"  {miss.preset}: {miss.reason}")
    families = recognition.unrecognised(None)
    if families:
        lines.append(f"  could not recognise: {', '.join(families)}")
    lines.append("Write the spec by hand naming requests_metric, duration_metric, status_label "
                 "and route_label (docs/slo-init.md, slo/spec/v1.py); presets known: "
                 + ", ".join(PRESETS))
    return "\n".join(lines)


def run(args, console: Console) -> int:
    """Read, recognise, write; InitError (exit 2) names what is missing and the fix."""
    out = Path(args.out)
    if out.exists() and not args.force:
        raise InitError(f"{out} exists; pass --force to overwrite it, or -o another path")
    service = args.service or args.job or DEFAULT_SERVICE
    job = args.job or service
    if not re.match(SERVICE, service):
        raise InitError(f"--service {service!r}: use letters, digits, '.', '_' and '-' (at most "
                        "63 characters), e.g. --service checkout")
    inventory = _inventory(args)
    recognition = recognise(inventory, only=args.preset)
    best = recognition.best
    if not best:
        raise InitError(_nothing(recognition, inventory, args.preset))
    if len(best) > 1:
        names = ", ".join(m.preset for m in best)
        raise InitError(f"{inventory.source}: {len(best)} instrumentations fit equally well "
                        f"({names}); pass --preset with the one the service uses, e.g. "
                        f"--preset {best[0].preset}")
    match = best[0]
    result = starter(inventory, match, service, job)
    parse_spec(result.text, str(out))  # the project's own loader: never write a spec it refuses
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(result.text, encoding="utf-8")
    preset = PRESETS[match.preset]

    def say(text: str) -> None:  # rich markup, every value escape()d
        console.print(text, soft_wrap=True, markup=True)

    say(f"recognised: [bold]{match.preset}[/] ({escape(match.requests_metric)}"
        + (f", {escape(preset.duration_metric)} histogram" if match.histogram else "")
        + f") from {escape(inventory.source)}")
    for other in recognition.matches[1:]:
        say(f"  also fits, less well: {other.preset} (score {other.score} < {match.score})")
    say(f"status values ({preset.status_label}): {escape(', '.join(match.status_values))}")
    say(f"observed: {escape(result.observed)}")
    if match.routes:
        say(f"routes ({preset.route_label}): {escape(', '.join(match.routes))}")
    if result.excluded_routes:
        say(f"kept out as not user traffic: {escape(', '.join(result.excluded_routes))}")
    if result.latency is not None:
        lat = result.latency
        say(f"buckets ({lat.unit}): {', '.join(f'{b:.12g}' for b in lat.bounds)}, +Inf")
        say(f"p95 threshold {lat.threshold_s * 1000:.9g} ms: {escape(lat.reason)}")
    notes = list(result.notes)
    if not (args.job or args.service):
        notes.append(f"job {job!r} is a placeholder: set prometheus.job to the job name "
                     "Prometheus scrapes the service under (or pass --job)")
    for note in notes:
        say(f"[yellow]note:[/] {escape(note)}")
    unrecognised = recognition.unrecognised(match)
    if unrecognised:
        say(f"could not recognise: {escape(', '.join(unrecognised))} (no SLO uses them)")
    slos = "availability, error-ratio" + (", latency-p95" if result.latency else "")
    say(f"wrote {escape(str(out))} (job {escape(job)!r}; SLOs: {slos}); next: slo rules --spec "
        f"{escape(str(out))}, slo check --spec {escape(str(out))}")
    return exitcodes.OK
