"""Reading a guest kernel image as Xen's domain builder does.

The Xen ELF notes (xen/include/public/elfnote.h) say how the kernel wants to
be booted: XEN_ELFNOTE_PHYS32_ENTRY for modern PVH (entered in 32-bit flat
mode with %ebx pointing at hvm_start_info), XEN_ELFNOTE_ENTRY plus the feature
list for PV and the original PVH design (entered in 64-bit mode with the
start_info page). A bzImage carries the ELF compressed inside it.
"""

from __future__ import annotations

import io
import lzma
import struct
import zlib
from dataclasses import dataclass, field

from xlpy.backends.base import InvalidArgument

NOTE_ENTRY, NOTE_FEATURES, NOTE_GUEST_OS, NOTE_PHYS32_ENTRY = 1, 10, 6, 18
LEGACY_PVH_FEATURES = frozenset(
    {"writable_descriptor_tables", "auto_translated_physmap", "supervisor_mode_kernel", "hvm_callback_vector"}
)


@dataclass(frozen=True)
class KernelImage:
    elf_class: int  # 32 or 64
    pv_entry: int | None
    phys32_entry: int | None
    features: frozenset[str] = field(default_factory=frozenset)
    guest_os: str = ""

    @property
    def has_xen_notes(self) -> bool:
        return bool(self.pv_entry or self.phys32_entry or self.features or self.guest_os)

    @property
    def legacy_pvh_capable(self) -> bool:
        """64-bit with every feature the original PVH design required."""
        return self.elf_class == 64 and self.pv_entry is not None and LEGACY_PVH_FEATURES <= self.features


def read_kernel(path: str) -> KernelImage:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"cannot read kernel {path}: {e.strerror}", "xc_dom_kernel_file") from None
    for whole in (False, True):
        elf = _elf_payload(data, path, whole)
        try:
            image = parse_kernel(elf, path)
        except InvalidArgument:
            if whole:
                raise
            continue  # cut short before the note sections an image without Xen's PT_NOTE needs
        if image.has_xen_notes or whole or data[:4] == b"\x7fELF":
            return image
    raise AssertionError("unreachable")


def _elf_payload(data: bytes, path: str, whole: bool = False) -> bytes:
    """The ELF inside: the file itself, or as much of a bzImage's compressed
    payload as it takes to read the Xen notes (see _enough), or all of it."""
    if data[:4] == b"\x7fELF":
        return data
    if len(data) > 0x250 and data[0x202:0x206] == b"HdrS":
        setup_sects = data[0x1F1] or 4
        offset, length = struct.unpack_from("<II", data, 0x248)
        start = (setup_sects + 1) * 512 + offset
        payload = data[start : start + length]
        return _decompress(payload, path, whole)
    raise InvalidArgument(f"{path} is neither an ELF image nor a bzImage", "xc_dom_parse_image")


def _decompress(payload: bytes, path: str, whole: bool) -> bytes:
    out = bytearray()
    try:
        for chunk in _decompressed_chunks(payload, path):
            out += chunk
            if not whole and _enough(out):
                break
    except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
        raise InvalidArgument(f"{path}: cannot decompress the bzImage payload: {e}", "xc_dom_parse_image") from None
    return bytes(out)


def _enough(elf: bytearray) -> bool:
    """Whether the ELF so far holds every PT_NOTE segment. The notes of a
    Linux kernel sit about halfway in, so the rest need not be inflated (in an
    emulated dom0 that saves seconds); without PT_NOTE the whole image is read."""
    if len(elf) < 64 or elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    if len(elf) < phoff + phentsize * phnum:
        return False
    ends = []
    for index in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + index * phentsize)
        if p_type == 4:  # PT_NOTE
            ends.append(p_offset + p_filesz)
    return bool(ends) and len(elf) >= max(ends)


CHUNK = 1 << 20


