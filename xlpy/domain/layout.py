"""Guest physical memory layout, as libxl lays it out and hands it to Xen
(xc_domain_set_memory_map) and to a PVH guest (hvm_start_info's memory map).

A PV guest sees one pseudo-physical range. An HVM container gets RAM from 0
(1 MiB for HVM, whose firmware maps the first megabyte itself) up to the MMIO
hole below 4 GiB; what does not fit goes above 4 GiB, so a guest of 4 GiB or
more gets every page it asked for. With a device model the hole is 256 MiB;
without one (PVH) it is only as large as the ACPI area, the LAPIC and the
special pages at its top need. The special pages (start info, xenstore and
console rings, ...) lie in the hole, never on RAM; a PVH guest's map marks
them reserved, and the ACPI tables the builder adds get entries of their own.
"""

from __future__ import annotations

GiB = 1 << 30
PAGE = 4096
DEFAULT_MAX_KB = 32768  # libxl's default when neither memory nor maxmem is set
HVM_MMIO_START = 0xF0000000  # 4 GiB - HVM_BELOW_4G_MMIO_LENGTH
PVH_MMIO_START = 0xFC000000  # ACPI_INFO_PHYSICAL_ADDRESS, below the LAPIC and special pages
HVM_LOW_MEM_START = 0x100000
SPECIAL_REGION_END = 0xFF000000  # X86_HVM_END_SPECIAL_REGION, as an address
SPECIAL_PAGES = 8


def mmio_start(device_model: bool) -> int:
    return HVM_MMIO_START if device_model else PVH_MMIO_START


def special_pages() -> tuple[int, int]:
    """(start, length) of the special pages libxenguest places below 4 GiB."""
    return SPECIAL_REGION_END - SPECIAL_PAGES * PAGE, SPECIAL_PAGES * PAGE


def memory_map(memory_bytes: int, hvm_container: bool, device_model: bool = False) -> list[tuple[int, int, str]]:
    """(start, length, kind) regions, kind 'ram' or 'reserved'; a PVH guest is
    told where the special pages are (HVM firmware builds its own map)."""
    if not hvm_container:
        return [(0, memory_bytes, "ram")]
    hole = mmio_start(device_model)
    low_start = HVM_LOW_MEM_START if device_model else 0
    low_end = min(memory_bytes, hole)
    regions = [(low_start, low_end - low_start, "ram")]
    if not device_model:
        regions.append((*special_pages(), "reserved"))
    if memory_bytes > hole:
        regions.append((4 * GiB, memory_bytes - hole, "ram"))
    return regions


def ram_bytes(regions) -> int:
    return sum(length for _, length, kind in regions if kind == "ram")


def max_memory_kb(b_info) -> int:
    """The guest's static maximum: maxmem=, else memory=, else libxl's default."""
    return b_info.max_memkb or b_info.target_memkb or DEFAULT_MAX_KB
