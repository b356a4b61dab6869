"""What an HVM guest's build takes from its config, as Xen 4.17's libxl
takes it: the Viridian (Hyper-V) enlightenment mask, the checks libxl makes
before it creates the domain, and where each HVM field of the config is
honoured (HVM_FIELDS), so that none is read and then silently dropped.

Pure: a DomainConfig in, values or one-line refusals out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlpy.domain.config import VIRIDIAN_ENLIGHTENMENTS

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig, HvmInfo

HVM_PARAM_CALLBACK_IRQ = 0  # set by a guest with PV drivers: how Xen's event channels reach it
HVM_PARAM_VIRIDIAN = 9
HVM_PARAM_ACPI_S_STATE = 14  # the ACPI sleep state the guest is in (S3), 0 when awake
HVM_PARAM_VM_GENERATION_ID_ADDR = 34
#: libxl's default groups for viridian=1 (hvm_set_viridian_features).
VIRIDIAN_DEFAULTS = ("base", "freq", "time_ref_count", "apic_assist", "crash_ctl", "no_vp_limit", "cpu_hotplug")
#: HVMPV_* bits of xen/include/public/hvm/params.h each group sets.
HVMPV = {"base_freq": 1 << 0, "no_freq": 1 << 1, "time_ref_count": 1 << 2, "reference_tsc": 1 << 3,
         "hcall_remote_tlb_flush": 1 << 4, "apic_assist": 1 << 5, "crash_ctl": 1 << 6, "synic": 1 << 7,
         "stimer": 1 << 8, "hcall_ipi": 1 << 9, "ex_processor_masks": 1 << 10, "no_vp_limit": 1 << 11,
         "cpu_hotplug": 1 << 12}
_GROUP_BITS = {"time_ref_count": ("time_ref_count",), "reference_tsc": ("reference_tsc",),
               "hcall_remote_tlb_flush": ("hcall_remote_tlb_flush",), "apic_assist": ("apic_assist",),
               "crash_ctl": ("crash_ctl",), "synic": ("synic",), "stimer": ("time_ref_count", "synic", "stimer"),
               "hcall_ipi": ("hcall_ipi",), "ex_processor_masks": ("ex_processor_masks",),
               "no_vp_limit": ("no_vp_limit",), "cpu_hotplug": ("cpu_hotplug",)}

#: Every field of u.hvm (HvmInfo), and the HVM-container fields of the build
#: and create info, with where xlpy honours it or that it refuses it.
HVM_FIELDS = {
    # u.hvm
    "firmware": "builder: the firmware image (hvmloader unless firmware= names another)",
    "bios": "builder: the BIOS module and hvmloader/bios; rombios refused before the domain exists",
    "pae": "CPUID policy (xc_cpuid_apply_policy's pae)",
    "acpi_s3": "xenstore platform/acpi_s3",
    "acpi_s4": "xenstore platform/acpi_s4",
    "acpi_laptop_slate": "xenstore platform/acpi_laptop_slate",
    "nx": "nothing to do: libxl 4.17 reads it nowhere either (the CPUID policy keeps NX)",
    "viridian": "HVM_PARAM_VIRIDIAN (libxl's default groups)",
    "viridian_enable": "HVM_PARAM_VIRIDIAN (groups added)",
    "viridian_disable": "HVM_PARAM_VIRIDIAN (groups taken away)",
    "hpet": "HVM_PARAM_HPET_ENABLED",
    "vpt_align": "HVM_PARAM_VPT_ALIGN",
    "mmio_hole_memkb": "refused (a resized MMIO hole)",
    "altp2m": "HVM_PARAM_ALTP2M (mixed mode)",
    "system_firmware": "builder: the BIOS module's file (bios_path_override)",
    "smbios_firmware": "builder: the SMBIOS module, hvmloader/smbios/{address,length}",
    "acpi_firmware": "builder: the ACPI module, hvmloader/acpi/{address,length}",
    "hdtype": "device model (ahci refused)",
    "nographic": "device model: -nographic",
    "vga": "device model: the card; its RAM comes out of the guest's memory",
    "vnc": "device model: -vnc",
    "keymap": "device model: -k",
    "sdl": "device model: -display sdl",
    "spice": "refused (SPICE)",
    "gfx_passthru": "refused (graphics passthrough)",
    "gfx_passthru_kind": "refused with gfx_passthru (no passthrough without it)",
    "serial": "device model: -serial",
    "boot": "device model: -boot order=",
    "usb": "refused (emulated USB)",
    "usbversion": "refused (emulated USB)",
    "usbdevice": "refused (emulated USB)",
    "vkb_device": "xenstore: the vkbd device QEMU serves (libxl's default), left out with vkb_device=0",
    "soundhw": "device model: -device",
    "xen_platform_pci": "device model: -machine xenfv or pc",
    "usbdevice_list": "refused (emulated USB)",
    "vendor_device": "device model: xen-pvdevice",
    "ms_vm_genid": "xenstore platform/generation-id (libxl__ms_vm_genid_set)",
    "serial_list": "device model: -serial, each",
    "rdm": "refused unless strategy is ignore (reserved device memory is for passthrough)",
    "rdm_mem_boundary_memkb": "nothing to do without reserved device memory (rdm= refused)",
    "mca_caps": "HVM_PARAM_MCA_CAP",
    # build info, HVM containers only
    "b_info.apic": "hvm_info apic_mode",
    "b_info.acpi": "xenstore platform/acpi and QEMU's -no-acpi",
    "b_info.nested_hvm": "XEN_DOMCTL_CDF_nested_virt and the CPUID policy",
    "b_info.timer_mode": "HVM_PARAM_TIMER_MODE",
    "b_info.altp2m": "HVM_PARAM_ALTP2M",
    "b_info.shadow_memkb": "the paging pool (xc_set_paging_mempool_size)",
    "b_info.video_memkb": "the device model's video RAM, out of the guest's memory",
    "b_info.avail_vcpus": "hvm_info vcpu_online, cpu/N/availability, QEMU's -smp",
    "c_info.hap": "XEN_DOMCTL_CDF_hap",
    "c_info.oos": "XEN_DOMCTL_CDF_oos_off",
}


def viridian_mask(u: HvmInfo) -> int:
    """HVM_PARAM_VIRIDIAN's value, as libxl's hvm_set_viridian_features
    computes it; ValueError with libxl's reason when the groups conflict."""
    names = VIRIDIAN_ENLIGHTENMENTS
    groups = set(VIRIDIAN_DEFAULTS) if u.viridian else set()
    for bit in sorted(u.viridian_enable):
        if bit in u.viridian_disable:
            raise ValueError(f"viridian group {_group_name(bit)} both enabled and disabled")
        if bit < len(names):  # unknown bits (viridian=["all"] sets them all) are skipped, as libxl does
            groups.add(names[bit])
    groups -= {names[bit] for bit in u.viridian_disable if bit < len(names)}
    if groups and "base" not in groups:
        raise ValueError("viridian base group not enabled: every other group needs it")
    mask = 0
    if "base" in groups:
        mask |= HVMPV["base_freq"] | (0 if "freq" in groups else HVMPV["no_freq"])
    for group in groups:
        for bit in _GROUP_BITS.get(group, ()):
            mask |= HVMPV[bit]
    return mask


