"""The files an HVM guest's firmware takes as modules, read as libxl reads
them (libxl__load_hvm_firmware_module, libxl__domain_firmware): a BIOS file
must not be empty; an empty ACPI or SMBIOS file is no module at all."""

from __future__ import annotations

from xlpy.backends.base import HvmBuild, InvalidArgument


def read_module(path: str, what: str, empty_ok: bool) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"failed to read {what} file {path}: {e.strerror}", "libxl__domain_firmware",
                              e.errno) from None
    if data:
        return data
    if empty_ok:
        return None
    raise InvalidArgument(f"file {path} for {what} is empty", "libxl__domain_firmware")


def extra_modules(hvm: HvmBuild) -> tuple[bytes | None, bytes | None]:
    """(ACPI, SMBIOS) module contents, None where the config names none or an empty file."""
    acpi = read_module(hvm.acpi_firmware, "ACPI firmware", True) if hvm.acpi_firmware else None
    smbios = read_module(hvm.smbios_firmware, "SMBIOS firmware", True) if hvm.smbios_firmware else None
    return acpi, smbios
