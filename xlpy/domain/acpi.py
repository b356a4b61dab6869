"""The ACPI tables a PVH guest is given, as the toolstack builds them.

A PVH guest has no firmware: the toolstack describes the platform itself and
hvm_start_info's rsdp_paddr points at the RSDP. The guest finds its vCPUs in
the MADT (one local APIC per vCPU, APIC ID 2 x vCPU as Xen numbers them);
without it a guest sees a single CPU. The platform is "hardware-reduced" ACPI
(no PM1/GPE blocks, no SCI): a PVH guest has no emulated power-management
hardware, and powers off by halting its last vCPU, which Xen turns into a
poweroff. The tables follow the ACPI 5.0 specification.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ACPI_INFO_ADDRESS = 0xFC000000  # the start of a PVH guest's MMIO hole
LAPIC_BASE_ADDRESS = 0xFEE00000
OEM_ID, OEM_TABLE_ID, CREATOR_ID = b"XLPY  ", b"PVH     ", b"XLPY"

FADT_WBINVD, FADT_PROC_C1, FADT_PWR_BUTTON, FADT_SLP_BUTTON = 1 << 0, 1 << 2, 1 << 4, 1 << 5
FADT_HW_REDUCED_ACPI = 1 << 20
BOOT_ARCH_NO_VGA, BOOT_ARCH_NO_CMOS_RTC = 1 << 2, 1 << 5
MADT_LOCAL_APIC, MADT_ENABLED = 0, 1
FADT_LENGTH = 268  # revision 5


@dataclass(frozen=True)
class AcpiImage:
    """The RSDP and the tables, each with the guest address it is loaded at."""

    rsdp: bytes
    rsdp_address: int
    tables: bytes
    tables_address: int

    def modules(self) -> tuple[tuple[int, bytes], ...]:
        """(guest address, bytes) to load, the RSDP first (it is what
        hvm_start_info.rsdp_paddr names)."""
        return (self.rsdp_address, self.rsdp), (self.tables_address, self.tables)


def lapic_id(vcpu: int) -> int:
    return 2 * vcpu


def checksummed(data: bytes, at: int, span: int | None = None) -> bytes:
    """`data` with the byte at `at` set so the first `span` bytes sum to 0 (mod 256)."""
    out = bytearray(data)
    out[at] = 0
    out[at] = -sum(out[: span or len(out)]) & 0xFF
    return bytes(out)


def table(signature: bytes, revision: int, body: bytes) -> bytes:
    """A system description table: the 36-byte common header, then `body`."""
    header = struct.pack("<4sIBB6s8sI4sI", signature, 36 + len(body), revision, 0, OEM_ID, OEM_TABLE_ID, 0,
                         CREATOR_ID, 1)
    return checksummed(header + body, at=9)


def madt(vcpus: int) -> bytes:
    body = struct.pack("<II", LAPIC_BASE_ADDRESS, 0)  # flags 0: no 8259 PICs
    for vcpu in range(vcpus):
        body += struct.pack("<BBBBI", MADT_LOCAL_APIC, 8, vcpu, lapic_id(vcpu), MADT_ENABLED)
    return table(b"APIC", 4, body)


def fadt(dsdt_address: int) -> bytes:
    body = bytearray(FADT_LENGTH - 36)

    def put(offset: int, fmt: str, *values) -> None:
        struct.pack_into(fmt, body, offset - 36, *values)

    put(40, "<I", dsdt_address)
    put(109, "<H", BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_CMOS_RTC)
    put(112, "<I", FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_HW_REDUCED_ACPI)
    put(140, "<Q", dsdt_address)  # X_DSDT
    return table(b"FACP", 5, bytes(body))


def pvh_tables(vcpus: int) -> AcpiImage:
    """The RSDP at the start of the ACPI area, the tables on the page after."""
    base = ACPI_INFO_ADDRESS + 0x1000
    dsdt = table(b"DSDT", 2, b"")  # no AML: nothing for the guest to evaluate
    layout, offset = {}, 0
    for name, size in (("dsdt", len(dsdt)), ("fadt", FADT_LENGTH), ("madt", len(madt(vcpus)))):
        layout[name] = base + offset
        offset += (size + 15) & ~15
    xsdt_address = base + offset
    xsdt = table(b"XSDT", 1, struct.pack("<QQ", layout["fadt"], layout["madt"]))
    blob = bytearray()
    for part in (dsdt, fadt(layout["dsdt"]), madt(vcpus)):
        blob += part + bytes(-len(part) % 16)
    blob += xsdt
    rsdp = struct.pack("<8sB6sBIIQB3s", b"RSD PTR ", 0, OEM_ID, 2, 0, 36, xsdt_address, 0, bytes(3))
    rsdp = checksummed(checksummed(rsdp, at=8, span=20), at=32)
    return AcpiImage(rsdp, ACPI_INFO_ADDRESS, bytes(blob), base)
