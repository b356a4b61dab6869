"""The toolstack: a domain's life, as libxl drives it, over any Backend.

Create builds the request into hypervisor calls (create the domain, vCPUs,
memory, devices, load the kernel, set vCPU 0, unpause) and undoes all of it
if any step fails. The per-domain config is kept in the xenstore-like tree
(as xl keeps its userdata), so `list -l`, restarts and config updates use it.

There is no monitoring daemon: the on_poweroff/on_reboot/on_crash actions of a
domain that has shut down are carried out by the next toolstack that looks at
the host (`reap`), which is when a user or script can observe it anyway. A
process that stays attached (`create -F`) holds the domain's monitor instead,
and carries out the actions itself (`monitor`) for as long as it lives.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xlpy.backends.base import (
    DOMID_FIRST_RESERVED, INVALID_DOMID, PAGE_SIZE, RANDOM_DOMID, Backend, BackendError, BootImage, CreateFlags,
    DomainInfo, Exists, HvmBuild, NoMemory, NoSuchDomain, ShutdownReason, VcpuContext,
)
from xlpy.domain.layout import max_memory_kb, memory_map

if TYPE_CHECKING:  # the config types load only where a config is built or read
    from xlpy.domain.config import DomainConfig

X86_EMU_LAPIC, X86_EMU_ALL = 0x1, 0x3FF
# HVM parameters libxl sets on every HVM container (hvm_set_conf_params), with its defaults.
HVM_PARAM_TIMER_MODE, HVM_PARAM_HPET_ENABLED, HVM_PARAM_VPT_ALIGN, HVM_PARAM_ALTP2M, HVM_PARAM_MCA_CAP = \
    10, 11, 16, 35, 38
MAXMEM_SLACK_KB = 1024  # LIBXL_MAXMEM_CONSTANT
MIN_DOM0_MEM_KB = 128 * 1024  # LIBXL_MIN_DOM0_MEM
DOMID_MASK = 0x7FFF  # xen.h: the bits a random domid is drawn from


class ToolstackError(Exception):
    """A lifecycle operation failed; the message is one line for the user."""

    exit_code = 1


class DomainNotFound(ToolstackError):
    pass


class NameInUse(ToolstackError):
    pass


class NotEnoughMemory(ToolstackError):
    pass


class CreateFailed(ToolstackError):
    pass


class WaitTimeout(ToolstackError):
    pass


@dataclass
class Created:
    domid: int
    pvh_generation: str | None
    boot_mode: str | None


def _process_tag(pid: int) -> str:
    """The pid plus its start time, so a reused pid is not mistaken for us."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f"{pid}:{f.read().rsplit(')', 1)[1].split()[19]}"
    except OSError:
        return f"{pid}:?"


