"""libxl's migration stream v2 (Xen 4.17 docs/specs/libxl-migration-stream.pandoc).

What xl save writes after its save-file container, and xl restore reads:

    header   16 bytes, big-endian: ident "LibxlFmt" (u64), version 2 (u32),
             options (u32: bit 0 big-endian, bit 1 converted from legacy)
    records  each: type (u32), body_length (u32), body, zero padding to 8 bytes;
             type and length in the stream's byte order (little-endian on x86)

Records: END (0), LIBXC_CONTEXT (1, empty: libxc's own stream follows it,
read and written by xc_domain_restore/xc_domain_save), EMULATOR_XENSTORE_DATA
(2) and EMULATOR_CONTEXT (3), whose bodies start with emulator_id and index
(u32 each), CHECKPOINT_END (4), CHECKPOINT_STATE (5). libxl writes, for a
plain save: the header, LIBXC_CONTEXT, libxc's stream, the emulator records
of an HVM guest, END.

The functions work on raw file descriptors: libxc reads and writes the same
descriptor in between, so nothing may be buffered ahead of it.
"""

from __future__ import annotations

import os
import struct

IDENT = 0x4C6962786C466D74  # "LibxlFmt"
VERSION = 2
OPT_BIG_ENDIAN, OPT_LEGACY = 1 << 0, 1 << 1
HEADER = struct.Struct(">QII")
RECORD = struct.Struct("<II")
EMULATOR = struct.Struct("<II")
END, LIBXC_CONTEXT, EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT, CHECKPOINT_END, CHECKPOINT_STATE = range(6)
RECORD_NAMES = {END: "END", LIBXC_CONTEXT: "LIBXC_CONTEXT", EMULATOR_XENSTORE_DATA: "EMULATOR_XENSTORE_DATA",
                EMULATOR_CONTEXT: "EMULATOR_CONTEXT", CHECKPOINT_END: "CHECKPOINT_END",
                CHECKPOINT_STATE: "CHECKPOINT_STATE"}
EMULATOR_UNKNOWN, EMULATOR_QEMU_TRADITIONAL, EMULATOR_QEMU_UPSTREAM = 0, 1, 2


class StreamError(Exception):
    """The stream is not one libxl wrote, or it is damaged; str() says how."""


def header() -> bytes:
    """The stream header as libxl writes it on a little-endian host."""
    return HEADER.pack(IDENT, VERSION, 0)


def record(kind: int, body: bytes = b"") -> bytes:
    """One record: its header, body and the zeroes that align it to 8 bytes."""
    return RECORD.pack(kind, len(body)) + body + b"\0" * (-len(body) % 8)


def emulator_record(kind: int, emulator_id: int, data: bytes, index: int = 0) -> bytes:
    return record(kind, EMULATOR.pack(emulator_id, index) + data)


def xenstore_data(pairs: list[tuple[str, str]]) -> bytes:
    """EMULATOR_XENSTORE_DATA's payload: key and value, each NUL-terminated, packed."""
    return b"".join(key.encode() + b"\0" + value.encode() + b"\0" for key, value in pairs)


def parse_xenstore_data(data: bytes) -> list[tuple[str, str]]:
    fields = data.split(b"\0")
    if fields[-1] != b"" or len(fields) % 2 != 1:
        raise StreamError("an emulator xenstore record is not a sequence of NUL-terminated key/value pairs")
    fields = [field.decode("ascii", "replace") for field in fields[:-1]]
    return list(zip(fields[0::2], fields[1::2]))


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_exactly(fd: int, size: int, what: str) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise StreamError(f"the stream ends inside its {what}")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_header(data: bytes) -> None:
    """libxl's checks of the stream header, in its order."""
    ident, version, options = HEADER.unpack(data)
    if ident != IDENT:
        raise StreamError(f"the image is not a libxl migration stream (ident {ident:#x}, expected {IDENT:#x})")
    if version != VERSION:
        raise StreamError(f"libxl migration stream version {version} is not supported (expected {VERSION})")
    if options & OPT_BIG_ENDIAN:
        raise StreamError("the libxl migration stream is big-endian, which this host cannot restore")


def read_header(fd: int) -> None:
    check_header(read_exactly(fd, HEADER.size, "header"))


def read_record(fd: int) -> tuple[int, bytes]:
    """The next record's type and body (padding consumed)."""
    kind, length = RECORD.unpack(read_exactly(fd, RECORD.size, "record header"))
    body = read_exactly(fd, length + (-length % 8), f"{RECORD_NAMES.get(kind, hex(kind))} record")
    return kind, body[:length]
