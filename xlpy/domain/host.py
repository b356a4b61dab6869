"""The host's CPU topology, as the parts of xl that read CPU lists need it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Topology:
    nr_cpus: int = 4
    nr_nodes: int = 1

    @classmethod
    def from_profile(cls, profile: Mapping) -> "Topology":
        """From a host profile mapping (keys `nr_cpus`, `nr_nodes`)."""
        return cls(int(profile.get("nr_cpus", 4)), int(profile.get("nr_nodes", 1)))

    def node_of(self, cpu: int) -> int:
        """CPUs are split evenly and contiguously across the nodes."""
        per_node = max(1, self.nr_cpus // self.nr_nodes)
        return min(cpu // per_node, self.nr_nodes - 1)


def current_topology() -> Topology:
    """The topology dry runs use: XLPY_HOST_PROFILE (YAML with nr_cpus and
    nr_nodes) when set, else the default host."""
    import os

    path = os.environ.get("XLPY_HOST_PROFILE")
    if not path:
        return Topology()
    import yaml

    with open(path) as f:
        return Topology.from_profile(yaml.safe_load(f) or {})
