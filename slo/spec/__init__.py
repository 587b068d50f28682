"""SLO specs: the formats users write, read once at the edge into one frozen model.

    load_spec("slo/slos.yaml")   -> slo.spec.model.Spec
    parse_spec(text, "slos.yaml")

Formats (each module turns its documents into slo.spec.model objects; nothing downstream
knows which one a spec came from):

    v1        slo-harness/v1, with the compact objectives of compact.py and the presets of
              presets.py (promhttp, OpenTelemetry, Envoy, ...)
    sloth     Sloth `version: prometheus/v1` specs (and its PrometheusServiceLevel CRD), one
              service a document, several documents a file as Sloth reads them
    openslo   OpenSLO v1 and v1alpha documents (SLO, SLI referenced by name), `---`-separated
              or a YAML list of objects (OpenSLO's own examples)
    queries   the PromQL users write, parsed with promql-parser into event counts
    limits    names and bounds the formats share; selectors: PromQL label matchers

Every problem is reported as `<file>: <field path>: <what is wrong and the fix>`.
"""

from pathlib import Path

from harness_common import validation
from harness_common.inputs import read_input
from harness_common.yamlsafe import load_documents
from slo.errors import SpecError
from slo.spec import openslo, sloth, v1
from slo.spec.limits import MAX_SPEC_BYTES
from slo.spec.model import Spec

DEFAULT_SPEC = "slo/slos.yaml"


def parse_spec(data: bytes | str, source: str = "<spec>") -> Spec:
    """Parse spec text (slo-harness/v1, Sloth prometheus/v1, OpenSLO) into a Spec."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    docs = load_documents(data, source, what="spec", error=SpecError, max_bytes=MAX_SPEC_BYTES,
                          example=DEFAULT_SPEC, expand_lists=True)
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            where = f"document {index + 1}: " if len(docs) > 1 else ""
            raise SpecError(source, f"{where}must be a mapping with version, service, prometheus "
                                    f"and slos (got {type(doc).__name__} {validation.got(doc)})")
    if any(str(doc.get("apiVersion", "")).startswith("openslo/") for doc in docs):
        return openslo.convert(docs, source)
    if any(sloth.is_sloth(doc) for doc in docs):
        others = [i + 1 for i, doc in enumerate(docs) if not sloth.is_sloth(doc)]
        if others:
            raise SpecError(source, f"document {others[0]}: is not a Sloth spec, but the file's "
                                    "other documents are; a file holds one format (Sloth: "
                                    "version: prometheus/v1 or apiVersion: sloth.slok.dev/v1)")
        return sloth.build_sloth_file(docs, source)
    if len(docs) > 1:
        raise SpecError(source, f"holds {len(docs)} YAML documents; a slo-harness/v1 spec is one "
                                "document (put every SLO under `slos:`)")
    if "apiVersion" in docs[0]:
        return openslo.convert(docs, source)
    return v1.build_v1(docs[0], source)


def load_spec(path: str | Path) -> Spec:
    """Read and validate the spec file at `path`; SpecError names the file in each problem."""
    data = read_input(path, what="spec", error=SpecError,
                      missing_hint=f"pass --spec with the path of a spec (default {DEFAULT_SPEC})",
                      max_bytes=MAX_SPEC_BYTES)
    return parse_spec(data, Path(path).name)
