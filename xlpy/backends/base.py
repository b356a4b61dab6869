"""The Backend protocol: the hypervisor interface xlpy's toolstack drives.

It sits at the level of Xen's domain-control hypercalls and libxenctrl
(xc_domain_create, xc_domain_max_vcpus, ...), with the few libxenguest and
xenstore operations a toolstack needs beside them. Each method names its Xen
counterpart. Two backends implement it: `model` (an in-process model of the
hypervisor, the default) and `libxc` (a real Xen host).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

PAGE_SIZE = 4096
DOMID_FIRST_RESERVED = 0x7FF0  # xen.h: the domids above a guest's
INVALID_DOMID = 0xFFFFFFFF  # libxl's: no domid chosen yet
RANDOM_DOMID = INVALID_DOMID - 1  # libxl's: a random one (xl.conf's domid_policy="random")


class BackendError(Exception):
    """A hypervisor call failed: `call` is the operation, `errno` its code."""

    errno: int = 1

    def __init__(self, message: str, call: str = "", errno: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.call = call
        if errno is not None:
            self.errno = errno


class NotAvailable(BackendError):
    """The backend cannot run here (no Xen, no library, no permission)."""


class NoSuchDomain(BackendError):
    errno = 3  # ESRCH


class NoMemory(BackendError):
    errno = 12  # ENOMEM


class InvalidArgument(BackendError):
    errno = 22  # EINVAL


class Exists(BackendError):
    errno = 17  # EEXIST


class NotImplementedHypercall(BackendError):
    errno = 38  # ENOSYS


class PermissionDenied(BackendError):
    errno = 1  # EPERM


class ShutdownReason(enum.IntEnum):
    """SHUTDOWN_* of xen/include/public/sched.h."""

    POWEROFF = 0
    REBOOT = 1
    SUSPEND = 2
    CRASH = 3
    WATCHDOG = 4
    SOFT_RESET = 5


@dataclass(frozen=True)
class CreateFlags:
    """What xc_domain_create's xen_domctl_createdomain asks for."""

    hvm: bool = False  # XEN_DOMCTL_CDF_hvm (an HVM container: HVM and modern PVH)
    hap: bool = False  # XEN_DOMCTL_CDF_hap
    oos_off: bool = False  # XEN_DOMCTL_CDF_oos_off: shadow paging without out-of-sync page tables (oos=0)
    nested_virt: bool = False  # XEN_DOMCTL_CDF_nested_virt: the guest may run its own HVM guests (nestedhvm=1)
    vpmu: bool = False  # XEN_DOMCTL_CDF_vpmu: the guest sees the virtual PMU (vpmu=1)
    legacy_pvh: bool = False  # Xen 4.4's XEN_DOMCTL_CDF_pvh_guest (the original PVH design)
    emulation_flags: int = 0  # arch.emulation_flags; modern PVH: X86_EMU_LAPIC (0x1) only
    max_vcpus: int = 1
    max_evtchn_port: int = 1023
    max_grant_frames: int = 64
    max_maptrack_frames: int = 1024
    max_grant_version: int = 2  # grant_opts: the newest grant table version the guest may use
    vmtrace_size: int = 0  # bytes of processor trace buffer per vCPU
    domid: int = 0  # xc_domain_create's in/out domid: a guest's (1..0x7FEF) is asked for and refused if taken
    # (EEXIST); anything else lets Xen pick the next free one


@dataclass(frozen=True)
class DomainInfo:
    """xc_domain_getinfo's answer, plus the name xenstore holds."""

    domid: int
    name: str
    uuid: str
    hvm: bool
    legacy_pvh: bool
    running: bool
    blocked: bool
    paused: bool
    shutdown: bool
    shutdown_reason: ShutdownReason | None
    dying: bool
    crashed: bool
    tot_pages: int
    max_pages: int
    outstanding_pages: int
    online_vcpus: int
    max_vcpus: int
    cpu_time_ns: int
    ssidref: int = 0
    created: float = 0.0  # epoch seconds; Domain-0's is when the host booted

    @property
    def mem_kb(self) -> int:
        return self.tot_pages * PAGE_SIZE // 1024


