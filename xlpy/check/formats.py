"""Renderers: pure functions from findings to text for people or machines."""

from __future__ import annotations

import json

from xlpy.config.rules import RULES
from xlpy.diagnostics import Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _name(code: str) -> str:
    rule = RULES.get(code)
    return rule.name if rule else code


def text(results, colour: bool = False) -> str:
    """`file:line:col: severity CODE message`, the source line and a caret.
    With colour, the text is rich markup (for a terminal)."""
    if colour:
        from rich.markup import escape
    out = []
    for result in results:
        lines = result.text.splitlines()
        for d in result.diagnostics:
            head = f"{d.location}: {d.severity} {d.code} {d.message}"
            if colour:
                style = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.INFO: "blue"}[d.severity]
                head = (f"[bold]{escape(d.location)}[/]: [{style}]{d.severity}[/] [bold]{d.code}[/] "
                        f"{escape(d.message)}")
            out.append(head)
            if d.line and 0 < d.line <= len(lines):
                source = lines[d.line - 1].replace("\t", " ")
                out.append(f"    {escape(source) if colour else source}")
                if d.column:
                    out.append("    " + " " * (d.column - 1) + "^")
    return "".join(line + "\n" for line in out)


def as_json(results) -> str:
    items = [
        {"file": d.filename, "line": d.line, "column": d.column, "severity": str(d.severity),
         "code": d.code, "name": _name(d.code), "message": d.message}
        for r in results for d in r.diagnostics
    ]
    return json.dumps(items, indent=2) + "\n"


def _escape_github(value: str, prop: bool = False) -> str:
    value = value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        value = value.replace(":", "%3A").replace(",", "%2C")
    return value


def github(results) -> str:
    out = []
    for r in results:
        for d in r.diagnostics:
            props = [f"file={_escape_github(d.filename, True)}"]
            if d.line:
                props.append(f"line={d.line}")
            if d.column:
                props.append(f"col={d.column}")
            props.append(f"title={_escape_github(d.code + ' ' + _name(d.code), True)}")
            out.append(f"::{_GITHUB_LEVEL[d.severity]} {','.join(props)}::{_escape_github(d.message)}")
    return "".join(line + "\n" for line in out)


def sarif(results, version: str) -> str:
    used = sorted({d.code for r in results for d in r.diagnostics})
    rules = [
        {"id": code, "name": _name(code),
         "shortDescription": {"text": RULES[code].summary if code in RULES else code},
         "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[code].severity] if code in RULES else "error"}}
        for code in used
    ]
    index = {code: i for i, code in enumerate(used)}
    findings = []
    for r in results:
        for d in r.diagnostics:
            location = {"physicalLocation": {"artifactLocation": {"uri": d.filename}}}
            if d.line:
                region = {"startLine": d.line}
                if d.column:
                    region["startColumn"] = d.column
                location["physicalLocation"]["region"] = region
            findings.append({"ruleId": d.code, "ruleIndex": index[d.code], "level": _SARIF_LEVEL[d.severity],
                             "message": {"text": d.message}, "locations": [location]})
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "xlpy", "version": version,
                                      "informationUri": "https://github.com/xlpy/xlpy", "rules": rules}},
                  "results": findings}],
    }
    return json.dumps(log, indent=2) + "\n"
