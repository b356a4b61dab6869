"""Disk specs: xl-disk-configuration(5), as libxlutil 4.17 lexes them.

A spec is comma-separated. Keyword parameters (`vdev=`, `format=`, ...) may
come in any order; the rest are positional: target, format, vdev, access
(format is skipped after a deprecated `phy:`-style prefix). `target=` takes
the whole rest of the spec, commas included.
"""

from __future__ import annotations

import re

from xlpy.config.specs import SpecError
from xlpy.config.values import atoi
from xlpy.domain.devices import DeviceDisk, DiskBackend, DiskFormat, DiskSpecification

_FORMATS = {"raw": DiskFormat.RAW, "qcow": DiskFormat.QCOW, "qcow2": DiskFormat.QCOW2,
            "vhd": DiskFormat.VHD, "qed": DiskFormat.QED, "empty": DiskFormat.EMPTY, "": DiskFormat.RAW}
_BACKENDS = {"phy": DiskBackend.PHY, "tap": DiskBackend.TAP, "qdisk": DiskBackend.QDISK,
             "standalone": DiskBackend.STANDALONE}
_FORMAT_PREFIX = re.compile(r"(raw|qcow2?|vhd):")
_SCRIPT_PREFIX = re.compile(r"(iscsi|e?nbd|drbd):")
_IGNORED_PREFIX = re.compile(r"(tapdisk|tap2?|aio|ioemu|file|phy):")
_UNKNOWN_PREFIX = re.compile(r"[a-z][a-z0-9]*:(?=[^a-z0-9]|$)")
_KEYWORD = re.compile(r"[a-z][-a-z0-9]*=")
# Debian's 4.17 libxlutil was built from a lexer without trusted/untrusted:
# there they are positional parameters like any other word.
_FLAGS = {"direct-io-safe", "discard", "no-discard", "colo", "no-colo", "cdrom"}
_SPECIFICATIONS = {"xen": DiskSpecification.XEN, "virtio": DiskSpecification.VIRTIO}
#: Keyword parameters that are plain strings, set once (an empty one may be set again).
_STRING_KEYS = {"colo-host": "colo_host", "colo-export": "colo_export", "active-disk": "active_disk",
                "hidden-disk": "hidden_disk"}


class _ValueError(SpecError):
    """An unknown value: libxlutil reports it and lexes on."""


class _Spec:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.disk = DeviceDisk(readwrite=1)
        self.deprecated_prefix = False
        self.access_set = False
        self.target_set = False
        self.format_set = False

    def set_target(self, value: str) -> None:
        # libxlutil's "respecified" checks look at the old value: an empty one may be replaced.
        if self.disk.pdev_path:
            raise _ValueError(f"target respecified: near `{value}'")
        self.target_set = True
        self.disk.pdev_path = value

    def set_format(self, value: str) -> None:
        if value not in _FORMATS:
            raise _ValueError(f"unknown value for format: near `{value}'")
        if self.format_set and _FORMATS[value] is not self.disk.format:
            raise _ValueError(f"format respecified: near `{value}'")
        self.format_set = True
        self.disk.format = _FORMATS[value]

    def set_access(self, value: str) -> None:
        if value == "cdrom":
            self.set_cdrom()
        elif value in ("", "w", "rw"):
            self.disk.readwrite = 1
        elif value in ("r", "ro"):
            self.disk.readwrite = 0
        else:
            raise _ValueError(f"unknown value for access: near `{value}'")

    def set_vdev(self, value: str) -> None:
        if self.disk.vdev:
            raise _ValueError(f"vdev respecified: near `{value}'")
        self.disk.vdev = value

    def vdev_and_devtype(self, value: str) -> bool:
        """The legacy `vdev:devtype` form; false when there is no colon."""
        vdev, sep, devtype = value.partition(":")
        if not sep:
            return False
        if devtype == "cdrom":
            self.set_cdrom()
        elif devtype == "disk":
            self.set_disk()
        else:
            raise _ValueError(f"unknown deprecated type: near `{devtype}'")
        self.set_vdev(vdev)
        return True

    def set_cdrom(self) -> None:
        self.disk.is_cdrom = 1
        self.disk.removable = 1

    def set_disk(self) -> None:
        self.disk.is_cdrom = 0
        self.disk.removable = 0


def parse_disk(spec: str) -> DeviceDisk:
    """One disk spec string, as xl's disk= list items and block-attach take them."""
    return parse_disk_args([spec])


def parse_disk_args(specs: list[str]) -> DeviceDisk:
    """Several spec strings (block-attach's arguments), as xlu_disk_parse
    takes them: each is lexed on its own, one disk filled from all of them,
    and an error names the string it was found in."""
    state = _Spec()
    for spec in specs:
        try:
            _lex(state, spec)
        except SpecError as e:
            state.errors.append(f"{e} in `{spec}'")
        if state.errors:
            raise SpecError("\n".join(state.errors))
    try:
        return _finish(state)
    except SpecError as e:
        raise SpecError(f"{e} in `{specs[-1] if specs else ''}'") from None