@dataclass(frozen=True)
class VcpuInfo:
    """xc_vcpu_getinfo and xc_vcpu_getaffinity."""

    vcpu: int
    online: bool
    running: bool
    blocked: bool
    cpu: int
    cpu_time_ns: int
    hard_affinity: frozenset[int]
    soft_affinity: frozenset[int]


@dataclass(frozen=True)
class PhysInfo:
    """xc_physinfo and xc_version."""

    nr_cpus: int
    nr_nodes: int
    cores_per_socket: int
    threads_per_core: int
    cpu_khz: int
    total_pages: int
    free_pages: int
    scheduler: str
    xen_version: str
    virt_caps: tuple[str, ...]
    hap: bool = True
    # What else `xl info` shows, where the backend knows it.
    max_cpu_id: int | None = None
    hw_caps: str = ""
    outstanding_pages: int = 0
    xen_caps: str = ""
    xen_changeset: str = ""
    xen_commandline: str = ""
    platform_params: str = ""
    compiled: tuple[str, str, str, str] = ("", "", "", "")  # compiler, by, domain, date
    build_id: str = ""


@dataclass(frozen=True)
class BootImage:
    """What libxenguest's domain builder made of a kernel image."""

    entry: int
    mode: str  # "pv64" (PV entry, start_info) or "pvh32" (PHYS32 entry, hvm_start_info; HVM firmware too)
    features: frozenset[str] = field(default_factory=frozenset)
    guest_os: str = ""
    memory_map: tuple[tuple[int, int, str], ...] = ()
    start_info: int = 0  # where the builder put hvm_start_info (PVH, %ebx) or start_info (PV, %rsi)


@dataclass(frozen=True)
class HvmBuild:
    """What an HVM guest's build takes from its config beyond the firmware
    image (libxl__domain_firmware, hvm_build_set_params,
    hvm_build_set_xs_values): the BIOS hvmloader hands over to, the extra
    firmware modules it loads, and its hvm_info table."""

    bios: str = "seabios"  # seabios or ovmf: the image of that name, unless system_firmware names a file
    system_firmware: str | None = None  # bios_path_override
    acpi_firmware: str | None = None  # tables hvmloader adds to its own (acpi_firmware=)
    smbios_firmware: str | None = None  # SMBIOS structures hvmloader adds (smbios_firmware=)
    apic: bool = True  # hvm_info apic_mode (apic=)
    online_vcpus: frozenset[int] = frozenset({0})  # hvm_info vcpu_online: the vCPUs that start online


@dataclass(frozen=True)
class VcpuContext:
    """A vCPU's initial state (vcpu_guest_context or vcpu_hvm_context).

    `kind` is "pv" (flags, user_regs, ctrlreg[3] and the rest) or "hvm32" /
    "hvm64" (the PVH boot ABI's vcpu_hvm_context modes).
    """

    kind: str
    rip: int = 0
    rsp: int = 0
    rbx: int = 0
    cr0: int = 0
    cr3: int = 0
    cr4: int = 0
    flags: int = 0
    extra: tuple[tuple[str, int], ...] = ()  # any other field set, which PVH forbids


