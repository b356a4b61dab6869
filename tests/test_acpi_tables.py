"""The ACPI tables a PVH guest boots with, read back as an ACPI-aware guest
reads them: from the RSDP through the XSDT to each table, checksums checked
at every step (ACPI 5.0, section 5.2)."""

from __future__ import annotations

import struct

import pytest

from xlpy.domain.acpi import FADT_HW_REDUCED_ACPI, LAPIC_BASE_ADDRESS, pvh_tables


def read_tables(image) -> dict[bytes, bytes]:
    def at(address: int, length: int) -> bytes:
        offset = address - image.tables_address
        assert 0 <= offset and offset + length <= len(image.tables), f"{address:#x} is outside the tables"
        return image.tables[offset : offset + length]

    rsdp = image.rsdp
    assert rsdp[:8] == b"RSD PTR " and len(rsdp) == 36
    assert sum(rsdp[:20]) % 256 == 0 and sum(rsdp) % 256 == 0
    revision, length, xsdt_address = rsdp[15], *struct.unpack_from("<IQ", rsdp, 20)
    assert revision == 2 and length == 36

    def table(address: int) -> bytes:
        signature, length = struct.unpack("<4sI", at(address, 8))
        data = at(address, length)
        assert sum(data) % 256 == 0, f"{signature} checksum"
        return data

    xsdt = table(xsdt_address)
    assert xsdt[:4] == b"XSDT"
    found = {b"XSDT": xsdt}
    for (address,) in struct.iter_unpack("<Q", xsdt[36:]):
        data = table(address)
        found[data[:4]] = data
    fadt = found[b"FACP"]
    dsdt_address, x_dsdt = struct.unpack_from("<I", fadt, 40)[0], struct.unpack_from("<Q", fadt, 140)[0]
    assert dsdt_address == x_dsdt
    found[b"DSDT"] = table(x_dsdt)
    return found


@pytest.mark.parametrize("vcpus", [1, 2, 15, 64])
def test_every_vcpu_has_an_enabled_local_apic_with_xens_apic_id(vcpus):
    madt = read_tables(pvh_tables(vcpus))[b"APIC"]
    assert struct.unpack_from("<I", madt, 36)[0] == LAPIC_BASE_ADDRESS
    entries, pos = [], 44
    while pos < len(madt):
        kind, length = madt[pos], madt[pos + 1]
        entries.append(madt[pos : pos + length])
        pos += length
    assert [(e[0], e[2], e[3], e[4] & 1) for e in entries] == [(0, v, 2 * v, 1) for v in range(vcpus)]


def test_fadt_is_acpi5_hardware_reduced():
    fadt = read_tables(pvh_tables(2))[b"FACP"]
    assert len(fadt) == 268 and fadt[8] == 5
    assert struct.unpack_from("<I", fadt, 112)[0] & FADT_HW_REDUCED_ACPI
    # No fixed power-management hardware is described.
    assert struct.unpack_from("<8I", fadt, 56) == (0,) * 8


def test_tables_fit_the_acpi_area_below_the_lapic():
    image = pvh_tables(128)
    assert image.rsdp_address + len(image.rsdp) <= image.tables_address
    assert image.tables_address + len(image.tables) < LAPIC_BASE_ADDRESS
