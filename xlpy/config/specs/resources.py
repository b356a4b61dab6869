"""Hardware resources given to a guest: ioports=, irqs= and iomem= entries.

xl reads them with C's strtoul and sscanf, so the numbers follow those
functions: leading blanks and a sign are accepted, hex may carry 0x, and a
negative number wraps to a huge unsigned one (then "too big").
"""

from __future__ import annotations

from xlpy.config.specs import SpecError
from xlpy.config.values import strtoul
from xlpy.domain.config import IomemRange, IoportRange

UINT32_MAX = 2**32 - 1


def parse_ioport(text: str) -> tuple[IoportRange, str | None]:
    """`FIRST[-LAST]` in hex; returns the range and a warning for what xl
    lets through (text after a single port, which it complains about; a
    reversed range, which it does not notice)."""
    start, used = strtoul(text, 16)
    if used == 0:
        raise SpecError(f"xl: Invalid argument parsing ioport: {text}")
    if start >= UINT32_MAX:
        raise SpecError(f"xl: ioport {start:x} too big")
    end, rest, complaint = start, text[used:], None
    if rest.startswith("-"):
        end, used = strtoul(rest[1:], 16)
        # xl tests start > end before it stores the end, so a reversed range
        # passes and wraps to some four billion ports.
        if used == 0 or rest[1 + used:]:
            raise SpecError(f"xl: Invalid argument parsing ioport: {text}")
        if end >= UINT32_MAX:
            raise SpecError(f"xl: ioport {end:x} too big")
        if end < start:
            complaint = (f"ioport range {text} is reversed: xl 4.17 accepts it as "
                         f"{(end - start + 1) & UINT32_MAX} ports from {start:#x}")
    elif rest:
        complaint = f"xl: Invalid argument parsing ioport: {text}"
    return IoportRange(start, (end - start + 1) & UINT32_MAX), complaint


def parse_irq(text: str) -> int:
    """A decimal IRQ number, nothing else."""
    value, used = strtoul(text, 10)
    if used == 0 or text[used:]:
        raise SpecError(f"xl: Invalid argument parsing irq: {text}")
    if value >= UINT32_MAX:
        raise SpecError(f"xl: irq {value:x} too big")
    return value


def _scan_hex(text: str, pos: int) -> tuple[int, int] | None:
    """scanf's %lx at `pos`: (value, new position) or None if no number."""
    value, used = strtoul(text[pos:], 16)
    return None if used == 0 else (value, pos + used)


def parse_iomem(text: str) -> IomemRange:
    """`START,NUM_PAGES[@GFN]`, page frame numbers in hex."""
    bad = SpecError(f"xl: Invalid argument parsing iomem: {text}")
    start = _scan_hex(text, 0)
    if start is None or text[start[1]:start[1] + 1] != ",":
        raise bad
    number = _scan_hex(text, start[1] + 1)
    if number is None:
        raise bad
    end, gfn = number[1], None
    if text[end:end + 1] == "@":
        scanned = _scan_hex(text, end + 1)
        if scanned is not None:
            gfn, end = scanned
    if end != len(text):
        raise bad
    return IomemRange(start[0], number[0], gfn)