def _lex(state: _Spec, text: str) -> None:
    pos = 0
    while pos < len(text):
        rest = text[pos:]
        if rest.startswith("target="):
            try:
                state.set_target(rest[len("target="):])
            except _ValueError as e:
                state.errors.append(f"{e} in `{text}'")
            break
        m = _KEYWORD.match(rest)
        if m:
            piece, _, _ = rest.partition(",")
            pos += len(piece) + 1
            token = rest[: len(piece) + 1]  # the lexer's token keeps its comma
            try:
                _keyword(state, piece[: m.end() - 1], piece[m.end():], token)
            except _ValueError as e:
                state.errors.append(f"{e} in `{text}'")
            continue
        if rest[0] in " \t\n":  # blanks between parameters are skipped
            pos += 1
            continue
        for pattern, action in ((_FORMAT_PREFIX, "format"), (_SCRIPT_PREFIX, "script"), (_IGNORED_PREFIX, "ignore")):
            m = pattern.match(rest)
            if m:
                state.deprecated_prefix = True
                try:
                    if action == "format":
                        state.set_format(m.group(1))
                    elif action == "script":
                        if state.disk.script is not None:
                            raise _ValueError(f"script respecified: near `block-{m.group(1)}'")
                        state.disk.script = f"block-{m.group(1)}"
                except _ValueError as e:
                    state.errors.append(f"{e} in `{text}'")
                pos += m.end()
                break
        else:
            if _UNKNOWN_PREFIX.match(rest):
                raise SpecError(f"unknown deprecated disk prefix: near `{_UNKNOWN_PREFIX.match(rest).group(0)}'")
            piece, _, _ = rest.partition(",")
            pos += len(piece) + 1
            try:
                if piece in _FLAGS:
                    _flag(state, piece)
                else:
                    _positional(state, piece)
            except _ValueError as e:
                state.errors.append(f"{e} in `{text}'")


def _keyword(state: _Spec, key: str, value: str, token: str = "") -> None:
    disk = state.disk
    if key == "format":
        state.set_format(value)
    elif key == "vdev":
        state.set_vdev(value)
    elif key == "access":  # unlike a positional access, this leaves the positional slot open
        state.set_access(value)
    elif key == "devtype":
        if value == "cdrom":
            state.set_cdrom()
        elif value == "disk":
            state.set_disk()
        else:
            raise _ValueError(f"unknown value for type: near `{token or 'devtype=' + value}'")
    elif key == "backendtype":
        if value not in _BACKENDS:
            raise _ValueError(f"unknown value for backendtype: near `{value}'")
        if disk.backend is not DiskBackend.UNKNOWN and disk.backend is not _BACKENDS[value]:
            raise _ValueError(f"backend respecified: near `{value}'")
        disk.backend = _BACKENDS[value]
    elif key == "backend":
        if disk.backend_domname:
            raise _ValueError(f"backend respecified: near `{value}'")
        disk.backend_domname = value
    elif key == "script":
        if disk.script:
            raise _ValueError(f"script respecified: near `{value}'")
        disk.script = value
    elif key == "specification":
        if value not in _SPECIFICATIONS:
            raise _ValueError(f"unknown value for specification: near `{value}'")
        if disk.specification not in (DiskSpecification.UNKNOWN, _SPECIFICATIONS[value]):
            raise _ValueError(f"specification respecified: near `{value}'")
        disk.specification = _SPECIFICATIONS[value]
    elif key == "colo-port":
        if not atoi(value):
            raise _ValueError(f"unknown value for colo_port: near `{value}'")
        disk.colo_port = atoi(value)
    elif key in _STRING_KEYS:
        if getattr(disk, _STRING_KEYS[key]):
            raise _ValueError(f"{key} respecified: near `{value}'")
        setattr(disk, _STRING_KEYS[key], value)
    else:
        raise _ValueError(f"unknown parameter: near `{token or key + '=' + value}'")


def _flag(state: _Spec, flag: str) -> None:
    if flag == "direct-io-safe":
        state.disk.direct_io_safe = True
    elif flag == "discard":
        state.disk.discard_enable = True
    elif flag == "no-discard":
        state.disk.discard_enable = False
    elif flag == "cdrom":
        state.set_cdrom()
    elif flag in ("colo", "no-colo"):
        state.disk.colo_enable = flag == "colo"


def _positional(state: _Spec, piece: str) -> None:
    if state.errors:  # after an error libxlutil reads positional parameters no more
        return
    disk = state.disk
    if not state.target_set:
        state.set_target(piece)
    elif not state.deprecated_prefix and disk.format is DiskFormat.UNKNOWN:
        if not disk.pdev_path and state.vdev_and_devtype(piece):
            disk.format = DiskFormat.EMPTY
        else:
            state.set_format(piece)
    elif disk.vdev is None:
        if not state.vdev_and_devtype(piece):
            state.set_vdev(piece)
    elif not state.access_set:
        state.access_set = True
        state.set_access(piece)
    else:
        raise SpecError(f"too many positional parameters: near `{piece}'")


def _finish(state: _Spec) -> DeviceDisk:
    disk = state.disk
    if disk.vdev is None:
        raise SpecError("no vdev specified")
    if disk.pdev_path is None and not disk.removable:
        raise SpecError("no target specified (and device not removable)")
    if disk.is_cdrom:
        disk.readwrite = 0
        if not disk.pdev_path:
            disk.format = DiskFormat.EMPTY
    if disk.format is DiskFormat.UNKNOWN:
        disk.format = DiskFormat.RAW
    return disk
