"""DomainConfig: libxl_domain_config and the structs under it, in IDL order.

Only what xlpy sets is declared; the JSON printer leaves out every field at
its IDL default anyway, so the output matches `xl create -n` field for field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xlpy.domain.devices import (
    DeviceChannel, DeviceDisk, DeviceDtdev, DeviceNic, DeviceP9, DevicePci, DevicePvcallsif, DeviceVfb, DeviceVkb,
    DeviceUsbctrl, DeviceUsbdev, DeviceVdispl, DeviceVsnd, DeviceVtpm, RdmPolicy, SdlInfo, VncInfo,
)
from xlpy.domain.cpuid import CpuidPolicy
from xlpy.domain.idl import Enum, Struct, bitmap, defbool, union


class DomainType(Enum):
    INVALID = "invalid"
    HVM = "hvm"
    PV = "pv"
    PVH = "pvh"


class ShutdownAction(Enum):
    DESTROY = "destroy"
    RESTART = "restart"
    RESTART_RENAME = "restart_rename"
    PRESERVE = "preserve"
    COREDUMP_DESTROY = "coredump_destroy"
    COREDUMP_RESTART = "coredump_restart"
    SOFT_RESET = "soft_reset"


class TscMode(Enum):
    DEFAULT = "default"
    ALWAYS_EMULATE = "always_emulate"
    NATIVE = "native"
    NATIVE_PARAVIRT = "native_paravirt"

    @property
    def number(self) -> int:
        """libxl's number for the mode (the deprecated integer tsc_mode=), which is Xen's too."""
        return list(TscMode).index(self)


class Passthrough(Enum):
    DEFAULT = "default"
    DISABLED = "disabled"
    ENABLED = "enabled"
    SYNC_PT = "sync_pt"
    SHARE_PT = "share_pt"


#: libxl_viridian_enlightenment, by bit number.
VIRIDIAN_ENLIGHTENMENTS = (
    "base", "freq", "time_ref_count", "reference_tsc", "hcall_remote_tlb_flush", "apic_assist", "crash_ctl",
    "synic", "stimer", "hcall_ipi", "ex_processor_masks", "no_vp_limit", "cpu_hotplug",
)
VIRIDIAN_BITMAP_WIDTH = 64


class TeeType(Enum):
    NONE = "none"
    OPTEE = "optee"


class TimerMode(Enum):
    UNKNOWN = "unknown"
    DELAY_FOR_MISSED_TICKS = "delay_for_missed_ticks"
    NO_DELAY_FOR_MISSED_TICKS = "no_delay_for_missed_ticks"
    NO_MISSED_TICKS_PENDING = "no_missed_ticks_pending"
    ONE_MISSED_TICK_PENDING = "one_missed_tick_pending"

    @property
    def number(self) -> int:
        """libxl's number for the mode (-1 for unknown), which is HVM_PARAM_TIMER_MODE's too."""
        return list(TimerMode).index(self) - 1


#: The numbers the deprecated integer form of timer_mode uses.
TIMER_MODE_NUMBERS = {mode.number: mode for mode in TimerMode if mode is not TimerMode.UNKNOWN}


class DeviceModelVersion(Enum):
    UNKNOWN = "unknown"
    QEMU_XEN_TRADITIONAL = "qemu_xen_traditional"
    QEMU_XEN = "qemu_xen"


class BiosType(Enum):
    UNKNOWN = "unknown"
    ROMBIOS = "rombios"
    SEABIOS = "seabios"
    OVMF = "ovmf"


class HdType(Enum):
    IDE = "ide"
    AHCI = "ahci"


class GfxPassthruKind(Enum):
    DEFAULT = "default"
    IGD = "igd"


class VendorDevice(Enum):
    NONE = "none"
    XENSERVER = "xenserver"


class GicVersion(Enum):
    DEFAULT = "default"
    V2 = "v2"
    V3 = "v3"


class VuartType(Enum):
    UNKNOWN = "unknown"
    SBSA_UART = "sbsa_uart"


class Altp2mMode(Enum):
    DISABLED = "disabled"
    MIXED = "mixed"
    EXTERNAL = "external"
    LIMITED = "limited"

    @property
    def number(self) -> int:
        """libxl's number for the mode, which is HVM_PARAM_ALTP2M's too."""
        return list(Altp2mMode).index(self)


class RdmStrategy(Enum):
    IGNORE = "ignore"
    HOST = "host"


#: XEN_HVM_MCA_CAP_LMCE: the one MCA capability xl knows by name.
MCA_CAP_LMCE = 1


class PvhGeneration(Enum):
    """Which PVH a guest is (xlpy's own field, not libxl's; see PvhInfo)."""

    MODERN = "modern"
    LEGACY = "legacy"


@dataclass
class CreateInfo(Struct):
    type: DomainType = DomainType.INVALID
    hap: bool | None = defbool()
    oos: bool | None = defbool()
    ssidref: int = 0
    ssid_label: str | None = None
    name: str | None = None
    domid: int = 0
    uuid: str | None = None
    pool_name: str | None = None
    run_hotplug_scripts: bool | None = defbool()
    #: Xen 4.4's libxl_domain_create_info.pvh: set for a legacy `pvh=1` guest,
    #: so the difference from xl 4.17 (which drops the key) shows in the JSON.
    pvh: bool | None = defbool()
    driver_domain: bool | None = defbool()
    passthrough: Passthrough = Passthrough.DEFAULT
    xend_suspend_evtchn_compat: bool | None = defbool()


@dataclass
class SchedParams(Struct):
    sched: str | None = None  # set only in a retrieved config: the scheduler the values are for
    weight: int | None = None
    cap: int | None = None
    period: int | None = None


@dataclass
class VgaInfo(Struct):
    kind: str | None = None


@dataclass
class SpiceInfo(Struct):
    enable: bool | None = defbool()
    port: int = 0
    tls_port: int = 0
    host: str | None = None
    disable_ticketing: bool | None = defbool()
    passwd: str | None = None
    agent_mouse: bool | None = defbool()
    vdagent: bool | None = defbool()
    clipboard_sharing: bool | None = defbool()
    usbredirection: int = 0
    image_compression: str | None = None
    streaming_video: str | None = None


@dataclass
class RdmReserve(Struct):
    strategy: RdmStrategy = RdmStrategy.IGNORE
    policy: RdmPolicy = RdmPolicy.INVALID


@dataclass
class HvmInfo(Struct):
    """libxl_domain_build_info.u.hvm, the fields xlpy reads, in IDL order."""

    variant = "hvm"
    firmware: str | None = None
    bios: BiosType = BiosType.UNKNOWN
    pae: bool | None = defbool()
    acpi_s3: bool | None = defbool()
    acpi_s4: bool | None = defbool()
    acpi_laptop_slate: bool | None = defbool()
    nx: bool | None = defbool()
    viridian: bool | None = defbool()
    viridian_enable: set[int] = bitmap()
    viridian_disable: set[int] = bitmap()
    hpet: bool | None = defbool()
    vpt_align: bool | None = defbool()
    mmio_hole_memkb: int | None = None
    altp2m: bool | None = defbool()
    system_firmware: str | None = None
    smbios_firmware: str | None = None
    acpi_firmware: str | None = None
    hdtype: HdType = HdType.IDE
    nographic: bool | None = defbool()
    vga: VgaInfo = field(default_factory=VgaInfo)
    vnc: VncInfo = field(default_factory=VncInfo)
    keymap: str | None = None
    sdl: SdlInfo = field(default_factory=SdlInfo)
    spice: SpiceInfo = field(default_factory=SpiceInfo)
    gfx_passthru: bool | None = defbool()
    gfx_passthru_kind: GfxPassthruKind = GfxPassthruKind.DEFAULT
    serial: str | None = None
    boot: str | None = None
    usb: bool | None = defbool()
    usbversion: int = 0
    usbdevice: str | None = None
    vkb_device: bool | None = defbool()
    soundhw: str | None = None
    xen_platform_pci: bool | None = defbool()
    usbdevice_list: list[str] = field(default_factory=list)
    vendor_device: VendorDevice = VendorDevice.NONE
    #: The VM generation ID's 16 bytes; all zero (None here) is "none".
    ms_vm_genid: list[int] | None = None
    serial_list: list[str] = field(default_factory=list)
    rdm: RdmReserve = field(default_factory=RdmReserve)
    rdm_mem_boundary_memkb: int | None = None
    mca_caps: int = 0

    @property
    def bios_name(self) -> str:
        """The BIOS hvmloader runs: bios=, else libxl's default for QEMU (SeaBIOS)."""
        return "seabios" if self.bios is BiosType.UNKNOWN else self.bios.value