class Toolstack:
    def __init__(self, backend: Backend, domid_policy: int | None = None) -> None:
        """`domid_policy` is the domid a domain whose config asks for none is
        created with (xl's role): INVALID_DOMID (Xen picks) or RANDOM_DOMID;
        by default, xl.conf's domid_policy, read when first needed."""
        self.backend = backend
        self._domid_policy = domid_policy
        # Called with the new domid when a reap restarts a domain nobody was
        # monitoring; the CLI hands it to a monitoring daemon where guests run alone.
        self.on_reaped_restart = lambda domid: None

    @property
    def guests_run_alone(self) -> bool:
        """Whether the backend's guests shut down by themselves between
        commands (a real host): then a monitoring daemon acts on their death."""
        return getattr(self.backend, "guests_run_alone", False)  # a plug-in backend may not say

    @property
    def domid_policy(self) -> int:
        if self._domid_policy is None:
            from xlpy.xlconf import XlConfError, domid_policy

            try:
                self._domid_policy = domid_policy()
            except XlConfError as e:
                raise ToolstackError(str(e)) from None
        return self._domid_policy

    # -- lookups ---------------------------------------------------------------

    def domains(self) -> list[DomainInfo]:
        return self.backend.list_domains()

    def resolve(self, ident: str) -> int:
        """A domain named by id or by name, as xl accepts it."""
        if ident.isdigit() or ident == "":
            return int(ident or 0)
        for info in self.backend.list_domains():
            if info.name == ident:
                return info.domid
        raise DomainNotFound(f"{ident} is an invalid domain identifier (rc=-6)")

    def info(self, domid: int) -> DomainInfo:
        try:
            return self.backend.domain_info(domid)
        except NoSuchDomain:
            raise DomainNotFound(f"Domain {domid} does not exist.") from None

    def stored_config(self, domid: int) -> DomainConfig | None:
        """The config kept for the domain (xlpy.domain.setdefault.for_storage);
        for a domain xlpy did not create, the one libxl keeps in its userdata
        (Domain-0's stub from xen-init-dom0, or what xl stored)."""
        from xlpy.domain.stored import config_from_json

        try:
            data = self.backend.libxl_userdata(domid, "libxl-json")
        except NoSuchDomain:
            return None
        text = data.rstrip(b"\0").decode() if data else None
        try:
            return config_from_json(text) if text else None
        except ValueError as e:
            raise ToolstackError(f"domain {domid}: its stored configuration cannot be read: {e}") from None

    def domain_type(self, domid: int, info: DomainInfo | None = None):
        """libxl__domain_type: PV unless Xen runs the domain in an HVM
        container; then PVH if /libxl/<domid>/type says so, else HVM."""
        from xlpy.domain.config import DomainType

        if not (info or self.info(domid)).hvm:
            return DomainType.PV
        recorded = self.backend.xs_read(f"/libxl/{domid}/type")
        return DomainType.PVH if recorded == DomainType.PVH.value else DomainType.HVM

    def primary_console(self, domid: int) -> tuple[str, int]:
        """libxl__primary_console_find, for a guest without a stub domain: an
        HVM guest's first serial port, a PV or PVH guest's first PV console."""
        from xlpy.domain.config import DomainType

        return ("serial", 0) if self.domain_type(domid) is DomainType.HVM else ("pv", 0)

    # -- create ----------------------------------------------------------------

    def create(self, dc: DomainConfig, paused: bool = False, config_text: str = "",
               monitor: bool = True, foreground: bool = False, image=None) -> Created:
        """`image(domid, mode)`, when given, fills the domain in place of the
        builder: libxl's restore path, whose saved image brings memory, CPU
        state and CPUID policy."""
        # Name uniqueness is checked atomically when the name is written (backend.create_domain).
        from xlpy.domain.setdefault import DefaultsError, effective, for_storage

        given, name = dc, dc.c_info.name or ""
        try:
            dc = effective(given)  # built from libxl's defaults; stored as given
        except DefaultsError as e:
            raise CreateFailed(f"cannot create {name!r}: {e}") from None
        mode, flags = self._boot_plan(dc)
        # A restore of `save -D`'s file asks for its domid; else xl.conf's policy (xl's create_domain).
        wanted = dc.c_info.domid if _valid_guest(dc.c_info.domid) else self.domid_policy
        # Refused before the domain exists, whichever the backend.
        if mode == "hvm":
            from xlpy.domain.devicemodel import unsupported

            problem = unsupported(dc)
        else:
            from xlpy.domain.xsdevice import unsupported_disks

            problem = unsupported_disks(dc.disks)
        problem = problem or _driver_domain_problem(dc.disks, dc.nics)
        if problem:
            raise CreateFailed(f"cannot create {name!r}: {problem}")
        domid = self._make_domain(flags, wanted, dc.c_info.uuid or NIL_UUID, name)
        base = f"/local/domain/{domid}"
        try:
            self._link_vm_node(domid, dc.c_info.uuid or NIL_UUID, name)
            self.backend.xs_write(f"/libxl/{domid}/type", dc.c_info.type.value)  # libxl__domain_make's, which xl reads
            # store_libxl_entry: the device model's kind, which tells libxl's unpause to continue QEMU over QMP
            self.backend.xs_write(f"/libxl/{domid}/dm-version", _dm_version(dc))
            self._build(domid, dc, mode, image)
            stored = for_storage(given, dc)
            if not _valid_guest(stored.c_info.domid):  # Xen's or a random choice, not kept
                stored.c_info.domid = INVALID_DOMID
            self._store_config(domid, stored)
            self.backend.xs_write(f"/libxl/{domid}/xlpy/config-text", config_text)
            self.backend.xs_write(f"/libxl/{domid}/xlpy/monitor", _monitor_value(monitor, foreground))
            self.backend.xs_rm(f"{base}/xlpy/create-pid")
            if not paused:
                self._unpause(domid, device_model=mode == "hvm")
        except BaseException as e:
            self._undo(domid)
            if isinstance(e, Exists):
                raise NameInUse(f"domain with name {name!r} already exists") from None
            if isinstance(e, NoMemory):
                raise NotEnoughMemory(f"not enough memory to create {name!r}: {e.message}") from None
            if isinstance(e, BackendError):
                raise CreateFailed(f"cannot create {name!r}: {e.message}") from None
            raise
        return Created(domid, dc.pvh_generation.value if dc.pvh_generation else None, mode)

    def _make_domain(self, flags: CreateFlags, wanted: int, uuid: str, name: str) -> int:
        """The domain, as libxl__domain_make's loop gets it: with the domid
        `wanted` (a guest's), a random one (RANDOM_DOMID) or Xen's choice;
        a domid destroyed within the reuse timeout (libxl_files) is not
        taken: asked for, the create is refused (the domain made is
        destroyed as libxl's failed create destroys it, which marks the domid
        recent again); else that domain goes and another domid is tried."""
        while True:
            domid = wanted
            if wanted == RANDOM_DOMID:
                domid = int.from_bytes(os.urandom(2), "little") & DOMID_MASK
                if not _valid_guest(domid):
                    continue
            asked = dataclasses.replace(flags, domid=domid if _valid_guest(domid) else 0)
            try:
                domid = self.backend.create_domain(asked, uuid, name=name, owner=_process_tag(os.getpid()))
            except BackendError as e:
                if e.call == "xc_domain_create" and e.errno == errno.EEXIST:  # the domid asked for is taken
                    if wanted == RANDOM_DOMID:
                        continue
                    raise CreateFailed(f"cannot create {name!r}: Domain {domid}:domain creation fail: "
                                       f"{os.strerror(errno.EEXIST)}") from None
                if isinstance(e, Exists):
                    raise NameInUse(e.message) from None
                raise CreateFailed(f"cannot create domain: {e.message}") from None
            try:
                recent = self.backend.domid_recent(domid)
                if recent and not _valid_guest(wanted):
                    self.backend.destroy_domain(domid)  # as libxl: not marked, a domid never used
                    continue
            except BaseException as e:
                self._undo(domid)
                if isinstance(e, BackendError):
                    raise CreateFailed(f"cannot create {name!r}: {e.message}") from None
                raise
            if not recent:
                return domid
            self._undo(domid)
            raise CreateFailed(f"cannot create {name!r}: Domain {domid}:domain id recently used")

    def _undo(self, domid: int) -> None:
        try:
            self._destroy_domain(domid)
        except BackendError:
            pass

    def _link_vm_node(self, domid: int, uuid: str, name: str | None = None) -> None:
        """A fresh /vm/<uuid> (with the name, at create) and the domain's link
        to it, as libxl__domain_make and libxl_domain_preserve write them."""
        vm_path = f"/vm/{uuid}"
        self.backend.xs_rm(vm_path)
        self.backend.xs_write(f"{vm_path}/uuid", uuid)
        if name is not None:
            self.backend.xs_write(f"{vm_path}/name", name)
        self.backend.xs_write(f"/local/domain/{domid}/vm", vm_path)

    def _store_config(self, domid: int, config: DomainConfig) -> None:
        """Keep the config for list -l, save and restarts (read by stored_config)
        where libxl keeps it, so the real xl sees it too; NUL-terminated as
        libxl stores it and expects it."""
        self.backend.store_libxl_userdata(domid, "libxl-json", config.to_json().encode() + b"\0")

    def _write_vm_image(self, domid: int, dc: DomainConfig, started: float) -> None:
        """What libxl__domain_build leaves under /vm/<uuid> once the image is
        built: the start time `xl uptime` reads, and what was booted."""
        from xlpy.domain.config import DomainType

        b = dc.b_info
        entries = {"start_time": f"{int(started)}.{int(started % 1 * 100):02d}"}
        if b.type is DomainType.HVM:
            entries.update({"rtc/timeoffset": "", "image/ostype": "hvm"})
        elif b.type is DomainType.PV:
            entries.update({"image/ostype": "linux", "image/kernel": b.kernel or "",
                            **({"image/ramdisk": b.ramdisk} if b.ramdisk else {}),
                            **({"image/cmdline": b.cmdline} if b.cmdline else {})})
        vm_path = self.backend.xs_read(f"/local/domain/{domid}/vm")
        for key, value in entries.items():
            self.backend.xs_write(f"{vm_path}/{key}", value)

    def start_time(self, domid: int) -> int | None:
        """libxl_vm_get_start_time: when the domain was built, in whole
        seconds; None for a domain no toolstack recorded it for."""
        vm_path = self.backend.xs_read(f"/local/domain/{domid}/vm")
        value = self.backend.xs_read(f"{vm_path}/start_time") if vm_path else None
        return int(value.split(".")[0]) if value else None

    def _destroy_domain(self, domid: int) -> None:
        """The domain (the backend unplugs its devices first), its /vm node
        and /libxl/<domid>, as libxl__destroy_domid removes them."""
        vm_path = self.backend.xs_read(f"/local/domain/{domid}/vm")
        # Remembered first, so that no new domain gets the domid while a script
        # or a backend may still act on this one. libxl marks it after the
        # devices are gone, just before xc_domain_destroy; here a history that
        # cannot be written stops the destroy before anything is torn down.
        self.backend.mark_domid_recent(domid)
        self.backend.destroy_domain(domid)
        if vm_path:
            self.backend.xs_rm(vm_path)
        self.backend.xs_rm(f"/libxl/{domid}")

    def _boot_plan(self, dc: DomainConfig) -> tuple[str, CreateFlags]:
        """The builder mode and create flags for the guest type (and its kernel)."""
        from xlpy.domain.config import DomainType, TscMode

        b = dc.b_info
        kind = dc.c_info.type
        hap = dc.c_info.hap is not False
        if b.max_grant_version is not None and not 0 <= b.max_grant_version <= 15:
            raise CreateFailed(f"max grant version {b.max_grant_version} out of range")
        if b.tsc_mode is TscMode.NATIVE_PARAVIRT:
            raise CreateFailed("TSC Mode native_paravirt (a.k.a PVRDTSCP) has been removed")
        # libxl's defaults: 1023 event channel ports, xl.conf's 64 grant and 1024
        # maptrack frames, the newest grant table version the host offers (2).
        common = dict(max_vcpus=b.max_vcpus or 1, max_evtchn_port=b.event_channels or 1023,
                      max_grant_frames=64 if b.max_grant_frames is None else b.max_grant_frames,
                      max_maptrack_frames=1024 if b.max_maptrack_frames is None else b.max_maptrack_frames,
                      max_grant_version=2 if b.max_grant_version is None else b.max_grant_version,
                      vmtrace_size=-(-b.vmtrace_buf_kb * 1024 // PAGE_SIZE) * PAGE_SIZE, vpmu=bool(b.vpmu))
        # An HVM container's own flags (libxl__domain_make).
        container = dict(hap=hap, oos_off=dc.c_info.oos is False, nested_virt=bool(b.nested_hvm))
        if dc.is_legacy_pvh:
            mode = self._legacy_pvh_mode(b.kernel)
            if mode == "pvh":  # the kernel has only the modern entry
                return mode, CreateFlags(hvm=True, emulation_flags=X86_EMU_LAPIC, **container, **common)
            return mode, CreateFlags(legacy_pvh=True, hap=hap, **common)
        if kind is DomainType.PVH:
            return "pvh", CreateFlags(hvm=True, emulation_flags=X86_EMU_LAPIC, **container, **common)
        if kind is DomainType.HVM:
            return "hvm", CreateFlags(hvm=True, emulation_flags=X86_EMU_ALL, **container, **common)
        return "pv", CreateFlags(**common)

    @staticmethod
    def _legacy_pvh_mode(kernel: str | None) -> str:
        from xlpy.backends.base import InvalidArgument
        from xlpy.backends.kernel import read_kernel

        if not kernel:
            raise CreateFailed("pvh=1 needs a kernel= to check its Xen notes")
        try:
            image = read_kernel(kernel)
        except InvalidArgument as e:
            raise CreateFailed(e.message) from None
        if image.legacy_pvh_capable:
            return "legacy-pvh"
        if image.phys32_entry is not None:
            return "pvh"
        raise CreateFailed(f"{kernel} can boot neither as legacy PVH (it lacks the PV entry or the features "
                           "writable_descriptor_tables|auto_translated_physmap|supervisor_mode_kernel|"
                           "hvm_callback_vector) nor as PVH (no XEN_ELFNOTE_PHYS32_ENTRY)")

    def _build(self, domid: int, dc: DomainConfig, mode: str, image=None) -> None:
        b, backend = dc.b_info, self.backend
        restoring = image is not None
        max_vcpus = b.max_vcpus or 1
        backend.set_max_vcpus(domid, max_vcpus)
        max_kb = max_memory_kb(b)
        target_kb = b.target_memkb or max_kb
        # An HVM guest's video RAM comes out of its memory (libxl's video_memkb).
        video_kb = b.video_memkb if mode == "hvm" else 0
        # As libxl: the target plus room for the pages the builder adds
        # (page tables, special pages); ballooning up raises it later.
        backend.set_max_memory(domid, target_kb + MAXMEM_SLACK_KB)
        self._arch_settings(domid, dc, mode, max_kb)
        if image is None:  # a restored domain's policy comes with its image, as libxl__build_pre has it
            self._cpuid_policy(domid, dc, mode)
        backend.populate_physmap(domid, (target_kb - video_kb) * 1024 // PAGE_SIZE)
        # libxl lays out guest memory and hands the map to Xen (xc_domain_set_memory_map):
        # an HVM container's RAM is its maximum, and what lies above the
        # target is populated on demand (PoD).
        container = mode in ("pvh", "hvm")
        backend.set_memory_map(domid, memory_map(((max_kb if container else target_kb) - video_kb) * 1024,
                                                 hvm_container=container, device_model=mode == "hvm"))
        # libxl__build_post: the target less libxl__get_targetmem_fudge (the video
        # RAM, and LIBXL_MAXMEM_CONSTANT for an HVM guest below its maxmem).
        fudge_kb = video_kb + (MAXMEM_SLACK_KB if mode == "hvm" and max_kb > target_kb else 0)
        backend.xs_write(f"/local/domain/{domid}/memory/target", str(target_kb - fudge_kb))
        backend.xs_write(f"/local/domain/{domid}/memory/static-max", str(max_kb))
        backend.xs_write(f"/local/domain/{domid}/memory/videoram", str(video_kb))  # 0 but for HVM, as libxl
        started = time.time()
        if image is not None:
            image(domid, mode)
        elif mode == "hvm":
            # The builder loads the firmware; the guest's kernel, if any, is QEMU's to load.
            image = backend.build_image(domid, b.u.firmware or "hvmloader", None, None, mode, hvm=HvmBuild(
                bios=b.u.bios_name, system_firmware=b.u.system_firmware, acpi_firmware=b.u.acpi_firmware,
                smbios_firmware=b.u.smbios_firmware, apic=b.apic is not False,
                online_vcpus=frozenset(b.avail_vcpus or range(max_vcpus))), claim=bool(b.claim_mode))
            backend.set_vcpu_context(domid, 0, self._vcpu0_context(image))
            from xlpy.domain.hvm import generation_id

            genid = generation_id(b.u)
            if genid:  # libxl__build_post
                backend.set_vm_generation_id(domid, genid)
        elif b.kernel:
            image = backend.build_image(domid, b.kernel, b.ramdisk, b.cmdline, mode, claim=bool(b.claim_mode))
            backend.set_vcpu_context(domid, 0, self._vcpu0_context(image))
        self._write_vm_image(domid, dc, started)
        avail = b.avail_vcpus or set(range(max_vcpus))
        for vcpu in range(max_vcpus):
            state = "online" if vcpu in avail else "offline"
            backend.xs_write(f"/local/domain/{domid}/cpu/{vcpu}/availability", state)
            hard = b.vcpu_hard_affinity[vcpu] if vcpu < len(b.vcpu_hard_affinity) else None
            soft = b.vcpu_soft_affinity[vcpu] if vcpu < len(b.vcpu_soft_affinity) else None
            if hard is not None or soft is not None:
                backend.set_vcpu_affinity(domid, vcpu, set(hard) if hard else None, set(soft) if soft else None)
        for ports in b.ioports:  # libxl grants them before the devices
            backend.ioport_permission(domid, ports.first, ports.number, True)
        if b.sched_params.weight is not None or b.sched_params.cap is not None:
            backend.sched_credit(domid, b.sched_params.weight, b.sched_params.cap)
        for disk in dc.disks:
            self.attach_disk(domid, disk, connect=False, domain_type=dc.c_info.type)
        if mode == "hvm":
            if b.u.vkb_device is not False:  # libxl 4.17's default: on
                self._add_qemu_vkb(domid)
            self._start_device_model(domid, dc, restored=restoring)
        for nic in dc.nics:  # after QEMU, which opens an emulated twin's tap for the script to bridge
            self.attach_nic(domid, nic, connect=False)

    def _add_qemu_vkb(self, domid: int) -> None:
        """The PV keyboard QEMU serves an HVM guest, as libxl__device_add
        writes a vkb of backend_type "qemu" (devid 0, backend in Domain-0):
        backend kind vkbd, both ends Initialising, the backend's entries
        copied under /libxl. It is not added to the stored config."""
        self.backend.add_device(domid, "vkbd", 0, {"frontend-id": str(domid), "online": "1", "state": "1"},
                                {"backend-id": "0", "state": "1"})

    def _cpuid_policy(self, domid: int, dc: DomainConfig, mode: str) -> None:
        """libxl__cpuid_legacy: PAE is the HVM guest's choice (always there for
        PV and PVH); the TSC is advertised invariant when the guest stays on
        this host or its TSC is always emulated; cpuid= adjusts the rest."""
        from xlpy.domain.config import TscMode

        b = dc.b_info
        pae = b.u.pae is not False if mode == "hvm" else True
        itsc = bool(b.disable_migrate) or b.tsc_mode is TscMode.ALWAYS_EMULATE
        policy = b.cpuid
        leaves = [(leaf.leaf, leaf.subleaf, list(leaf.registers)) for leaf in policy.leaves] if policy else []
        msrs = [(msr.index, "".join(msr.policy)) for msr in policy.msrs] if policy else []
        self.backend.apply_cpuid_policy(domid, pae, itsc, bool(b.nested_hvm), leaves, msrs)

    def _arch_settings(self, domid: int, dc: DomainConfig, mode: str, max_kb: int) -> None:
        """libxl__arch_domain_create: an HVM container's parameters, the TSC
        mode, the clock offset (rtc_timeoffset, plus the host's UTC offset
        with localtime=1), then the pool HAP builds an HVM container's page
        tables from, which libxl sizes with libxl__get_required_paging_memory
        unless shadow_memory= says."""
        b, container = dc.b_info, mode in ("pvh", "hvm")
        if container:
            self._hvm_params(domid, dc, mode)
        self.backend.set_tsc_mode(domid, b.tsc_mode.number)
        offset = b.rtc_timeoffset + (time.localtime().tm_gmtoff if b.localtime else 0)
        offset = (offset + 2**31) % 2**32 - 2**31  # Xen takes it as a signed 32-bit number, as libxl passes it
        if offset:
            self.backend.set_time_offset(domid, offset)
        if container:
            # libxl__get_required_paging_memory: a page per MiB for the p2m, one more without HAP,
            # and 256 per vCPU, counted before libxl defaults max_vcpus (none when vcpus= is unset).
            per_mib = 1 + (dc.c_info.hap is False)
            pool_kb = b.shadow_memkb if b.shadow_memkb is not None else \
                4 * (256 * b.max_vcpus + per_mib * (max_kb // 1024))
            self.backend.set_paging_pool(domid, pool_kb)

    def _hvm_params(self, domid: int, dc: DomainConfig, mode: str) -> None:
        """libxl's hvm_set_conf_params."""
        from xlpy.domain.config import Altp2mMode, TimerMode

        b = dc.b_info
        # libxl's defaults: no delay for missed ticks; altp2m off unless the
        # older altp2mhvm=1 of an HVM guest asks for the mixed mode.
        timer_mode = TimerMode.NO_DELAY_FOR_MISSED_TICKS if b.timer_mode is TimerMode.UNKNOWN else b.timer_mode
        altp2m = b.altp2m
        if mode == "hvm" and altp2m is Altp2mMode.DISABLED and b.u.altp2m:
            altp2m = Altp2mMode.MIXED
        params = {HVM_PARAM_TIMER_MODE: timer_mode.number, HVM_PARAM_ALTP2M: altp2m.number}
        if mode == "hvm":
            params = {HVM_PARAM_HPET_ENABLED: int(b.u.hpet is not False),
                      HVM_PARAM_VPT_ALIGN: int(b.u.vpt_align is not False),
                      **({HVM_PARAM_MCA_CAP: b.u.mca_caps} if b.u.mca_caps else {}), **params}
        if mode == "hvm":  # hvm_set_viridian_features; refusal() has checked the groups
            from xlpy.domain.hvm import HVM_PARAM_VIRIDIAN, viridian_mask

            viridian = viridian_mask(b.u)
            if viridian:
                params[HVM_PARAM_VIRIDIAN] = viridian
        for param, value in params.items():
            self.backend.set_hvm_param(domid, param, value)

    def _start_device_model(self, domid: int, dc: DomainConfig, restored: bool = False) -> None:
        """What hvmloader reads from xenstore, then QEMU (libxl__spawn_local_dm)
        on the QMP socket the backend opened for it, stopped (-S) until the
        domain's unpause. A restored guest's QEMU loads the device state the
        restore left in its file (-incoming fd:N), which goes once QEMU has
        started or failed to."""
        from xlpy.domain.devicemodel import qemu_args, resume_file

        b, home, backend = dc.b_info, f"/local/domain/{domid}", self.backend
        for key, value in (("hvmloader/bios", b.u.bios_name),
                           ("hvmloader/allow-memory-relocate", "0"),  # QEMU cannot follow relocated RAM
                           ("platform/acpi", b.acpi is not False), ("platform/acpi_s3", b.u.acpi_s3 is not False),
                           ("platform/acpi_s4", b.u.acpi_s4 is not False),
                           ("platform/acpi_laptop_slate", bool(b.u.acpi_laptop_slate)),
                           ("platform/device-model", "qemu_xen")):
            backend.xs_write(f"{home}/{key}", str(int(value)) if isinstance(value, bool) else value)
        # As libxl__dm_vnc: a password only for a VNC server that is on.
        password = b.u.vnc.passwd if b.u.vnc.enable is not False else None
        monitor = backend.open_device_model_monitor(domid)
        try:
            if not restored:
                backend.start_device_model(domid, qemu_args(dc, domid, monitor_fd=monitor), pass_fds=(monitor,),
                                           vnc_password=password)
                return
            path = resume_file(domid)
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError as e:
                raise CreateFailed(f"cannot open the device model's saved state {path}: {e.strerror}") from None
            try:
                backend.start_device_model(domid, qemu_args(dc, domid, fd, monitor), pass_fds=(monitor, fd),
                                           vnc_password=password)
            finally:
                os.close(fd)
                # Gone already when a device model that failed to start was stopped, and its state with it.
                Path(path).unlink(missing_ok=True)
        finally:
            os.close(monitor)

    # -- devices -------------------------------------------------------------------

    def attach_disk(self, domid: int, disk, connect: bool = True, domain_type=None) -> int:
        """Plug a vbd as libxl does. At create `domain_type` comes from the
        config, whose disks were checked; hot-plugged (`connect`), from Xen
        and /libxl, and the disk joins the stored config."""
        from xlpy.domain.config import DomainType
        from xlpy.domain.vdev import vdev_number
        from xlpy.domain.xsdevice import disk_backend_kind, disk_nodes, unsupported_disks

        devid = vdev_number(disk.vdev or "")
        if devid is None:
            raise ToolstackError(f"invalid virtual disk name {disk.vdev!r}")
        if self.backend.xs_read(f"/local/domain/{domid}/device/vbd/{devid}/state") is not None:
            raise ToolstackError(f"device {disk.vdev} is already attached")
        if domain_type is None:
            domain_type = self.domain_type(domid)
            problem = None if domain_type is DomainType.HVM else unsupported_disks([disk])
            problem = problem or _driver_domain_problem([disk], [])
            if problem:
                raise ToolstackError(problem)
        backend, frontend = disk_nodes(domid, devid, disk, domain_type)
        self._add_device(domid, "vbd", devid, f"disk {disk.vdev}", connect, backend, frontend,
                         backend_kind=disk_backend_kind(disk))
        if connect:  # a hotplugged device joins the stored config, as libxl's JSON
            self._update_stored(domid, lambda config: config.disks.append(disk))
        return devid

    def attach_nic(self, domid: int, nic, connect: bool = True) -> int:
        """Plug a vif as libxl does. At create `nic` comes with libxl's
        defaults; hot-plugged (`connect`), it gets them here, in `nic` too,
        with the devid after the highest in use, and joins the stored config
        as libxl adds it."""
        from xlpy.domain.xsdevice import nic_nodes

        if connect:
            from xlpy.domain.setdefault import DefaultsError, nic_setdefault, nic_update_config

            given = copy.deepcopy(nic)
            try:
                nic_setdefault(nic, self.domain_type(domid), hotplug=True)
            except DefaultsError as e:
                raise ToolstackError(str(e)) from None
            problem = _driver_domain_problem([], [nic])
            if problem:
                raise ToolstackError(problem)
            if nic.devid is None:
                nic.devid = max(map(int, self.backend.xs_list(f"/local/domain/{domid}/device/vif")), default=-1) + 1
            elif self.backend.xs_read(f"/local/domain/{domid}/device/vif/{nic.devid}/state") is not None:
                raise ToolstackError(f"device vif {nic.devid} is already attached")
            nic_update_config(given, nic)
        backend, frontend, read_only = nic_nodes(domid, nic)
        self._add_device(domid, "vif", nic.devid, f"vif {nic.devid}", connect, backend, frontend,
                         read_only_frontend=read_only)
        if connect:
            self._update_stored(domid, lambda config: config.nics.append(given))
        return nic.devid

    def _add_device(self, domid: int, kind: str, devid: int, label: str, connect: bool,
                    backend: dict[str, str], frontend: dict[str, str], **where) -> None:
        """The backend's add_device, a failure named after the device
        (`label`): at create it stays a BackendError, which undoes the
        domain; hot-plugged (`connect`) it is the command's error."""
        try:
            self.backend.add_device(domid, kind, devid, backend, frontend, **where)
        except BackendError as e:
            if not connect:
                raise BackendError(f"{label}: {e.message}", e.call, e.errno) from None
            raise ToolstackError(f"{label}: {e.message}") from None

    def detach(self, domid: int, kind: str, devid: int) -> None:
        if self.backend.xs_read(f"/local/domain/{domid}/device/{kind}/{devid}/state") is None:
            raise ToolstackError(f"no {kind} device {devid} on domain {domid}")
        try:
            self.backend.remove_device(domid, kind, devid)
        except BackendError as e:
            raise ToolstackError(f"{kind} {devid}: {e.message}") from None
        from xlpy.domain.vdev import vdev_number

        def forget(config) -> None:
            if kind == "vbd":
                config.disks = [d for d in config.disks if vdev_number(d.vdev or "") != devid]
            else:
                config.nics = [n for n in config.nics if n.devid != devid]

        self._update_stored(domid, forget)

    def _update_stored(self, domid: int, change) -> None:
        """Change the stored config, if the domain has one."""
        stored = self.stored_config(domid)
        if stored is not None:
            change(stored)
            self._store_config(domid, stored)

    def devices(self, domid: int, kind: str) -> list[tuple[int, dict[str, str]]]:
        """Each device's backend nodes, plus "state" and "be-path", and its
        frontend nodes as "frontend/<name>" (event channel, ring refs...)."""
        out = []
        for devid in self.backend.xs_list(f"/local/domain/{domid}/device/{kind}"):
            be = f"/local/domain/0/backend/{kind}/{domid}/{devid}"
            fe = f"/local/domain/{domid}/device/{kind}/{devid}"
            params = {key: self.backend.xs_read(f"{be}/{key}") or "" for key in self.backend.xs_list(be)}
            params.update({f"frontend/{key}": self.backend.xs_read(f"{fe}/{key}") or ""
                           for key in self.backend.xs_list(fe)})
            params["state"] = self.backend.xs_read(f"{fe}/state") or "0"
            params["be-path"] = self.backend.xs_read(f"{fe}/backend") or be
            out.append((int(devid), params))
        return sorted(out)

    @staticmethod
    def _vcpu0_context(image: BootImage) -> VcpuContext:
        """vCPU 0 as the boot ABI wants it: PVH in 32-bit flat mode with %ebx at
        hvm_start_info; PV (and legacy PVH) in 64-bit mode on the start_info page."""
        if image.mode == "pvh32":
            return VcpuContext("hvm32", rip=image.entry, rbx=image.start_info, cr0=0x1)
        return VcpuContext("pv", rip=image.entry, rsp=0x80000, cr3=0x3000)

    # -- life after create ------------------------------------------------------------

    def destroy(self, domid: int) -> None:
        self.info(domid)
        try:
            self._destroy_domain(domid)
        except NoSuchDomain:  # another toolstack destroyed it since we looked
            raise DomainNotFound(f"Domain {domid} does not exist.") from None
        except BackendError as e:  # as xl, after libxl's reason
            raise ToolstackError(f"{e.message}; destroy failed (rc=-3)") from None

    def pause(self, domid: int) -> None:
        self.info(domid)
        self.backend.pause_domain(domid)

    def unpause(self, domid: int) -> None:
        from xlpy.domain.config import DomainType

        info = self.info(domid)
        device_model = self.domain_type(domid, info) is DomainType.HVM and \
            self.backend.xs_read(f"/libxl/{domid}/dm-version") == DM_QEMU_XEN
        try:
            self._unpause(domid, device_model)
        except NoSuchDomain:
            raise DomainNotFound(f"Domain {domid} does not exist.") from None
        except BackendError as e:
            raise ToolstackError(f"cannot unpause domain {domid}: {e.message}") from None

    def _unpause(self, domid: int, device_model: bool) -> None:
        """libxl__domain_unpause: an HVM guest's QEMU emulates first (QMP cont,
        libxl__dm_resume; it was started stopped), then the domain runs."""
        if device_model:
            self.backend.resume_device_model(domid)
        self.backend.unpause_domain(domid)

    def rename(self, domid: int, new_name: str) -> None:
        info = self.info(domid)
        try:
            self.backend.xs_write(f"/local/domain/{domid}/name", new_name)
        except Exists:
            raise NameInUse(f"domain with name {new_name!r} already exists") from None
        if self.backend.xs_read(f"/vm/{info.uuid}/uuid") is not None:  # as libxl__domain_rename
            self.backend.xs_write(f"/vm/{info.uuid}/name", new_name)

    def preserve(self, domid: int, suffix: str) -> None:
        """Keep a dead domain aside as libxl_domain_preserve does: renamed with
        `suffix` and linked to a fresh /vm/<uuid> node. Xen's handle is left as
        it is, so the preserved domain and its restart report the same UUID."""
        import uuid as uuidlib

        info = self.info(domid)
        self.rename(domid, f"{info.name}{suffix}")  # first: a name in use changes nothing
        self._link_vm_node(domid, str(uuidlib.uuid4()))

    def request_shutdown(self, domid: int, action: str = "poweroff") -> None:
        """Ask the guest through control/shutdown, as xl does for PV-aware guests."""
        self.info(domid)
        self.backend.xs_write(f"/local/domain/{domid}/control/shutdown", action)

    def wait_shutdown(self, domid: int, timeout: float = 60.0, interval: float = 0.05) -> DomainInfo | None:
        """Until the domain has shut down or is gone (None); WaitTimeout after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = self.backend.domain_info(domid)
            except NoSuchDomain:
                return None
            if info.shutdown or info.dying:
                return info
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"domain {domid} did not shut down within {timeout:g}s")
            time.sleep(interval)

    def hand_monitor_to(self, domid: int, pid: int) -> None:
        """The domain's death is process `pid`'s to act on (xl's monitoring
        daemon); other toolstacks act on it only once that process is gone."""
        self.backend.xs_write(f"/libxl/{domid}/xlpy/monitor", _monitored_by(pid))

    def reap(self) -> list[tuple[int, str]]:
        """Carry out on_* actions for domains that shut down, and clean up
        creates whose process died. Returns what was done."""
        done = []
        for info in self.backend.list_domains():
            if info.domid == 0:
                continue
            tag = self.backend.xs_read(f"/local/domain/{info.domid}/xlpy/create-pid")
            if tag and not _alive(tag):
                self._destroy_domain(info.domid)
                done.append((info.domid, "removed half-created domain"))
                continue
            if not info.shutdown or not _reaped_here(self.backend.xs_read(f"/libxl/{info.domid}/xlpy/monitor")):
                continue
            try:
                action, restarted = self.handle_shutdown(info)
                done.append((info.domid, action))
                if restarted is not None:
                    self.on_reaped_restart(restarted)
            except DomainNotFound:
                pass  # another toolstack acted on the same death first
            except ToolstackError:
                pass  # left as it is for the user to see, not a failure of the command that reaped
        return done

    def handle_shutdown(self, info: DomainInfo, log=lambda line: None,
                        foreground: bool = False) -> tuple[str, int | None]:
        """The domain's on_* action for the way it shut down, done as xl's
        monitor does it, with its log lines. Returns the action's xl name
        ("none" when there is nothing to do) and the new domid of a restart."""
        from xlpy.domain.config import ShutdownAction

        reason = info.shutdown_reason
        code = -1 if reason is None else int(reason)
        if reason is ShutdownReason.SUSPEND:
            log("Domain has suspended.")
            return "none", None
        config = self.stored_config(info.domid)
        key = {ShutdownReason.POWEROFF: "on_poweroff", ShutdownReason.REBOOT: "on_reboot",
               ShutdownReason.CRASH: "on_crash", ShutdownReason.WATCHDOG: "on_watchdog",
               ShutdownReason.SOFT_RESET: "on_soft_reset"}.get(reason)
        if key is None:
            log(f"Unknown shutdown reason code {code}. Destroying domain.")
            action = ShutdownAction.DESTROY
        else:
            action = getattr(config, key) if config else ShutdownAction.DESTROY
        done = XL_ACTION_NAMES[action]
        log(f"Action for shutdown reason code {code} is {done}")
        self.backend.xs_write(f"/libxl/{info.domid}/xlpy/monitor", "0")
        if action in (ShutdownAction.COREDUMP_DESTROY, ShutdownAction.COREDUMP_RESTART):
            # As xl: the core first, named after the config; a failure is logged and the action goes on.
            corefile = f"{DUMP_DIR}/{config.c_info.name if config else info.name}"
            log(f"dumping core to {corefile}")
            try:
                self.backend.dump_core(info.domid, corefile)
            except BackendError:
                log("core dump failed (rc=-3).")
            restart = action is ShutdownAction.COREDUMP_RESTART
            action = ShutdownAction.RESTART if restart else ShutdownAction.DESTROY
        # There is no soft reset: the domain is restarted instead.
        if action is ShutdownAction.PRESERVE:
            return done, None
        if action is ShutdownAction.RESTART_RENAME:
            reloaded = self.reload_config(info.domid, log)
            suffix = time.strftime("-%Y%m%dT%H%MZ", time.gmtime())
            log(f"Preserving domain {info.domid} {info.name} with suffix{suffix}")
            try:
                return done, self.restart(info.domid, reloaded, preserve_suffix=suffix, foreground=foreground)
            except NameInUse as e:  # as xl: no restart, the old domain is left in place
                log(f"{e}: domain {info.domid} is left as it is")
                return done, None
        if action in (ShutdownAction.RESTART, ShutdownAction.SOFT_RESET):
            reloaded = self.reload_config(info.domid, log)
            log(f"Domain {info.domid} needs to be cleaned up: destroying the domain")
            return done, self.restart(info.domid, reloaded, foreground=foreground)
        log(f"Domain {info.domid} needs to be cleaned up: destroying the domain")
        self.destroy(info.domid)
        return done, None

    def monitor(self, domid: int, log, interval: float = 0.05, on_poll=lambda domid: None) -> int:
        """Stay with a domain as xl's monitor does (create -F): carry out its
        on_* actions, following it across restarts, until it is gone or an
        action leaves nothing to follow. `on_poll` runs on each look.
        Returns xl's exit status."""
        try:
            name = self.info(domid).name
        except DomainNotFound:  # destroyed by someone else before we looked
            log(f"Domain {domid} has been destroyed.")
            return 0
        self.backend.xs_write(f"/libxl/{domid}/xlpy/monitor", _monitor_value(True, True))
        log(f"Waiting for domain {name} (domid {domid}) to die [pid {os.getpid()}]")
        while True:
            on_poll(domid)
            try:
                info = self.backend.domain_info(domid)
            except NoSuchDomain:
                log(f"Domain {domid} has been destroyed.")
                return 0
            if not info.shutdown:
                time.sleep(interval)
                continue
            on_poll(domid)  # what the guest said last, before the action may remove it
            code = -1 if info.shutdown_reason is None else int(info.shutdown_reason)
            log(f"Domain {domid} has shut down, reason code {code} 0x{code & 0xFFFFFFFF:x}")
            _, new_domid = self.handle_shutdown(info, log, foreground=True)
            if new_domid is None:
                log("Done. Exiting now")
                return 0
            log("Done. Rebooting now")
            domid = new_domid
            log(f"Waiting for domain {name} (domid {domid}) to die [pid {os.getpid()}]")

    def reload_config(self, domid: int, log=lambda line: None) -> tuple[DomainConfig, str]:
        """The config a restart creates the domain from, and its text: the one
        config-update left if any, else the config retrieved for the domain,
        so that run-time changes (vCPUs, memory, weights) live on; as xl's
        reload_domain_config."""
        try:
            updated = (self.backend.libxl_userdata(domid, "xl") or b"").decode(errors="replace")
        except NoSuchDomain:  # another toolstack restarted it first
            raise DomainNotFound(f"Domain {domid} does not exist.") from None
        if updated:
            from xlpy.config import parse
            from xlpy.config.build import build

            log('"xl" configuration found, using it\n')  # xl's line, its extra newline included
            dc, _ = build(parse(updated, "<updated>"))
            dc.c_info.uuid = self.info(domid).uuid
            self.backend.store_libxl_userdata(domid, "xl", b"")  # used once, as xl does
        else:
            from xlpy.retrieve import retrieve_config

            dc = retrieve_config(self, domid)
            if dc is None:
                self.info(domid)  # DomainNotFound if another toolstack restarted it first
                raise ToolstackError(f"domain {domid} has no stored configuration to restart from")
        return dc, updated or self.config_text(domid)

    def restart(self, domid: int, reloaded: tuple[DomainConfig, str], preserve_suffix: str | None = None,
                foreground: bool = False) -> int:
        """Destroy the old domain (or preserve it under its name plus
        `preserve_suffix`) and create the reloaded config."""
        dc, text = reloaded
        if preserve_suffix is not None:
            self.preserve(domid, preserve_suffix)
        else:
            self.destroy(domid)
        return self.create(dc, config_text=text, foreground=foreground).domid

    def set_vcpus(self, domid: int, count: int) -> None:
        info = self.info(domid)
        if not 1 <= count <= info.max_vcpus:
            raise ToolstackError(f"cannot set {count} vCPUs: the domain's maximum is {info.max_vcpus}")
        for vcpu in range(info.max_vcpus):
            self.backend.xs_write(f"/local/domain/{domid}/cpu/{vcpu}/availability",
                                  "online" if vcpu < count else "offline")

    def set_memory(self, domid: int, kb: int) -> None:
        """libxl_set_memory_target as xl mem-set calls it (absolute, enforced):
        the balloon target is `kb` less the video RAM, at most the static
        maximum (Domain-0's at least LIBXL_MIN_DOM0_MEM); Xen's limit is the
        target plus the video RAM and LIBXL_MAXMEM_CONSTANT, an HVM
        container's PoD target follows, and /vm/<uuid>/memory says it in MiB.
        `list -l` reads the new target back from xenstore, as libxl's does."""
        info = self.info(domid)
        home = f"/local/domain/{domid}/memory"
        target, static_max = self._memory_nodes(domid, info)
        if target is None:
            raise ToolstackError(f"Cannot get target memory info from /local/domain/{domid}/memory/target")
        if static_max is None:
            raise ToolstackError(f"Cannot get memory info from /local/domain/{domid}/memory/static-max")
        videoram = _leading_int(self.backend.xs_read(f"{home}/videoram"))  # atoi, as libxl reads it
        new_target = kb - videoram
        if new_target > static_max:
            raise ToolstackError("memory_dynamic_max must be less than or equal to memory_static_max")
        if domid == 0 and new_target < MIN_DOM0_MEM_KB:
            raise ToolstackError(f"New target {new_target} for dom0 is below the minimum threshold")
        try:
            self.backend.set_max_memory(domid, new_target + videoram + MAXMEM_SLACK_KB)
        except BackendError as e:
            raise ToolstackError(f"xc_domain_setmaxmem memkb={new_target + videoram + MAXMEM_SLACK_KB} "
                                 f"failed: {e.message}") from None
        if info.hvm:  # libxl: every type but PV
            pages = (new_target + MAXMEM_SLACK_KB) // 4
            try:
                self.backend.set_pod_target(domid, pages)
            except BackendError as e:
                raise ToolstackError(f"xc_domain_set_pod_target memkb={pages} failed: {e.message}") from None
        try:
            self.backend.set_memory_target(domid, new_target)
        except NoMemory as e:
            raise NotEnoughMemory(e.message) from None
        except BackendError as e:
            raise ToolstackError(e.message) from None
        self.backend.xs_write(f"/vm/{info.uuid}/memory", str(new_target // 1024))

    def _memory_nodes(self, domid: int, info: DomainInfo) -> tuple[int | None, int | None]:
        """memory/target and memory/static-max in KiB (None where missing);
        Domain-0's missing ones are filled in from Xen, as libxl does."""
        from xlpy.retrieve import fill_dom0_memory

        home = f"/local/domain/{domid}/memory"
        target, static_max = self.backend.xs_read(f"{home}/target"), self.backend.xs_read(f"{home}/static-max")
        if domid == 0 and (target is None or static_max is None):
            target, static_max = fill_dom0_memory(self, info, target, static_max)
        try:
            return (None if target is None else int(target)), (None if static_max is None else int(static_max))
        except ValueError:
            raise ToolstackError(f"Invalid memory target {target} from {home}/target") from None

    def update_config(self, domid: int, config_text: str) -> None:
        """The config the domain restarts with next (xl config-update); until
        then the domain's own config, as list -l shows it, stays."""
        self.info(domid)
        self.backend.store_libxl_userdata(domid, "xl", config_text.encode())  # where xl config-update puts it

    def config_text(self, domid: int) -> str:
        """The config file text the domain was created from ("" if none)."""
        return self.backend.xs_read(f"/libxl/{domid}/xlpy/config-text") or ""

    def pin_vcpu(self, domid: int, vcpu: int, hard: set[int] | None, soft: set[int] | None) -> None:
        info = self.info(domid)
        if not 0 <= vcpu < info.max_vcpus:
            raise ToolstackError(f"Invalid vcpu: {vcpu} (domain {domid} has {info.max_vcpus})")
        try:
            self.backend.set_vcpu_affinity(domid, vcpu, hard, soft)
        except BackendError as e:
            raise ToolstackError(f"Setting vcpu affinity: {e.message}") from None

    def set_sched_credit(self, domid: int, weight: int | None, cap: int | None) -> None:
        self.info(domid)
        try:
            self.backend.sched_credit(domid, weight, cap)
        except BackendError as e:
            raise ToolstackError(e.message) from None

    def set_max_memory(self, domid: int, kb: int) -> None:
        """libxl_domain_setmaxmem (xl mem-max): the static maximum, never
        below the balloon target; Xen's limit is it plus LIBXL_MAXMEM_CONSTANT."""
        self.info(domid)
        target = self.backend.xs_read(f"/local/domain/{domid}/memory/target")
        if target is None:
            raise ToolstackError(f"Cannot get memory info from /local/domain/{domid}/memory/target")
        if not target.isdigit():
            raise ToolstackError(f"Invalid memory {target} from /local/domain/{domid}/memory/target")
        if kb < int(target):
            raise ToolstackError("memory_static_max must be greater than or or equal to memory_dynamic_max")
        try:
            self.backend.set_max_memory(domid, kb + MAXMEM_SLACK_KB)
        except BackendError as e:
            raise ToolstackError(f"xc_domain_setmaxmem domid={domid} memkb={kb + MAXMEM_SLACK_KB} "
                                 f"failed: {e.message}") from None
        self.backend.xs_write(f"/local/domain/{domid}/memory/static-max", str(kb))


NIL_UUID = "00000000-0000-0000-0000-000000000000"
DUMP_DIR = "/var/lib/xen/dump"  # xl's XEN_DUMP_DIR, where coredump-* actions write
XL_ACTION_NAMES = {"destroy": "destroy", "restart": "restart", "restart_rename": "rename-restart",
                   "preserve": "preserve", "coredump_destroy": "coredump-destroy",
                   "coredump_restart": "coredump-restart", "soft_reset": "soft-reset"}


DM_QEMU_XEN = "qemu_xen"  # libxl_device_model_version_to_string


def _dm_version(dc: DomainConfig) -> str:
    """libxl's default device model, for every guest type, is upstream QEMU (qemu-xen)."""
    version = dc.b_info.device_model_version.value
    return DM_QEMU_XEN if version == "unknown" else version


def _monitor_value(monitor: bool, foreground: bool) -> str:
    """/libxl/<domid>/xlpy/monitor: "1" any toolstack acts on the domain's
    death, "0" nobody does (create -e), "fg:<pid tag>" an attached process does."""
    if foreground:
        return _monitored_by(os.getpid())
    return "1" if monitor else "0"


def _monitored_by(pid: int) -> str:
    return f"fg:{_process_tag(pid)}"


def _reaped_here(monitor: str | None) -> bool:
    """Whether any toolstack should act on the death: yes for "1", and for a
    foreground monitor whose process has gone (the daemon's role falls back)."""
    if monitor is not None and monitor.startswith("fg:"):
        return not _alive(monitor[3:])
    return monitor == "1"


def _driver_domain_problem(disks, nics) -> str | None:
    from xlpy.domain.xsdevice import driver_domain_device

    found = driver_domain_device(disks, nics)
    return found[0] if found else None


def _valid_guest(domid: int) -> bool:
    """libxl_domid_valid_guest."""
    return 0 < domid < DOMID_FIRST_RESERVED


def _leading_int(text: str | None) -> int:
    """C's atoi: the leading (signed) decimal number, 0 without one."""
    import re

    match = re.match(r"\s*([+-]?\d+)", text or "")
    return int(match.group(1)) if match else 0


def _alive(tag: str) -> bool:
    pid = int(tag.split(":", 1)[0])
    return _process_tag(pid) == tag and os.path.exists(f"/proc/{pid}")