def _group_name(bit: int) -> str:
    return VIRIDIAN_ENLIGHTENMENTS[bit] if bit < len(VIRIDIAN_ENLIGHTENMENTS) else str(bit)


def pod_enabled(dc: DomainConfig) -> bool:
    """Populate-on-demand: an HVM container that starts below its maximum."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.layout import max_memory_kb

    b = dc.b_info
    return dc.c_info.type is not DomainType.PV and (b.target_memkb or max_memory_kb(b)) < max_memory_kb(b)


def refusal(dc: DomainConfig) -> str | None:
    """What libxl refuses in an HVM container's config before it makes the
    domain (libxl__domain_config_setdefault, libxl__domain_build_info_setdefault),
    or what xlpy cannot honour, as one line; None if nothing."""
    from xlpy.domain.config import Altp2mMode, BiosType, DomainType, HvmInfo

    b, kind = dc.b_info, dc.c_info.type
    if kind is DomainType.PV:
        return None
    hvm = kind is DomainType.HVM and isinstance(b.u, HvmInfo)
    altp2m = b.altp2m is not Altp2mMode.DISABLED or (hvm and bool(b.u.altp2m))
    if hvm and b.u.bios is BiosType.ROMBIOS:
        return "qemu-xen does not support bios=rombios (it needs the traditional device model)"
    if b.nested_hvm and altp2m:
        return "nestedhvm and altp2mhvm cannot be used together"
    if pod_enabled(dc):
        if altp2m:
            return "Cannot enable PoD and ALTP2M at the same time (memory below maxmem is populated on demand)"
        if dc.pcidevs or dc.dtdevs:
            return "IOMMU required for device passthrough but not supported together with PoD"
        if b.vnuma_nodes:
            return "Cannot enable PoD and vNUMA at the same time"
    if hvm:
        try:
            viridian_mask(b.u)
        except ValueError as e:
            return str(e)
        if b.u.ms_vm_genid is not None and len(b.u.ms_vm_genid) != 16:
            return "ms_vm_genid is not 16 bytes"
    return None


def generation_id(u: HvmInfo) -> bytes | None:
    """The VM generation ID's 16 bytes, or None for none (all zero)."""
    if not u.ms_vm_genid or not any(u.ms_vm_genid):
        return None
    return bytes(u.ms_vm_genid)


def generation_id_text(genid: bytes) -> str:
    """platform/generation-id as libxl writes it: the two 64-bit halves, in decimal."""
    low, high = int.from_bytes(genid[:8], "little"), int.from_bytes(genid[8:], "little")
    return f"{low}:{high}"
