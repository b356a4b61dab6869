"""The model's host: CPUs, NUMA nodes, memory and dom0, from a YAML profile.

The profile is XLPY_HOST_PROFILE, else `host.yaml` in the state directory,
else the built-in default below. Keys: nr_cpus, nr_nodes, cores_per_socket,
threads_per_core, cpu_mhz, memory_mib, dom0_memory_mib, dom0_vcpus,
scheduler, xen_version, hap.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from xlpy.domain.host import load_profile_data


@dataclass(frozen=True)
class HostProfile:
    nr_cpus: int = 4
    nr_nodes: int = 1
    cores_per_socket: int = 4
    threads_per_core: int = 1
    cpu_mhz: int = 2400
    memory_mib: int = 16384
    dom0_memory_mib: int = 1024
    dom0_vcpus: int = 4
    scheduler: str = "credit2"
    xen_version: str = "4.17.7"
    hap: bool = True


def load_profile(state_dir: Path) -> HostProfile:
    data = load_profile_data(state_dir)
    known = {f.name for f in fields(HostProfile)}
    return HostProfile(**{k: v for k, v in data.items() if k in known})
