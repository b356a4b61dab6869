"""CPU lists (`cpus`, `cpus_soft`, `vcpu-pin`): xl's parse_cpurange.

Pieces are separated by `,`; each adds to the set, or removes with a leading
`^`: `all`, `N`, `N-M`, and `node:`/`nodes:` followed by one of those for all
CPUs of those NUMA nodes. CPUs beyond the host are silently ignored.
"""

from __future__ import annotations

from xlpy.config.specs import SpecError
from xlpy.domain.host import Topology


def _range(text: str, piece: str) -> tuple[int, int]:
    first, sep, last = text.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise SpecError(f"Invalid pcpu range: {piece}.")
    lo, hi = int(first), int(last) if sep else int(first)
    if hi < lo:
        raise SpecError(f"Invalid pcpu range: {piece}.")
    return lo, hi


def parse_cpu_list(text: str, topology: Topology) -> set[int]:
    cpus: set[int] = set()
    for piece in text.split(","):
        if not piece:
            continue
        body = piece[1:] if piece.startswith("^") else piece
        remove = body is not piece
        selected: set[int]
        if body.startswith(("node:", "nodes:")):
            spec = body.partition(":")[2]
            if spec == "all":
                nodes = set(range(topology.nr_nodes))
            else:
                lo, hi = _range(spec, spec)  # xl names only the node part
                nodes = set(range(lo, hi + 1))
            selected = {c for c in range(topology.nr_cpus) if topology.node_of(c) in nodes}
        elif body == "all":
            if remove:
                raise SpecError('Can\'t combine "^" and "all".')
            selected = set(range(topology.nr_cpus))
        else:
            lo, hi = _range(body, piece)
            selected = set(range(lo, min(hi, topology.nr_cpus - 1) + 1))
        cpus = cpus - selected if remove else cpus | selected
    return cpus


def format_cpu_list(cpus: set[int], nr_cpus: int) -> str:
    """xl's print_bitmap: `all`, `none`, or ranges joined by commas."""
    if not cpus:
        return "none"
    if cpus >= set(range(nr_cpus)):
        return "all"
    ranges, start, prev = [], None, None
    for cpu in sorted(cpus):
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:
            prev = cpu
        else:
            ranges.append((start, prev))
            start = prev = cpu
    ranges.append((start, prev))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