@dataclass
class PvInfo(Struct):
    variant = "pv"
    slack_memkb: int = 0
    features: str | None = None
    e820_host: bool | None = defbool()


@dataclass
class PvhInfo(Struct):
    variant = "pvh"
    pvshim: bool | None = defbool()
    pvshim_path: str | None = None
    pvshim_cmdline: str | None = None
    pvshim_extra: str | None = None


@dataclass
class ArchArm(Struct):
    gic_version: GicVersion = GicVersion.DEFAULT
    vuart: VuartType = VuartType.UNKNOWN


@dataclass
class ArchX86(Struct):
    msr_relaxed: bool | None = defbool()


@dataclass
class IoportRange(Struct):
    first: int = 0
    number: int = 0


@dataclass
class IomemRange(Struct):
    start: int = 0
    number: int = 0
    gfn: int | None = None  # libxl's LIBXL_INVALID_GFN: the same frame as start


@dataclass
class VnodeInfo(Struct):
    """libxl_vnode_info: one virtual NUMA node."""

    memkb: int | None = None
    distances: list[int] = field(default_factory=list)
    pnode: int = 0
    vcpus: set[int] = bitmap()


@dataclass
class BuildInfo(Struct):
    max_vcpus: int = 0
    avail_vcpus: set[int] = bitmap()
    vcpu_hard_affinity: list[list[int]] = field(default_factory=list)
    vcpu_soft_affinity: list[list[int]] = field(default_factory=list)
    numa_placement: bool | None = defbool()
    tsc_mode: TscMode = TscMode.DEFAULT
    max_memkb: int | None = None
    target_memkb: int | None = None
    video_memkb: int | None = None
    shadow_memkb: int | None = None
    rtc_timeoffset: int = 0
    exec_ssid_label: str | None = None
    localtime: bool | None = defbool()
    disable_migrate: bool | None = defbool()
    cpuid: CpuidPolicy | None = None
    vnuma_nodes: list[VnodeInfo] = field(default_factory=list)
    max_grant_frames: int | None = None
    max_maptrack_frames: int | None = None
    max_grant_version: int | None = None
    device_model_version: DeviceModelVersion = DeviceModelVersion.UNKNOWN
    device_model_stubdomain: bool | None = defbool()
    stubdomain_memkb: int | None = None
    stubdomain_kernel: str | None = None
    stubdomain_cmdline: str | None = None
    stubdomain_ramdisk: str | None = None
    device_model: str | None = None
    device_model_ssid_label: str | None = None
    device_model_user: str | None = None
    extra: list[str] = field(default_factory=list)  # device_model_args
    extra_pv: list[str] = field(default_factory=list)
    extra_hvm: list[str] = field(default_factory=list)
    sched_params: SchedParams = field(default_factory=SchedParams)
    ioports: list[IoportRange] = field(default_factory=list)
    irqs: list[int] = field(default_factory=list)
    iomem: list[IomemRange] = field(default_factory=list)
    claim_mode: bool | None = defbool()
    event_channels: int = 0
    kernel: str | None = None
    cmdline: str | None = None
    ramdisk: str | None = None
    device_tree: str | None = None
    acpi: bool | None = defbool()
    bootloader: str | None = None
    bootloader_args: list[str] = field(default_factory=list)
    timer_mode: TimerMode = TimerMode.UNKNOWN
    nested_hvm: bool | None = defbool()
    apic: bool | None = defbool()
    dm_restrict: bool | None = defbool()
    tee: TeeType = TeeType.NONE
    u: Struct = union("type", PvInfo)
    arch_arm: ArchArm = field(default_factory=ArchArm)
    arch_x86: ArchX86 = field(default_factory=ArchX86)
    altp2m: Altp2mMode = Altp2mMode.DISABLED
    vmtrace_buf_kb: int = 0
    vpmu: bool | None = defbool()

    @property
    def type(self) -> DomainType:
        return DomainType(self.u.variant)


