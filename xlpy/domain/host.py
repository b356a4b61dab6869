"""The host's CPU topology, as the parts of xl that read CPU lists need it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
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


def state_dir() -> Path:
    """Where a host's state lives: XLPY_STATE_DIR, else $XDG_STATE_HOME/xlpy,
    else ~/.local/state/xlpy."""
    explicit = os.environ.get("XLPY_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "xlpy"


def load_profile_data(directory: Path | None = None) -> dict:
    """The host profile as a mapping: XLPY_HOST_PROFILE, else `host.yaml` in
    the state directory, else empty (the built-in default host)."""
    path = Path(os.environ.get("XLPY_HOST_PROFILE") or (directory or state_dir()) / "host.yaml")
    if not path.is_file():
        return {}
    import yaml

    with open(path) as f:
        return yaml.safe_load(f) or {}


def current_topology() -> Topology:
    """The topology dry runs use: the same host profile the model reads,
    without opening (or creating) the model's state."""
    return Topology.from_profile(load_profile_data())
