"""Guest physical memory layout, as libxc lays out an HVM-container guest.

RAM fills from 0 up to the MMIO hole below 4 GiB; whatever does not fit goes
above 4 GiB, so a guest of 4 GiB or more gets every page it asked for. The
special pages (start info, xenstore and console rings, ...) sit in a reserved
region just below the hole, outside RAM, so no scratch mapping ever lands on
guest RAM (the "crash at 4 GiB" of the PVH series).
"""

from __future__ import annotations

GiB = 1 << 30
PAGE = 4096
MMIO_HOLE_START = 0xF0000000  # libxl's default for HVM containers
SPECIAL_PAGES = 8


def memory_map(memory_bytes: int, hvm_container: bool) -> list[tuple[int, int, str]]:
    """(start, length, kind) regions; kinds are 'ram' and 'reserved'."""
    if not hvm_container:  # PV: one contiguous pseudo-physical range
        return [(0, memory_bytes, "ram")]
    special = SPECIAL_PAGES * PAGE
    low_limit = MMIO_HOLE_START - special
    low = min(memory_bytes, low_limit)
    regions = [(0, low, "ram"), (low_limit, special, "reserved")]
    if memory_bytes > low:
        regions.append((4 * GiB, memory_bytes - low, "ram"))
    return regions


def ram_bytes(regions) -> int:
    return sum(length for _, length, kind in regions if kind == "ram")
