"""Tiny ELF kernels with Xen notes, made by the tests themselves."""

from __future__ import annotations

import struct


def _note(kind: int, desc: bytes) -> bytes:
    name = b"Xen\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), kind) + pad(name) + pad(desc)


def make_kernel(phys32: bool = True, pv: bool = True, legacy_features: bool = True, elf64: bool = True) -> bytes:
    notes = _note(6, b"test-os\0")
    if pv:
        notes += _note(1, struct.pack("<Q", 0xFFFFFFFF81000000))
    if legacy_features:
        notes += _note(10, b"writable_descriptor_tables|auto_translated_physmap|"
                           b"supervisor_mode_kernel|hvm_callback_vector\0")
    if phys32:
        notes += _note(18, struct.pack("<I", 0x1000000))
    if elf64:
        header = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,
                             2, 62, 1, 0x1000000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
        phdr = struct.pack("<IIQQQQQQ", 4, 4, 64 + 56, 0, 0, len(notes), len(notes), 4)
    else:
        header = struct.pack("<4sBBBBB7sHHIIIIIHHHHHH", b"\x7fELF", 1, 1, 1, 0, 0, b"\0" * 7,
                             2, 3, 1, 0x1000000, 52, 0, 0, 52, 32, 1, 0, 0, 0)
        phdr = struct.pack("<IIIIIIII", 4, 52 + 32, 0, 0, len(notes), len(notes), 4, 4)
    return header + phdr + notes
