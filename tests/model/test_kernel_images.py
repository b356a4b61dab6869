"""Kernel images as the domain builder reads them: a plain ELF or a bzImage
with each compression Linux uses, the Xen notes the same either way."""

from __future__ import annotations

import struct

import pytest

from kernels import make_bzimage, make_kernel
from xlpy.backends.base import InvalidArgument
from xlpy.backends.kernel import read_kernel


@pytest.mark.parametrize("compression", ["gzip", "xz", "lzma", "zstd", "lz4"])
@pytest.mark.parametrize("phys32,legacy", [(True, False), (False, True)])
def test_bzimage_notes_equal_the_elf_notes(tmp_path, compression, phys32, legacy):
    elf = make_kernel(phys32=phys32, legacy_features=legacy)
    (tmp_path / "vmlinux").write_bytes(elf)
    (tmp_path / "bzImage").write_bytes(make_bzimage(elf, compression, tail=bytes(3 << 20)))
    assert read_kernel(str(tmp_path / "bzImage")) == read_kernel(str(tmp_path / "vmlinux"))


def test_only_the_part_up_to_the_notes_is_inflated(tmp_path):
    """A bzImage whose payload is damaged after the notes still has its notes
    read: the builder inflates no further than it needs (LZ4 blocks are
    independent, so the second one can be spoiled on its own)."""
    elf = make_kernel()
    image = bytearray(make_bzimage(elf, "lz4", tail=bytes(12 << 20)))
    first_block, = struct.unpack_from("<I", image, 1024 + 4)
    second = 1024 + 8 + first_block
    image[second + 4: second + 64] = b"\xff" * 60
    (tmp_path / "bzImage").write_bytes(image)
    assert read_kernel(str(tmp_path / "bzImage")).phys32_entry == 0x1000000


def test_a_damaged_payload_before_the_notes_is_refused(tmp_path):
    image = bytearray(make_bzimage(make_kernel(), "xz"))
    image[1024 + 40: 1024 + 80] = b"\x00" * 40
    (tmp_path / "bzImage").write_bytes(image)
    with pytest.raises(InvalidArgument, match="bzImage"):
        read_kernel(str(tmp_path / "bzImage"))


def _elf_with_xen_notes_in_a_section_only(filler: bytes) -> bytes:
    """A 64-bit ELF whose PT_NOTE holds a GNU note only; the Xen notes sit in
    a SHT_NOTE section after `filler`, described by section headers at the end."""
    def note(name: bytes, kind: int, desc: bytes) -> bytes:
        pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
        return struct.pack("<III", len(name), len(desc), kind) + pad(name) + pad(desc)

    gnu = note(b"GNU\0", 3, b"\0" * 8)
    xen = note(b"Xen\0", 18, struct.pack("<I", 0x1000000)) + note(b"Xen\0", 6, b"test-os\0")
    gnu_at = 64 + 56
    xen_at = gnu_at + len(gnu) + len(filler)
    shoff = xen_at + len(xen)
    header = struct.pack("<4sBBBBB7sHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,
                         2, 62, 1, 0x1000000, 64, shoff, 0, 64, 56, 1, 64, 2, 0)
    phdr = struct.pack("<IIQQQQQQ", 4, 4, gnu_at, 0, 0, len(gnu), len(gnu), 4)
    null_section = bytes(64)
    note_section = struct.pack("<IIQQQQIIQQ", 0, 7, 0, 0, xen_at, len(xen), 0, 0, 4, 0)
    return header + phdr + gnu + filler + xen + null_section + note_section


@pytest.mark.parametrize("compression", ["xz", "lz4"])
def test_notes_only_in_sections_are_found_in_a_bzimage(tmp_path, compression):
    """No Xen note in PT_NOTE: the whole payload is inflated and the note sections read, as libelf does."""
    elf = _elf_with_xen_notes_in_a_section_only(bytes(9 << 20))
    (tmp_path / "bzImage").write_bytes(make_bzimage(elf, compression))
    image = read_kernel(str(tmp_path / "bzImage"))
    assert (image.phys32_entry, image.guest_os) == (0x1000000, "test-os")
