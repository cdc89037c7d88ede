"""JUnit XML: one test case per gate rule, per validity check and per gated segment.

PASS is a passing test case, FAIL a ``<failure>``, INVALID an ``<error>`` and
INCONCLUSIVE a ``<skipped>`` (the gate's exit code 3 still stops the pipeline).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from nullband.compare.model import Comparison, Decision
from nullband.report._common import facts


def _case(parent: ET.Element, classname: str, name: str, decision: Decision, text: str) -> None:
    tc = ET.SubElement(parent, "testcase", classname=classname, name=name, time="0")
    if decision == "FAIL":
        ET.SubElement(tc, "failure", message=text[:500], type="FAIL").text = text
    elif decision == "INVALID":
        ET.SubElement(tc, "error", message=text[:500], type="INVALID").text = text
    elif decision == "INCONCLUSIVE":
        ET.SubElement(tc, "skipped", message=f"INCONCLUSIVE: {text[:480]}")
    else:
        ET.SubElement(tc, "system-out").text = text


def render_junit(cmp: Comparison) -> str:
    """The gate as JUnit XML (a comparison without a gate gives one passing summary case)."""
    suites = ET.Element("testsuites", name="nullband")
    suite = ET.SubElement(suites, "testsuite", name=f"nullband.{cmp.metric}")
    props = ET.SubElement(suite, "properties")
    for k, v in facts(cmp):
        ET.SubElement(props, "property", name=k, value=v)
    tests = failures = errors = skipped = 0
    items: list[tuple[str, str, Decision, str]] = []
    if cmp.gate is None:
        items.append(("nullband.compare", "comparison", "PASS", "no gate configured"))
    else:
        for chk in cmp.gate.checks:
            items.append(("nullband.check", chk.name, chk.decision, chk.reason))
        for rule in cmp.gate.rules:
            items.append(("nullband.rule", rule.name, rule.decision, rule.reason))
            for seg in rule.segments:
                items.append(
                    (
                        f"nullband.rule.{rule.name}",
                        f"{seg.dimension}={seg.segment}",
                        seg.decision,
                        seg.reason,
                    )
                )
    for classname, name, decision, text in items:
        _case(suite, classname, name, decision, text)
        tests += 1
        failures += decision == "FAIL"
        errors += decision == "INVALID"
        skipped += decision == "INCONCLUSIVE"
    for el in (suite, suites):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )
