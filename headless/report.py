"""Reports of scenario runs: JSON for machines, JUnit XML so CI shows each scenario as a
test, and a line per scenario for people."""

from __future__ import annotations

import json
import platform
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from .runner import ScenarioResult

REPORT_VERSION = 1


def run_report(results: list[ScenarioResult], *, target: str) -> dict[str, Any]:
    """The JSON report of a `run`: totals, then every scenario with its steps."""
    return {
        "version": REPORT_VERSION,
        "kind": "run",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "target": target,
        "host": platform.node(),
        "scenarios": len(results),
        "passed": sum(r.ok for r in results),
        "failed": sum(not r.ok for r in results),
        "results": [r.to_dict() for r in results],
    }


def junit_xml(results: list[ScenarioResult], *, suite: str = "headless") -> str:
    """JUnit XML: one <testcase> per scenario, its failures in <failure>, its steps in
    <system-out>."""
    root = ET.Element(
        "testsuites",
        tests=str(len(results)),
        failures=str(sum(not r.ok for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    ts = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(sum(not r.ok for r in results)),
        errors="0",
        skipped="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            ts,
            "testcase",
            classname=f"{suite}.{Path(r.source).stem}",
            name=r.name,
            time=f"{r.seconds:.3f}",
        )
        failures = r.all_failures()
        if failures:
            failure = ET.SubElement(
                case, "failure", message=failures[0][:500], type="ScenarioFailed"
            )
            failure.text = "\n".join(failures)
        out = ET.SubElement(case, "system-out")
        out.text = (
            "\n".join(
                f"step {s.index} {s.step}: {'ok' if s.ok else 'FAILED'} ({s.seconds:.2f} s)"
                + (
                    f" heard {s.turn.transcript!r}"
                    if s.turn and s.turn.transcript is not None
                    else ""
                )
                for s in r.steps
            )
            + f"\nroom {r.room}"
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def summary_lines(results: list[ScenarioResult]) -> list[str]:
    lines = []
    for r in results:
        mark = "PASS" if r.ok else "FAIL"
        lines.append(f"{mark}  {r.name}  ({r.seconds:.1f} s, {len(r.steps)} steps)")
        lines.extend(f"      {f}" for f in r.all_failures())
    lines.append(f"{sum(r.ok for r in results)} of {len(results)} scenarios passed")
    return lines
