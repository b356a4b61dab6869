"""Virtual disk names to the device numbers Xen's blkif uses (xvda = 51712)."""

from __future__ import annotations

import re


def _parse(vdev: str) -> tuple[str, int, int] | None:
    """(prefix, disk index from 0, partition) of xvdX, hdX, sdX names."""
    m = re.fullmatch(r"(xvd|hd|sd)([a-z]+)(\d*)", vdev)
    if not m:
        return None
    prefix, letters, part = m.groups()
    disk = 0
    for ch in letters:
        disk = disk * 26 + (ord(ch) - ord("a") + 1)
    return prefix, disk - 1, int(part) if part else 0


def disk_index(vdev: str) -> int | None:
    """Which disk a name means (hda and xvda and sda are 0): the unit an
    emulated controller gets, as libxl__device_disk_dev_number reports it."""
    parsed = _parse(vdev)
    return parsed[1] if parsed else None


def vdev_number(vdev: str) -> int | None:
    """libxl__device_disk_dev_number for the common forms: xvdX, hdX, sdX, numbers."""
    if vdev.isdigit():
        return int(vdev)
    parsed = _parse(vdev)
    if parsed is None:
        return None
    prefix, disk, partition = parsed
    if prefix == "xvd":
        if disk < 16 and partition < 16:
            return (202 << 8) | (disk << 4) | partition
        return (1 << 28) | (disk << 8) | partition
    if prefix == "hd":
        if disk >= 4 or partition >= 64:
            return None
        return ((3, 22)[disk // 2] << 8) | ((disk % 2) << 6) | partition
    if disk >= 16 or partition >= 16:
        return None
    return (8 << 8) | (disk << 4) | partition
