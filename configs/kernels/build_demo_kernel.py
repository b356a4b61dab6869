#!/usr/bin/env python3
"""Build demo-pvh.elf: the smallest real PVH boot image xlpy's demo needs.

An x86-64 ELF with one loadable segment and the Xen ELF notes a domain
builder reads: a XEN_ELFNOTE_PHYS32_ENTRY (modern PVH, entered in 32-bit flat
mode), a PV entry point with the feature set the original PVH design asked for
(writable_descriptor_tables, auto_translated_physmap, supervisor_mode_kernel,
hvm_callback_vector), and the usual guest OS / loader / version notes. The
code at each entry is a `hlt` loop: the model never runs guest code, it boots
what the image declares.

    python3 configs/kernels/build_demo_kernel.py [OUTPUT]
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

VIRT_BASE = 0xFFFFFFFF80000000
PHYS_LOAD = 0x100000  # 1 MiB, where Linux loads too
HLT_LOOP = b"\xf4\xeb\xfd"  # hlt; jmp $-1

# Xen ELF note types (xen/include/public/elfnote.h).
GUEST_OS, GUEST_VERSION, XEN_VERSION, LOADER, ENTRY, HYPERCALL_PAGE = 6, 7, 5, 8, 1, 2
VIRT_BASE_NOTE, PADDR_OFFSET, FEATURES, PHYS32_ENTRY = 3, 4, 10, 18
LEGACY_PVH_FEATURES = b"writable_descriptor_tables|auto_translated_physmap|supervisor_mode_kernel|hvm_callback_vector"


def note(kind: int, desc: bytes) -> bytes:
    name = b"Xen\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name), len(desc), kind) + pad(name) + pad(desc)


def build(text_offset: int = 0x1000) -> bytes:
    pv_entry = VIRT_BASE + PHYS_LOAD + 0x10
    phys32_entry = PHYS_LOAD
    text = HLT_LOOP + b"\x90" * (0x10 - len(HLT_LOOP)) + HLT_LOOP
    notes = b"".join([
        note(GUEST_OS, b"xlpy-demo\0"),
        note(GUEST_VERSION, b"1.0\0"),
        note(XEN_VERSION, b"xen-3.0\0"),
        note(LOADER, b"generic\0"),
        note(VIRT_BASE_NOTE, struct.pack("<Q", VIRT_BASE)),
        note(PADDR_OFFSET, struct.pack("<Q", VIRT_BASE)),
        note(ENTRY, struct.pack("<Q", pv_entry)),
        note(HYPERCALL_PAGE, struct.pack("<Q", VIRT_BASE + PHYS_LOAD + 0x800)),
        note(FEATURES, LEGACY_PVH_FEATURES + b"\0"),
        note(PHYS32_ENTRY, struct.pack("<I", phys32_entry)),
    ])
    ehsize, phentsize, phnum = 64, 56, 2
    notes_offset = ehsize + phentsize * phnum
    text_offset = max(text_offset, notes_offset + len(notes))
    elf_header = struct.pack(
        "<4sBBBBB7sHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,  # 64-bit, little endian, SysV
        2, 62, 1,  # ET_EXEC, EM_X86_64, version
        pv_entry, ehsize, 0, 0, ehsize, phentsize, phnum, 0, 0, 0,
    )
    load = struct.pack("<IIQQQQQQ", 1, 5, text_offset, VIRT_BASE + PHYS_LOAD, PHYS_LOAD,
                       len(text), 0x2000, 0x1000)  # PT_LOAD, R+X, 8 KiB in memory
    pt_note = struct.pack("<IIQQQQQQ", 4, 4, notes_offset, 0, 0, len(notes), len(notes), 4)
    image = elf_header + load + pt_note + notes
    return image + b"\0" * (text_offset - len(image)) + text


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("demo-pvh.elf")
    out.write_bytes(build())
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
