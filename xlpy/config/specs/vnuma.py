"""vnuma=: the guest's virtual NUMA nodes, as xl 4.17 reads them.

Each node is a list of "key=value" strings: pnode (the host node backing it),
size (MiB), vcpus (a comma list of ranges) and vdistances (one distance to
each node). xl ignores other keys, and it reads vcpu ranges without checking
them: "2-1" gives no vCPU, "x" counts as vCPU 0.
"""

from __future__ import annotations

from xlpy.config.specs import SpecError, split_string_list
from xlpy.config.values import ULONG_RANGE, ListValue, strtoul
from xlpy.domain.config import VnodeInfo

ULONG_MAX = ULONG_RANGE - 1


def _ulong(text: str) -> int:
    """xl's parse_ulong: a decimal number, or xl exits."""
    value, read = strtoul(text, 10)
    if not read or value == ULONG_MAX:
        raise SpecError(f'xl: failed to convert "{text}" to number')
    return value


def _unchecked_range(text: str) -> tuple[int, int]:
    """parse_range's first and last numbers, its verdict ignored as vnuma ignores it."""
    first, read = strtoul(text, 10)
    last = first
    if read and text[read:read + 1] == "-":
        last, _ = strtoul(text[read + 1:], 10)
    return first, last


class VnumaNode:
    """One node's settings as read, before the whole-guest checks."""

    def __init__(self, count: int) -> None:
        self.info = VnodeInfo(distances=[0] * count)
        self.vcpus_named = 0  # every vCPU the ranges name, as xl counts them
        self.pinned = False  # a pnode= was given: the guest is placed by hand
        self.unknown: list[str] = []


def parse_vnode(item, count: int, nr_nodes: int, bitmap_bits: int) -> VnumaNode:
    """One vnuma= entry (a list of key=value strings)."""
    if not isinstance(item, ListValue):
        raise SpecError("xl: cannot get vnode config option list")
    node = VnumaNode(count)
    info = node.info
    for option in item:
        if isinstance(option, ListValue):
            continue  # xl skips anything that is not a string
        pair = [piece for piece in str(option).split("=") if piece]
        if len(pair) < 2:
            raise SpecError(f'xl: failed to split "{option}" into pair')
        key, value = pair[0].strip(), pair[1].strip()
        if key == "pnode":
            info.pnode = _ulong(value)
            if info.pnode >= nr_nodes:
                raise SpecError(f"xl: invalid pnode number: {info.pnode}")
            node.pinned = True
        elif key == "size":
            info.memkb = (_ulong(value) << 10) % ULONG_RANGE
        elif key == "vcpus":
            for piece in split_string_list(value, ","):
                first, last = _unchecked_range(piece)
                if last >= first:
                    node.vcpus_named += last - first + 1
                    info.vcpus |= set(range(first, min(last, bitmap_bits - 1) + 1))
        elif key == "vdistances":
            distances = [_ulong(piece) for piece in split_string_list(value, ",")]
            if len(distances) > count:
                raise SpecError(f"{len(distances)} vdistances for {count} nodes "
                                "(xl writes past its table)")
            info.distances[:len(distances)] = [d & 0xFFFFFFFF for d in distances]
        else:
            node.unknown.append(key)
    return node