def _decompressed_chunks(payload: bytes, path: str):
    # One stream each: the bzImage appends the decompressed size after it,
    # which the one-shot helpers would read as a second, broken stream.
    if payload[:2] == b"\x1f\x8b":
        yield from _bounded(zlib.decompressobj(wbits=31), payload)
    elif payload[:6] == b"\xfd7zXZ\x00":
        yield from _bounded(lzma.LZMADecompressor(format=lzma.FORMAT_XZ), payload)
    elif payload[:3] == b"\x5d\x00\x00":
        yield from _bounded(lzma.LZMADecompressor(format=lzma.FORMAT_ALONE), payload)
    elif payload[:4] == b"\x28\xb5\x2f\xfd":
        decompressor = _optional("zstandard", path).ZstdDecompressor().decompressobj()
        for start in range(0, len(payload), CHUNK // 4):  # input slices: it has no output bound
            yield decompressor.decompress(payload[start:start + CHUNK // 4])
            if decompressor.eof:
                return
    elif payload[:4] == LZ4_LEGACY_MAGIC:
        yield from _lz4_legacy(payload, path)
    else:
        raise InvalidArgument(f"{path}: unknown bzImage payload compression", "xc_dom_parse_image")


def _bounded(decompressor, payload: bytes):
    """A zlib or lzma decompressor's output, CHUNK bytes at a time."""
    if isinstance(decompressor, lzma.LZMADecompressor):
        data = payload
        while not decompressor.eof:
            chunk = decompressor.decompress(data, max_length=CHUNK)
            data = b""
            if not chunk and decompressor.needs_input:
                return
            yield chunk
    else:
        data = payload
        while data and not decompressor.eof:
            yield decompressor.decompress(data, CHUNK)
            data = decompressor.unconsumed_tail


LZ4_LEGACY_MAGIC = b"\x02\x21\x4c\x18"


def _lz4_legacy(payload: bytes, path: str):
    """The kernel's LZ4 legacy frames: blocks of (u32 size, data), each at most
    8 MiB decompressed; the magic may repeat between chunks, and the bzImage
    appends the decompressed size, which ends the walk."""
    block = _optional("lz4.block", path)
    pos = 4
    while pos + 4 <= len(payload):
        if payload[pos : pos + 4] == LZ4_LEGACY_MAGIC:
            pos += 4
            continue
        (size,) = struct.unpack_from("<I", payload, pos)
        if size == 0 or pos + 4 + size > len(payload):
            break
        yield block.decompress(payload[pos + 4 : pos + 4 + size], uncompressed_size=8 << 20)
        pos += 4 + size


def _optional(module: str, path: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InvalidArgument(f"{path}: needs the `{module}' package to decompress", "xc_dom_parse_image") from None


def _note_type(n_type) -> int:
    """pyelftools names note types as GNU ones whatever the owner; Xen's are numbers."""
    if isinstance(n_type, int):
        return n_type
    from elftools.elf.enums import ENUM_NOTE_N_TYPE

    return ENUM_NOTE_N_TYPE.get(n_type, -1)


def parse_kernel(elf: bytes, path: str = "<image>") -> KernelImage:
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        image = ELFFile(io.BytesIO(elf))
        notes = {}
        for segment in image.iter_segments():
            if segment["p_type"] != "PT_NOTE":
                continue
            for note in segment.iter_notes():
                if note["n_name"] == "Xen":
                    notes[_note_type(note["n_type"])] = note["n_descdata"]
        if not notes:  # an image without Xen's PT_NOTE: its note sections, read whole
            for section in image.iter_sections():
                if section["sh_type"] == "SHT_NOTE":
                    for note in section.iter_notes():
                        if note["n_name"] == "Xen":
                            notes.setdefault(_note_type(note["n_type"]), note["n_descdata"])
    except ELFError as e:
        raise InvalidArgument(f"{path}: not a valid ELF image ({e})", "xc_dom_parse_image") from None
    elf_class = image.elfclass

    def number(kind):
        raw = notes.get(kind)
        if isinstance(raw, str):
            raw = raw.encode("latin-1")
        if not raw:
            return None
        return int.from_bytes(raw[:8] if len(raw) >= 8 else raw[:4], "little")

    def text(kind):
        raw = notes.get(kind, b"")
        if isinstance(raw, str):
            raw = raw.encode("latin-1")
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")

    features = frozenset(f.lstrip("!") for f in text(NOTE_FEATURES).split("|") if f)
    return KernelImage(elf_class, number(NOTE_ENTRY), number(NOTE_PHYS32_ENTRY), features, text(NOTE_GUEST_OS))