@runtime_checkable
class Backend(Protocol):
    name: str
    # Whether guests shut down by themselves between commands (a real host), so
    # that create leaves a daemon to act on their death, as xl does.
    guests_run_alone: bool

    # host
    def physinfo(self) -> PhysInfo: ...  # xc_physinfo, xc_version
    def read_log(self, clear: bool = False) -> str: ...  # xc_readconsolering

    # domain lifetime
    def create_domain(self, flags: CreateFlags, uuid: str, name: str | None = None,
                      owner: str | None = None) -> int: ...  # xc_domain_create (+ xenstore name, owner)
    def destroy_domain(self, domid: int) -> None: ...  # xc_domain_destroy
    def pause_domain(self, domid: int) -> None: ...  # xc_domain_pause
    def unpause_domain(self, domid: int) -> None: ...  # xc_domain_unpause
    def shutdown_domain(self, domid: int, reason: ShutdownReason) -> None: ...  # xc_domain_shutdown

    # resources
    def set_max_vcpus(self, domid: int, count: int) -> None: ...  # xc_domain_max_vcpus
    def set_max_memory(self, domid: int, kb: int) -> None: ...  # xc_domain_setmaxmem
    def set_memory_map(self, domid: int, entries: list[tuple[int, int, str]]) -> None: ...  # xc_domain_set_memory_map
    def populate_physmap(self, domid: int, pages: int) -> None: ...  # xc_domain_populate_physmap_exact
    def set_paging_pool(self, domid: int, kb: int) -> None: ...  # xc_set_paging_mempool_size (HAP/shadow pool)
    def set_hvm_param(self, domid: int, param: int, value: int) -> None: ...  # xc_hvm_param_set
    def get_hvm_param(self, domid: int, param: int) -> int: ...  # xc_hvm_param_get
    def set_vm_generation_id(self, domid: int, genid: bytes) -> None: ...  # libxl__ms_vm_genid_set: xenstore's
    # platform/generation-id, and the guest's copy if its firmware already placed one
    def set_tsc_mode(self, domid: int, mode: int) -> None: ...  # xc_domain_set_tsc_info: 0 default,
    # 1 always emulate, 2 native
    def set_time_offset(self, domid: int, seconds: int) -> None: ...  # xc_domain_set_time_offset: the
    # guest's wall clock (PV) and RTC (HVM) run this far from the host's
    def apply_cpuid_policy(self, domid: int, pae: bool, itsc: bool, nested_virt: bool,
                           leaves: list[tuple[int, int, list[str | None]]],
                           msrs: list[tuple[int, str]]) -> None: ...  # xc_cpuid_apply_policy: Xen's default
    # policy for the domain, adjusted for PAE, invariant TSC and nested virtualisation, then the config's
    # (leaf, subleaf, [eax, ebx, ecx, edx] bit strings) and (MSR index, 64-character policy) overrides
    def set_memory_target(self, domid: int, kb: int) -> None: ...  # balloon target via xenstore memory/target
    def set_pod_target(self, domid: int, pages: int) -> None: ...  # xc_domain_set_pod_target: an HVM
    # container's populate-on-demand cache follows the new target (Xen leaves a domain without PoD alone)

    # booting
    def build_image(self, domid: int, kernel: str, ramdisk: str | None, cmdline: str | None,
                    mode: str, hvm: HvmBuild | None = None, claim: bool = False) -> BootImage: ...  # libxenguest
    # xc_dom_* (parse, load, start info); mode "hvm" loads the firmware named by `kernel` (hvmloader) with
    # what `hvm` says; `claim` (claim_mode) claims the guest's memory before it is populated, for every type
    def open_device_model_monitor(self, domid: int) -> int: ...  # libxl__pre_open_qmp_socket: the QMP socket,
    # listening, whose descriptor the device model's arguments name (the caller closes its copy)
    def start_device_model(self, domid: int, args: list[str], pass_fds: tuple[int, ...] = (),
                           vnc_password: str | None = None) -> None: ...  # QEMU in dom0 (libxl__spawn_local_dm)
    # with `pass_fds` open in it, returning once it is ready and stopped (-S), its serial ptys and VNC address
    # published and `vnc_password` set, as libxl's postconfig does; it lives until destroy_domain
    def resume_device_model(self, domid: int) -> None: ...  # libxl__dm_resume (QMP cont): the device model
    # emulates, from its start or from a save's stop; before the domain's unpause
    def set_vcpu_context(self, domid: int, vcpu: int, ctx: VcpuContext) -> None: ...  # xc_vcpu_setcontext
    def set_vcpu_affinity(self, domid: int, vcpu: int, hard: set[int] | None,
                          soft: set[int] | None) -> None: ...  # xc_vcpu_setaffinity
    def sched_credit(self, domid: int, weight: int | None = None,
                     cap: int | None = None) -> tuple[int, int]: ...  # xc_sched_credit_domain_get/set

    # state
    def list_domains(self) -> list[DomainInfo]: ...  # xc_domain_getinfolist
    def domain_info(self, domid: int) -> DomainInfo: ...  # xc_domain_getinfo
    def vcpu_info(self, domid: int) -> list[VcpuInfo]: ...  # xc_vcpu_getinfo

    # xenstore
    def xs_read(self, path: str) -> str | None: ...
    def xs_write(self, path: str, value: str) -> None: ...
    def xs_rm(self, path: str) -> None: ...
    def xs_list(self, path: str) -> list[str]: ...

    # PV devices (vbd, vif) as libxl__device_generic_add writes them: the frontend's nodes owned by the
    # guest (`read_only_frontend`'s by the driver domain, the guest reading), the backend's by the
    # driver domain, a copy under /libxl/<domid>/device; then, on a real host, the backend driver's
    # InitWait and the hotplug script (`script` among the backend's nodes).
    def add_device(self, domid: int, kind: str, devid: int, backend: dict[str, str], frontend: dict[str, str],
                   backend_kind: str | None = None,  # "qdisk" for QEMU's, else `kind`
                   read_only_frontend: dict[str, str] | None = None) -> None: ...
    # libxl's removal: backend offline and Closing, its Closed awaited (the frontend's nodes removed
    # first when `force`, as for a domain being destroyed), the script's remove, then every node.
    def remove_device(self, domid: int, kind: str, devid: int, force: bool = False) -> None: ...

    def console(self, domid: int) -> str: ...  # what xenconsoled logs for the guest
    def console_client(self, domid: int, kind: str, num: int,
                       notify_fd: int | None = None) -> list[str] | None: ...  # libxl_console_exec: the command
    # that puts the caller's terminal on console `num` of `kind` ("pv", "serial", "vuart"), writing a 0 byte to
    # `notify_fd` once it holds the console; None where there is no terminal to attach (the model: console())
    def dump_core(self, domid: int, path: str) -> None: ...  # xc_domain_dumpcore: the guest's memory as an ELF core
    # libxl's per-domain userdata (/var/lib/xen/userdata-d.<domid>.<uuid>.<userid>): "libxl-json" is
    # the domain's config as libxl keeps it (xen-init-dom0 leaves Domain-0's, xl and xlpy their guests'),
    # "xl" a config-update's text. Destroying the domain removes all of it.
    def libxl_userdata(self, domid: int, userid: str) -> bytes | None: ...  # libxl__userdata_retrieve
    def store_libxl_userdata(self, domid: int, userid: str, data: bytes) -> None: ...  # b"" removes it
    # libxl's history of recently destroyed domids (xlpy.backends.libxl_files): libxl's own file,
    # /var/run/xen/domid-history, on a real host; the same file in the model's state directory.
    def mark_domid_recent(self, domid: int) -> None: ...  # libxl__mark_domid_recent
    def domid_recent(self, domid: int) -> bool: ...  # libxl__is_domid_recent

    def ioport_permission(self, domid: int, first: int, count: int,
                          allow: bool) -> None: ...  # xc_domain_ioport_permission


def device_paths(domid: int, kind: str, devid: int, backend_kind: str | None = None) -> tuple[str, str, str]:
    """A PV device's frontend, backend (Domain-0 drives them all) and libxl's own copy."""
    return (f"/local/domain/{domid}/device/{kind}/{devid}",
            f"/local/domain/0/backend/{backend_kind or kind}/{domid}/{devid}", f"/libxl/{domid}/device/{kind}/{devid}")
