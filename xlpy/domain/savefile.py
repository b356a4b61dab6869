"""xl's save-file container (Xen 4.17 tools/xl: xl.h, xl_saverestore.c).

A save file is a fixed header, the "optional data" it announces, then the
domain image:

    offset  size  field
         0    32  magic: "Xen saved domain, xl format\\n \\0 \\r" (32 bytes, no NUL after)
        32     4  byteorder: 0x01020304, written in the host's byte order
        36     4  mandatory_flags: a reader rejects any bit it does not know
        40     4  optional_flags
        44     4  optional_data_len
        48     n  optional data: u32 config length, then the config
                  (JSON with its trailing NUL when FLAG_JSON, else xl.cfg text)
    48 + n        the domain image (libxc's stream for xl; see DomainImage)

All integers are in the byte order of the host that wrote the file; a reader
on a host of the other order sees a wrong byteorder value and gives up, as xl
does. The reader below makes xl's checks in xl's order with xl's messages.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"Xen saved domain, xl format\n \0 \r"
BYTEORDER = 0x01020304
FLAG_JSON = 1 << 0  # the config is libxl_domain_config JSON, not xl.cfg text
FLAG_STREAM_V2 = 1 << 1  # the image is a migration stream v2
KNOWN_MANDATORY = FLAG_JSON | FLAG_STREAM_V2
HEADER = struct.Struct("=32s4I")  # native order, no padding: 48 bytes as in C


class SaveFileError(Exception):
    """The file cannot be restored; str() is xl's message for it."""


@dataclass
class SaveHeader:
    mandatory_flags: int
    optional_flags: int
    config: bytes | None  # as stored, trailing NUL included; None when absent

    @property
    def config_text(self) -> str:
        """The stored config as text, without the NUL xl stores after JSON."""
        return (self.config or b"").rstrip(b"\0").decode("utf-8", "replace")

    @property
    def config_is_json(self) -> bool:
        return bool(self.mandatory_flags & FLAG_JSON)

    def info(self) -> str:
        """xl's "flags/flags/length" triple, as its save and restore print it."""
        return f"0x{self.mandatory_flags:x}/0x{self.optional_flags:x}/{self.optional_data_len}"

    @property
    def optional_data_len(self) -> int:
        return 0 if self.config is None else 4 + len(self.config)


def header_for_json(config_json: str) -> SaveHeader:
    """What xl save writes: a v2 stream with the config as JSON (NUL included)."""
    data = config_json.encode() + b"\0"
    return SaveHeader(FLAG_STREAM_V2 | FLAG_JSON, 0, data)


def write_header(out: BinaryIO, header: SaveHeader) -> None:
    out.write(HEADER.pack(MAGIC, BYTEORDER, header.mandatory_flags, header.optional_flags,
                          header.optional_data_len))
    if header.config is not None:
        out.write(struct.pack("=I", len(header.config)) + header.config)


def _read_exactly(src: BinaryIO, size: int, what: str, source: str) -> bytes:
    data = src.read(size)
    if len(data) != size:
        raise SaveFileError(f"file/stream truncated reading {what} from {source}")
    return data


def read_header(src: BinaryIO, source: str, report=lambda line: None) -> SaveHeader:
    """Read and check the header and optional data; `src` is left at the image.
    `report` gets the progress lines xl prints on stderr while it reads."""
    magic, byteorder, mandatory, optional, optlen = HEADER.unpack(
        _read_exactly(src, HEADER.size, "header", source))
    if magic != MAGIC:
        raise SaveFileError("File has wrong magic number - corrupt or for a different tool?")
    if byteorder != BYTEORDER:
        raise SaveFileError("File has wrong byte order")
    report(f"Loading new save file {source} (new xl fmt info 0x{mandatory:x}/0x{optional:x}/{optlen})")
    unknown = mandatory & ~KNOWN_MANDATORY
    if unknown:
        raise SaveFileError(f"Savefile has mandatory flag(s) 0x{unknown:x} which are not supported; need newer xl")
    optdata = _read_exactly(src, optlen, "optdata", source) if optlen else b""
    config = None
    if optdata:
        report(" Savefile contains xl domain config" + (" in JSON format" if mandatory & FLAG_JSON else ""))
        if len(optdata) < 4:
            raise SaveFileError("Savefile truncated.")
        (length,) = struct.unpack("=I", optdata[:4])
        if len(optdata) - 4 < length:
            raise SaveFileError("Savefile truncated.")
        config = optdata[4:4 + length]  # anything after it is optional data this reader skips
    return SaveHeader(mandatory, optional, config)
