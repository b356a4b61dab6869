"""Diagnostics: errors and warnings as values, with a position and a rule code.

Every stage (parse, build, check) reports through `Diagnostic`; the CLI renders
them. Rule codes are stable and grouped by their first letter:

    S  syntax            (the file is not an xl config at all)
    T  types and ranges  (a value xl would reject or misread)
    X  cross-key rules   (memory/maxmem, vcpus/maxvcpus, ...)
    P  PVH rules         (both generations)
    D  device specs      (disk, vif, pci, ... mini-languages)
    H  hygiene           (unknown keys, no-effect keys, duplicates, ...)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

GROUPS = {
    "S": "syntax",
    "T": "types and ranges",
    "X": "cross-key rules",
    "P": "PVH rules",
    "D": "device specs",
    "H": "hygiene",
}


def location(filename: str, line: int | None, column: int | None) -> str:
    """`file:line:column`, leaving out what is not known."""
    parts = [filename]
    if line is not None:
        parts.append(str(line))
        if column is not None:
            parts.append(str(column))
    return ":".join(parts)


class Severity(enum.IntEnum):
    """Ordered so that `severity >= threshold` selects what fails a run."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    filename: str = "<string>"
    line: int | None = None
    column: int | None = None

    @property
    def group(self) -> str:
        return GROUPS.get(self.code[:1], "other")

    @property
    def location(self) -> str:
        return location(self.filename, self.line, self.column)

    def __str__(self) -> str:
        return f"{self.location}: {self.severity} {self.code} {self.message}"
