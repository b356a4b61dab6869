"""The rule catalogue as Markdown (docs/rules.md is generated from it)."""

from __future__ import annotations

from xlpy.config.rules import RULES
from xlpy.diagnostics import GROUPS


def markdown() -> str:
    out = ["# xlpy rules", "",
           "Every finding of `xlpy check` and `xlpy create` has one of these codes. Codes are stable;",
           "select or ignore them one by one or by group letter (`--select P`, `--ignore H101`).",
           "Generated from `xlpy/config/rules.py` by `python3 -m xlpy.check.catalogue > docs/rules.md`.", ""]
    for letter, group in GROUPS.items():
        out += [f"## {letter}: {group}", "", "| code | name | severity | what it finds |", "| --- | --- | --- | --- |"]
        for code, rule in RULES.items():
            if code.startswith(letter):
                out.append(f"| {code} | {rule.name} | {rule.severity} | {rule.summary.replace('|', '/')} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
