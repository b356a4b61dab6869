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