@dataclass
class DomainConfig(Struct):
    c_info: CreateInfo = field(default_factory=CreateInfo)
    b_info: BuildInfo = field(default_factory=BuildInfo)
    disks: list[DeviceDisk] = field(default_factory=list)
    nics: list[DeviceNic] = field(default_factory=list)
    pcidevs: list[DevicePci] = field(default_factory=list)
    dtdevs: list[DeviceDtdev] = field(default_factory=list)
    vfbs: list[DeviceVfb] = field(default_factory=list)
    vkbs: list[DeviceVkb] = field(default_factory=list)
    vtpms: list[DeviceVtpm] = field(default_factory=list)
    p9s: list[DeviceP9] = field(default_factory=list)
    pvcallsifs: list[DevicePvcallsif] = field(default_factory=list)
    vdispls: list[DeviceVdispl] = field(default_factory=list)
    vsnds: list[DeviceVsnd] = field(default_factory=list)
    channels: list[DeviceChannel] = field(default_factory=list)
    usbctrls: list[DeviceUsbctrl] = field(default_factory=list)
    usbdevs: list[DeviceUsbdev] = field(default_factory=list)
    on_poweroff: ShutdownAction = ShutdownAction.DESTROY
    on_reboot: ShutdownAction = ShutdownAction.DESTROY
    on_watchdog: ShutdownAction = ShutdownAction.DESTROY
    on_crash: ShutdownAction = ShutdownAction.DESTROY
    on_soft_reset: ShutdownAction = ShutdownAction.DESTROY
    #: Not part of libxl's JSON: which PVH a PVH guest is. `pvh=1` (the
    #: original PVH design, Xen 4.4-4.8) is LEGACY; `type="pvh"` is MODERN.
    pvh_generation: PvhGeneration | None = None

    def to_json_obj(self):
        obj = super().to_json_obj()
        obj.pop("pvh_generation", None)
        return obj

    @property
    def name(self) -> str:
        return self.c_info.name or ""

    @property
    def is_legacy_pvh(self) -> bool:
        return self.pvh_generation is PvhGeneration.LEGACY
