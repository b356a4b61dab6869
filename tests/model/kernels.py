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


def make_bzimage(elf: bytes, compression: str, tail: bytes = b"") -> bytes:
    """`elf` (followed by `tail`) as the compressed payload of a bzImage: a
    boot-protocol header with one setup sector, then the payload."""
    import gzip
    import lzma

    data = elf + tail
    if compression == "gzip":
        payload = gzip.compress(data)
    elif compression == "xz":
        payload = lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    elif compression == "lzma":
        payload = lzma.compress(data, format=lzma.FORMAT_ALONE)
    elif compression == "zstd":
        import zstandard

        payload = zstandard.ZstdCompressor().compress(data)
    elif compression == "lz4":
        import lz4.block

        blocks = [data[i:i + (8 << 20)] for i in range(0, len(data), 8 << 20)]
        payload = b"\x02\x21\x4c\x18" + b"".join(
            struct.pack("<I", len(c)) + c for c in (lz4.block.compress(b, store_size=False) for b in blocks))
    else:
        raise ValueError(compression)
    payload += struct.pack("<I", len(data))  # the kernel appends the decompressed size
    setup = bytearray(1024)
    setup[0x1F1] = 1
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<II", setup, 0x248, 0, len(payload))
    return bytes(setup) + payload
