"""libxl's setdefault step (Xen 4.17) for the values xlpy acts on, and what
libxl writes back into the config it stores for the domain.

libxl fills in defaults on a copy of the caller's config when create starts
(libxl__domain_build_info_setdefault, libxl__device_nic_setdefault), builds
the domain from that copy, and stores the caller's config with a few values
taken from it (libxl__update_domain_configuration): the UUID, the video
memory, x86's msr_relaxed, and each nic's devid, nictype and MAC. `effective`
and `for_storage` are those two steps; everything that needs a default reads
it from the effective config.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig, DomainType
    from xlpy.domain.devices import DeviceNic

#: An HVM guest's video RAM with QEMU upstream, by card: (default, minimum or
#: None, libxl's message below the minimum). Cirrus is the default card.
VIDEO_MEMKB = {
    "none": (0, None, ""),
    "qxl": (128 * 1024, 128 * 1024, "128 Mib videoram is the minimum for qxl default"),
    "std": (16 * 1024, 16 * 1024, "videoram must be at least 16 MB for STDVGA on QEMU_XEN"),
    "cirrus": (8 * 1024, 8 * 1024, "videoram must be at least 8 MB for CIRRUS on QEMU_XEN"),
}
DEFAULT_BRIDGE = "xenbr0"
DEFAULT_NIC_MODEL = "rtl8139"
DEFAULT_NIC_MTU = 1500  # LIBXL_DEVICE_NIC_MTU_DEFAULT
DEFAULT_NIC_SCRIPT = "vif-bridge"  # in Xen's script directory
EMULATED_NIC_ON_PV = "trying to create PV or PVH guest with an emulated interface"


class DefaultsError(ValueError):
    """A value libxl's setdefault refuses, with libxl's message; `key` is the
    config key it comes from ("" when it is a combination of keys)."""

    def __init__(self, message: str, key: str) -> None:
        super().__init__(message)
        self.key = key


def refusal(given: DomainConfig) -> DefaultsError | None:
    """What libxl's setdefault would refuse in `given`, without copying it
    (`xlpy check` asks this of every file)."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.devices import NicType

    b = given.b_info
    if b.type is DomainType.HVM and b.video_memkb is not None:
        _, minimum, message = VIDEO_MEMKB[b.u.vga.kind or "cirrus"]
        if minimum is not None and b.video_memkb < minimum:
            return DefaultsError(message, "videoram")
    if b.type is not DomainType.HVM and any(nic.nictype is NicType.VIF_IOEMU for nic in given.nics):
        return DefaultsError(EMULATED_NIC_ON_PV, "vif")
    from xlpy.domain.hvm import refusal as hvm_refusal

    problem = hvm_refusal(given)  # an HVM container's settings, which name no single key
    return DefaultsError(problem, "") if problem else None


def effective(given: DomainConfig) -> DomainConfig:
    """A copy of `given` with libxl's defaults, as create builds from it."""
    from xlpy.domain.config import DomainType

    problem = refusal(given)
    if problem:
        raise problem
    dc = copy.deepcopy(given)
    b = dc.b_info
    if b.video_memkb is None:
        b.video_memkb = VIDEO_MEMKB[b.u.vga.kind or "cirrus"][0] if b.type is DomainType.HVM else 0
    if b.arch_x86.msr_relaxed is None:
        b.arch_x86.msr_relaxed = False
    for nic in dc.nics:
        nic_setdefault(nic, b.type, hotplug=False)
    last = max((nic.devid for nic in dc.nics if nic.devid is not None), default=-1)
    for nic in dc.nics:  # libxl__device_nic_set_devids: the unnumbered ones follow the highest
        if nic.devid is None:
            last += 1
            nic.devid = last
    return dc


def for_storage(given: DomainConfig, used: DomainConfig) -> DomainConfig:
    """The config libxl stores: as given, with what create chose written back."""
    stored = copy.deepcopy(given)
    stored.c_info.uuid = used.c_info.uuid
    stored.b_info.video_memkb = used.b_info.video_memkb
    stored.b_info.arch_x86.msr_relaxed = used.b_info.arch_x86.msr_relaxed
    for mine, chosen in zip(stored.nics, used.nics):
        nic_update_config(mine, chosen)
    return stored


def nic_update_config(stored: DeviceNic, chosen: DeviceNic) -> None:
    """libxl__update_config_nic: what a nic's stored form takes from its used one."""
    stored.devid, stored.nictype, stored.mac = chosen.devid, chosen.nictype, chosen.mac


def nic_setdefault(nic: DeviceNic, domain_type: DomainType, hotplug: bool) -> None:
    """libxl__device_nic_setdefault: the MTU, a model for QEMU, a MAC in Xen's OUI, the default
    bridge and hotplug script, trusted, and the nic type: an HVM guest's nics get an emulated
    twin unless hot-plugged; PV and PVH guests have no emulated interfaces."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.devices import NicType

    if not nic.mtu:
        nic.mtu = DEFAULT_NIC_MTU
    if not nic.model:
        nic.model = DEFAULT_NIC_MODEL
    if not nic.mac:
        nic.mac = random_mac()
    if not nic.bridge:
        nic.bridge = DEFAULT_BRIDGE
    if not nic.script:
        nic.script = DEFAULT_NIC_SCRIPT
    if nic.trusted is None:
        nic.trusted = True
    if domain_type is DomainType.HVM:
        if nic.nictype is NicType.UNKNOWN:
            nic.nictype = NicType.VIF if hotplug else NicType.VIF_IOEMU
    elif nic.nictype is NicType.VIF_IOEMU:
        raise DefaultsError(EMULATED_NIC_ON_PV, "vif")
    else:
        nic.nictype = NicType.VIF


def random_mac() -> str:
    """A locally random address in Xen's OUI 00:16:3e, as libxl makes one
    (the fourth byte's top bit clear)."""
    r = os.urandom(3)
    return f"00:16:3e:{r[0] & 0x7F:02x}:{r[1]:02x}:{r[2]:02x}"
