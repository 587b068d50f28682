"""The one JUnit XML writer of the judge: `slo check` (a case per SLO) and `slo run` (a case per
expectation) both describe their cases and hand them here.

    junit_xml("slo-check portfolio-app", [Case(...), ...], time_s=0.031, timestamp="...",
              properties=[("spec", "slos.yaml")], root_name="slo-check")
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

OUTCOMES = ("passed", "failure", "error", "skipped")


@dataclass(frozen=True)
class Case:
    """One testcase: `outcome` is passed, failure, error or skipped; `text` its body."""

    classname: str
    name: str
    outcome: str
    message: str = ""
    type: str = ""
    text: str = ""
    time_s: float = 0.0

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES} (got {self.outcome!r})")


def _element(case: Case) -> ET.Element:
    element = ET.Element("testcase", classname=case.classname, name=case.name,
                         time=f"{case.time_s:.3f}" if case.time_s else "0")
    if case.outcome == "failure":
        ET.SubElement(element, "failure", message=case.message, type=case.type).text = case.text
    elif case.outcome == "error":
        ET.SubElement(element, "error", message=case.message, type=case.type).text = (
            case.text or None)
    elif case.outcome == "skipped":
        ET.SubElement(element, "skipped", message=case.message)
    else:
        ET.SubElement(element, "system-out").text = case.text
    return element


def junit_xml(suite_name: str, cases: list[Case], *, time_s: float, timestamp: str,
              properties: list[tuple[str, str]], root_name: str,
              root_time: bool = False) -> str:
    """A <testsuites> document with one <testsuite> holding `cases`."""
    failures = sum(c.outcome == "failure" for c in cases)
    errors = sum(c.outcome == "error" for c in cases)
    skipped = sum(c.outcome == "skipped" for c in cases)
    suite = ET.Element("testsuite", name=suite_name, tests=str(len(cases)),
                       failures=str(failures), errors=str(errors), skipped=str(skipped),
                       time=f"{time_s:.3f}", timestamp=timestamp)
    props = ET.SubElement(suite, "properties")
    for name, value in properties:
        ET.SubElement(props, "property", name=name, value=str(value))
    suite.extend(_element(c) for c in cases)
    root = ET.Element("testsuites", name=root_name, tests=str(len(cases)),
                      failures=str(failures), errors=str(errors))
    if root_time:
        root.set("time", f"{time_s:.3f}")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
