"""The domain config as libxl keeps it (Xen 4.17), and reading it back.

libxl stores a domain's config when create completes: the config as the
caller gave it, not the one its setdefault functions filled in, updated
with a few values only (libxl__update_domain_configuration): the UUID, the
video memory, x86's msr_relaxed made explicit, and for each nic its devid,
nictype and MAC address. `stored_defaults` applies exactly those, so that
`list -l` and save files show what xl shows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig

#: b_info.video_memkb as libxl's setdefault chooses it for an HVM guest with
#: qemu-xen, by vga kind (cirrus is the default kind).
HVM_VIDEO_MEMKB = {"none": 0, "std": 16 * 1024, "cirrus": 8 * 1024, "qxl": 128 * 1024}


def stored_defaults(dc: DomainConfig) -> DomainConfig:
    """The values libxl writes back into the stored config after create."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.devices import NicType

    hvm = dc.b_info.type is DomainType.HVM
    if dc.b_info.video_memkb is None:
        dc.b_info.video_memkb = HVM_VIDEO_MEMKB.get(dc.b_info.u.vga.kind or "cirrus", 8 * 1024) if hvm else 0
    if dc.b_info.arch_x86.msr_relaxed is None:
        dc.b_info.arch_x86.msr_relaxed = False
    for nic in dc.nics:
        if nic.nictype is NicType.UNKNOWN:
            nic.nictype = NicType.VIF_IOEMU if hvm else NicType.VIF
    return dc


def config_from_json(text: str) -> DomainConfig:
    """A DomainConfig from libxl's JSON (a save file's, or the stored one)."""
    from xlpy.domain.config import DomainConfig, DomainType, PvhGeneration

    dc = DomainConfig.from_json_obj(json.loads(text))
    if dc.c_info.pvh:
        dc.pvh_generation = PvhGeneration.LEGACY
    elif dc.c_info.type is DomainType.PVH:
        dc.pvh_generation = PvhGeneration.MODERN
    return dc
