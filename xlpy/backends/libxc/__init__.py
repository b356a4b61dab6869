"""The libxc backend: a real Xen host through libxenctrl, ctypes only.

It speaks Xen 4.17's interface (the soname says which release is installed)
and the modern PVH of that release: an HVM container with HAP whose only
emulated device is the LAPIC. The original PVH design's create flag and
PV-style vCPU context belong to Xen 4.4-4.8 and are refused by name. HVM
guests boot hvmloader and SeaBIOS with QEMU in dom0 as their device model.
Without Xen it fails with one sentence saying what is missing.
"""

from __future__ import annotations

import ctypes as C
import errno
import os
import re
import sys
from pathlib import Path

from xlpy.backends.base import (
    PAGE_SIZE, BackendError, BootImage, CreateFlags, DomainInfo, Exists, HvmBuild, InvalidArgument, NoMemory,
    NoSuchDomain, NotAvailable, PhysInfo, ShutdownReason, VcpuContext, VcpuInfo,
)
from xlpy.backends.libxc import structs as S
from xlpy.backends.libxl_files import DomidHistory, file_lock
from xlpy.domain.layout import memory_map

PRIVCMD = ("/dev/xen/privcmd", "/proc/xen/privcmd")
FIRMWARE_DIR = "/usr/lib/xen-4.17/boot"  # where libxl finds hvmloader (xen-utils-4.17)
PRIVATE_BIN_DIR = "/usr/lib/xen-4.17/bin"  # libxl__private_bindir_path: xenconsole
BIOS_FILES = {"seabios": "/usr/share/seabios/bios-256k.bin", "ovmf": "/usr/share/ovmf/OVMF.fd"}  # Debian's libxl
USERDATA_DIR = Path("/var/lib/xen")  # libxl's XEN_LIB_DIR
NAME_PATH = re.compile(r"/local/domain/\d+/name")
XTL_CRITICAL = 9
_ERRNO_CLASSES = {3: NoSuchDomain, 12: NoMemory, 22: InvalidArgument}


def availability_problem() -> str | None:
    """Why this machine cannot drive Xen, in one sentence, or None."""
    if not any(os.path.exists(p) for p in PRIVCMD):
        return ("no Xen hypervisor here (/dev/xen/privcmd is missing): run xlpy in a Xen dom0, "
                "or use the model backend")
    if os.geteuid() != 0:
        return "driving Xen needs root (the privileged command interface is root-only)"
    return None


class LibxcBackend:
    name = "libxc"
    guests_run_alone = True

    def __init__(self, **_options) -> None:
        problem = availability_problem()
        if problem:
            raise NotAvailable(problem)
        from xlpy.backends.libxc.lib import Libraries

        self.lib = Libraries()
        # A critical-only logger on stderr keeps libxenctrl from printing its
        # own lines; the stream must be real, as the logger asks it isatty().
        stderr = C.c_void_p.in_dll(C.CDLL(None), "stderr")
        self._logger = self.lib.xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0)
        self.xch = self.lib.xc_interface_open(self._logger, self._logger, 0)
        if not self.xch:
            raise NotAvailable(f"cannot open the Xen control interface: {os.strerror(C.get_errno())}")
        self.xsh = self.lib.xs_open(0)
        # libxenguest populates memory while it loads the kernel, so the
        # toolstack's populate and memory-map calls are kept for build_image.
        self._pages: dict[int, int] = {}
        self._maps: dict[int, list] = {}
        self._device_models: dict[int, object] = {}  # QEMU processes this backend started, to reap

    # -- errors -----------------------------------------------------------------

    def _check(self, call: str, rc: int) -> int:
        if rc >= 0:
            return rc
        errno = C.get_errno()
        raise _ERRNO_CLASSES.get(errno, BackendError)(f"{call}: {self.last_error(errno)}", call, errno)

    def last_error(self, errno: int | None = None) -> str:
        """Xen's own message for the last failed call, else errno's text."""
        err = self.lib.xc_get_last_error(self.xch)
        if err and err.contents.code:
            return err.contents.message.decode(errors="replace").strip()
        return os.strerror(errno) if errno else ""

    # -- host ---------------------------------------------------------------------

    def physinfo(self) -> PhysInfo:
        info = S.PhysInfo()
        self._check("xc_physinfo", self.lib.xc_physinfo(self.xch, C.byref(info)))
        version = self._check("xc_version", self.lib.xc_version(self.xch, S.XENVER_version, None))
        caps = [name for bit, name in ((S.XEN_SYSCTL_PHYSCAP_pv, "pv"), (S.XEN_SYSCTL_PHYSCAP_hvm, "hvm"),
                                       (S.XEN_SYSCTL_PHYSCAP_hap, "hap"), (S.XEN_SYSCTL_PHYSCAP_gnttab_v1, "gnttab-v1"),
                                       (S.XEN_SYSCTL_PHYSCAP_gnttab_v2, "gnttab-v2")) if info.capabilities & bit]
        compiled = S.XenCompileInfo()
        self.lib.xc_version(self.xch, S.XENVER_compile_info, C.byref(compiled))
        params = C.c_uint64(0)
        self.lib.xc_version(self.xch, S.XENVER_platform_parameters, C.byref(params))
        return PhysInfo(
            info.nr_cpus, info.nr_nodes, info.cores_per_socket, info.threads_per_core, info.cpu_khz,
            info.total_pages, info.free_pages, self._scheduler(),
            f"{version >> 16}.{version & 0xFFFF}{self._version_text(S.XENVER_extraversion, 16)}",
            tuple(caps), bool(info.capabilities & S.XEN_SYSCTL_PHYSCAP_hap),
            max_cpu_id=info.max_cpu_id, hw_caps=":".join(f"{word:08x}" for word in info.hw_cap),
            outstanding_pages=info.outstanding_pages,
            xen_caps=self._version_text(S.XENVER_capabilities, 1024),
            xen_changeset=self._version_text(S.XENVER_changeset, 64),
            xen_commandline=self._version_text(S.XENVER_commandline, 1024),
            platform_params=f"virt_start={params.value:#x}",
            compiled=tuple(field.decode(errors="replace") for field in (
                compiled.compiler, compiled.compile_by, compiled.compile_domain, compiled.compile_date)),
            build_id=self._build_id(),
        )

    def _version_text(self, command: int, size: int) -> str:
        buffer = C.create_string_buffer(size)
        if self.lib.xc_version(self.xch, command, buffer) < 0:
            return ""
        return buffer.value.decode(errors="replace")

    def _build_id(self) -> str:
        buffer = (C.c_uint8 * 1028)()  # xen_build_id_t: u32 len, then the bytes
        C.c_uint32.from_buffer(buffer).value = 1024
        length = self.lib.xc_version(self.xch, S.XENVER_build_id, buffer)
        return bytes(buffer[4 : 4 + length]).hex() if length > 0 else ""

    def _scheduler(self) -> str:
        """The default cpupool's scheduler (xl info's xen_scheduler)."""
        sched_id = C.c_int(0)
        if self.lib.xc_sched_id(self.xch, C.byref(sched_id)) < 0:
            return "unknown"
        return S.SCHEDULERS.get(sched_id.value, str(sched_id.value))

    def read_log(self, clear: bool = False) -> str:
        size = 1 << 16
        buffer = C.create_string_buffer(size)
        count = C.c_uint(size)
        index = C.c_uint32(0)
        self._check("xc_readconsolering",
                    self.lib.xc_readconsolering(self.xch, buffer, C.byref(count), int(clear), 0, C.byref(index)))
        return buffer.raw[: count.value].decode(errors="replace")

    # -- domains ------------------------------------------------------------------------

    def create_domain(self, flags: CreateFlags, uuid: str, name: str | None = None,
                      owner: str | None = None) -> int:
        if flags.legacy_pvh:
            raise InvalidArgument("this host speaks Xen 4.17's interface, which has no legacy PVH "
                                  "(the Xen 4.4 PVH create flag was removed in 4.9); use type=\"pvh\"",
                                  "xc_domain_create")
        import uuid as uuidlib

        config = S.CreateDomain()
        config.ssidref = 0
        config.handle[:] = list(uuidlib.UUID(uuid).bytes)
        config.flags = sum(bit for wanted, bit in (
            (flags.hvm, S.XEN_DOMCTL_CDF_hvm), (flags.hap, S.XEN_DOMCTL_CDF_hap),
            (flags.oos_off, S.XEN_DOMCTL_CDF_oos_off), (flags.nested_virt, S.XEN_DOMCTL_CDF_nested_virt),
            (flags.vpmu, S.XEN_DOMCTL_CDF_vpmu)) if wanted)
        config.max_vcpus = flags.max_vcpus
        config.max_evtchn_port = flags.max_evtchn_port
        config.max_grant_frames = flags.max_grant_frames
        config.max_maptrack_frames = flags.max_maptrack_frames
        config.grant_opts = flags.max_grant_version  # XEN_DOMCTL_GRANT_version(v): the low 4 bits
        config.vmtrace_size = flags.vmtrace_size
        config.arch.emulation_flags = flags.emulation_flags
        domid = C.c_uint32(flags.domid)
        self._check("xc_domain_create", self.lib.xc_domain_create(self.xch, C.byref(domid), C.byref(config)))
        try:  # all of it or none: a domain without its xenstore home would be orphaned
            self._make_xenstore_home(domid.value)
            if name is not None:
                self.xs_write(f"/local/domain/{domid.value}/name", name)
            if owner is not None:
                self.xs_write(f"/local/domain/{domid.value}/xlpy/create-pid", owner)
        except BaseException:
            self.destroy_domain(domid.value)
            raise
        return domid.value

    def _make_xenstore_home(self, domid: int) -> None:
        """/local/domain/N as libxl__domain_make leaves it: the guest may read
        its home and write only where guests report back to the toolstack."""
        home = f"/local/domain/{domid}"
        read_only = [(0, S.XS_PERM_NONE), (domid, S.XS_PERM_READ)]
        writable = [(domid, S.XS_PERM_NONE)]
        for path, perms in ((home, read_only), (f"{home}/device", read_only), (f"{home}/control", read_only),
                            *((f"{home}/{sub}", writable) for sub in (
                                "control/shutdown", "control/feature-poweroff", "control/feature-reboot",
                                "control/feature-suspend", "control/sysrq", "data", "drivers", "feature",
                                "attr", "error"))):
            self.xs_write(path, "")
            self.xs_set_permissions(path, perms)
        self.xs_write(f"{home}/domid", str(domid))

    def destroy_domain(self, domid: int) -> None:
        from xlpy.backends.libxc import devicemodel  # loaded only where a domain goes away

        # QEMU first: a domain whose memory it still maps cannot finish dying.
        devicemodel.stop(self, domid, self._device_models.pop(domid, None))
        self._remove_devices(domid)
        userdata = self._userdata_path(domid, self.domain_info(domid).uuid, "?", "*")
        self._check("xc_domain_destroy", self.lib.xc_domain_destroy(self.xch, domid))
        self.xs_rm(f"/local/domain/{domid}")
        for path in userdata.parent.glob(userdata.name):  # libxl__userdata_destroyall
            if not path.name.endswith(".domain-userdata-lock"):
                path.unlink(missing_ok=True)
        for table in (self._pages, self._maps):
            table.pop(domid, None)

    def _remove_devices(self, domid: int) -> None:
        """libxl__devices_destroy: every device libxl's records name, forced
        (the guest is not asked), each one's script run; a device that fails
        is reported, as libxl logs it, and the domain still goes."""
        for kind in self.xs_list(f"/libxl/{domid}/device"):
            for devid in self.xs_list(f"/libxl/{domid}/device/{kind}"):
                try:
                    self.remove_device(domid, kind, int(devid), force=True)
                except BackendError as e:
                    sys.stderr.write(f"xlpy: domain {domid}: unable to remove {kind} {devid}: {e.message}\n")

    def pause_domain(self, domid: int) -> None:
        self._check("xc_domain_pause", self.lib.xc_domain_pause(self.xch, domid))

    def unpause_domain(self, domid: int) -> None:
        self._check("xc_domain_unpause", self.lib.xc_domain_unpause(self.xch, domid))

    def shutdown_domain(self, domid: int, reason: ShutdownReason) -> None:
        self._check("xc_domain_shutdown", self.lib.xc_domain_shutdown(self.xch, domid, int(reason)))

    def set_max_vcpus(self, domid: int, count: int) -> None:
        self._check("xc_domain_max_vcpus", self.lib.xc_domain_max_vcpus(self.xch, domid, count))

    def set_max_memory(self, domid: int, kb: int) -> None:
        self._check("xc_domain_setmaxmem", self.lib.xc_domain_setmaxmem(self.xch, domid, kb))

    def set_memory_map(self, domid: int, entries) -> None:
        """Kept for the builder: libxl hands an HVM container's map to Xen once
        its memory is populated, and gives a PV guest none."""
        self.domain_info(domid)
        self._maps[domid] = list(entries)

    def populate_physmap(self, domid: int, pages: int) -> None:
        """Kept for the builder, which populates as it lays out the image
        (xc_dom_boot_mem_init): populating here first would collide with it."""
        info = self.domain_info(domid)
        if pages > info.max_pages:
            raise NoMemory(f"{pages} pages exceed d{domid}'s maximum of {info.max_pages}",
                           "xc_domain_populate_physmap_exact", 12)
        self._pages[domid] = pages

    def set_paging_pool(self, domid: int, kb: int) -> None:
        self._check("xc_set_paging_mempool_size", self.lib.xc_set_paging_mempool_size(self.xch, domid, kb * 1024))

    def set_tsc_mode(self, domid: int, mode: int) -> None:
        self._check("xc_domain_set_tsc_info", self.lib.xc_domain_set_tsc_info(self.xch, domid, mode, 0, 0, 0))

    def set_time_offset(self, domid: int, seconds: int) -> None:
        self._check("xc_domain_set_time_offset", self.lib.xc_domain_set_time_offset(self.xch, domid, seconds))

    def set_hvm_param(self, domid: int, param: int, value: int) -> None:
        self._check("xc_hvm_param_set", self.lib.xc_hvm_param_set(self.xch, domid, param, value))

    def get_hvm_param(self, domid: int, param: int) -> int:
        value = C.c_uint64(0)
        self._check("xc_hvm_param_get", self.lib.xc_hvm_param_get(self.xch, domid, param, C.byref(value)))
        return value.value

    def set_vm_generation_id(self, domid: int, genid: bytes) -> None:
        """libxl__ms_vm_genid_set: hvmloader reads platform/generation-id;
        once it has placed the ID in guest memory, that copy is updated too."""
        from xlpy.backends.libxc.builder import PROT_READ, PROT_WRITE
        from xlpy.domain.hvm import HVM_PARAM_VM_GENERATION_ID_ADDR, generation_id_text

        self.xs_write(f"/local/domain/{domid}/platform/generation-id", generation_id_text(genid))
        address = self.get_hvm_param(domid, HVM_PARAM_VM_GENERATION_ID_ADDR)
        if not address:
            return
        page = self.lib.xc_map_foreign_range(self.xch, domid, PAGE_SIZE, PROT_READ | PROT_WRITE, address // PAGE_SIZE)
        if not page:
            raise BackendError(f"cannot map d{domid}'s generation ID page", "xc_map_foreign_range", C.get_errno())
        try:
            C.memmove(page + address % PAGE_SIZE, genid, len(genid))
        finally:
            self.lib.munmap(C.c_void_p(page), PAGE_SIZE)

    def apply_cpuid_policy(self, domid: int, pae: bool, itsc: bool, nested_virt: bool,
                           leaves: list[tuple[int, int, list[str | None]]], msrs: list[tuple[int, str]]) -> None:
        xend = (S.XendCpuid * (len(leaves) + 1))()
        for entry, (leaf, subleaf, registers) in zip(xend, leaves):
            entry.leaf, entry.subleaf = leaf, subleaf
            for index, bits in enumerate(registers):
                entry.policy[index] = bits.encode() if bits is not None else None
        xend[len(leaves)].leaf = S.CPUID_INPUT_UNUSED
        msr = (S.XcMsr * (len(msrs) + 1))()
        for entry, (index, bits) in zip(msr, msrs):
            entry.index, entry.policy = index, bits.encode()
        msr[len(msrs)].index = S.MSR_INPUT_UNUSED
        rc = self.lib.xc_cpuid_apply_policy(self.xch, domid, False, None, 0, pae, itsc, nested_virt,
                                            xend if leaves else None, msr if msrs else None)
        if rc < 0:  # it returns -errno and need not set errno
            C.set_errno(-rc)
        self._check("xc_cpuid_apply_policy", rc)

    def set_memory_target(self, domid: int, kb: int) -> None:
        self.xs_write(f"/local/domain/{domid}/memory/target", str(kb))

    def set_pod_target(self, domid: int, pages: int) -> None:
        self._check("xc_domain_set_pod_target",
                    self.lib.xc_domain_set_pod_target(self.xch, domid, pages, None, None, None))

    def build_image(self, domid: int, kernel: str, ramdisk: str | None, cmdline: str | None,
                    mode: str, hvm: HvmBuild | None = None, claim: bool = False) -> BootImage:
        from xlpy.backends.libxc.builder import build

        if mode not in ("pv", "pvh", "hvm"):
            raise InvalidArgument(f"this host speaks Xen 4.17's interface and cannot boot {mode}", "xc_dom_allocate")
        if domid not in self._pages:
            raise InvalidArgument(f"d{domid} has no memory yet: populate_physmap first", "xc_dom_mem_init")
        if mode == "hvm":
            hvm = hvm or HvmBuild()
        firmware = self._system_firmware(hvm) if mode == "hvm" else None
        if mode == "hvm":  # the image is the firmware, named as libxl names it
            kernel = os.path.join(FIRMWARE_DIR, kernel)
        info = self.domain_info(domid)
        pages = self._pages[domid]
        regions = self._maps.get(domid) or memory_map(pages * PAGE_SIZE, hvm_container=mode in ("pvh", "hvm"),
                                                      device_model=mode == "hvm")
        built = build(self, domid, kernel, ramdisk, cmdline, mode in ("pvh", "hvm"), pages, regions, info.max_vcpus,
                      firmware, hvm, claim)
        self._publish_rings(domid, built)
        regs = self._vcpu0_registers(domid)
        return BootImage(regs["rip"], "pv64" if mode == "pv" else "pvh32", memory_map=built.memory_map,
                         start_info=built.start_info)

    @staticmethod
    def _system_firmware(hvm: HvmBuild) -> bytes:
        """The BIOS image hvmloader hands over to (libxl__domain_firmware):
        bios_path_override's file, else the one Debian installs for bios=."""
        from xlpy.backends.firmware import read_module

        if hvm.system_firmware:
            return read_module(hvm.system_firmware, "BIOS", False)
        if hvm.bios not in BIOS_FILES:  # refused before the domain exists; kept for direct callers
            raise InvalidArgument(f"qemu-xen does not support bios={hvm.bios}", "xc_dom_allocate")
        try:
            with open(BIOS_FILES[hvm.bios], "rb") as f:
                return f.read()
        except OSError as e:
            raise NotAvailable(f"cannot read the {hvm.bios} firmware {BIOS_FILES[hvm.bios]}: {e.strerror} "
                               f"(apt-get install {'seabios' if hvm.bios == 'seabios' else 'ovmf'})",
                               "xc_dom_allocate") from None

    # -- save and restore (xlpy.backends.libxc.migration) ------------------------

    def save_domain_stream(self, domid: int, fd: int, suspend, device_model: bool = False) -> None:
        """libxc's stream of the domain into `fd`; `suspend()` suspends the guest when libxc asks;
        the `device_model` of an HVM guest tracks the pages it dirties while libxc asks it to."""
        from xlpy.backends.libxc import devicemodel, migration

        migration.save(self, domid, fd, suspend,
                       (lambda enable: devicemodel.set_logdirty(domid, enable)) if device_model else lambda _: None)

    def restore_domain_stream(self, domid: int, fd: int, missing_cpuid=lambda: None) -> None:
        """The domain's memory and CPUs from libxc's stream in `fd`, its rings published."""
        from xlpy.backends.libxc import migration

        migration.restore(self, domid, fd, missing_cpuid)

    def resume_domain(self, domid: int) -> None:
        """A suspended domain carries on as from a cancelled suspend (xc_domain_resume)."""
        from xlpy.backends.libxc import migration

        migration.resume(self, domid)

    def open_device_model_monitor(self, domid: int) -> int:
        from xlpy.backends.libxc import devicemodel

        return devicemodel.open_monitor(domid)

    def start_device_model(self, domid: int, args: list[str], pass_fds: tuple[int, ...] = (),
                           vnc_password: str | None = None) -> None:
        from xlpy.backends.libxc import devicemodel

        name = self.xs_read(f"/local/domain/{domid}/name") or str(domid)
        self._device_models[domid] = devicemodel.start(self, domid, args, name, pass_fds=pass_fds,
                                                       vnc_password=vnc_password)

    def save_device_model(self, domid: int) -> str:
        """QEMU stops and writes its device state to a file, whose path is returned."""
        from xlpy.backends.libxc import devicemodel

        return devicemodel.save_state(domid)

    def resume_device_model(self, domid: int) -> None:
        """QEMU emulates from now on (QMP cont), whether it was started stopped or stopped for a save."""
        from xlpy.backends.libxc import devicemodel

        devicemodel.resume(domid)

    def _publish_rings(self, domid: int, built) -> None:
        """libxl__build_post and the console device: the rings go to xenstore,
        and xenstored is told the domain exists, which xenconsoled watches for."""
        home = f"/local/domain/{domid}"
        for key, value in (("store/port", built.store_port), ("store/ring-ref", built.store_mfn),
                           ("console/port", built.console_port), ("console/ring-ref", built.console_mfn),
                           ("console/limit", 1048576), ("console/type", "xenconsoled"),
                           ("console/output", "pty")):
            self.xs_write(f"{home}/{key}", str(value))
        if not self.lib.xs_introduce_domain(self.xsh, domid, built.store_mfn, built.store_port):
            raise BackendError(f"xs_introduce_domain d{domid}: {os.strerror(C.get_errno())}",
                               "xs_introduce_domain", C.get_errno())

    def _vcpu0_registers(self, domid: int) -> dict[str, int]:
        """vCPU 0 as the builder left it: the PV context, or the HVM CPU save record."""
        if self.domain_info(domid).hvm:
            buffer = C.create_string_buffer(4096)  # the whole record; the shim reads its prefix
            self._check("xc_domain_hvm_getcontext_partial", self.lib.xc_domain_hvm_getcontext_partial(
                self.xch, domid, S.HVM_SAVE_CODE_CPU, 0, buffer, len(buffer)))
            cpu = S.HvmHwCpu.from_buffer(buffer)
            return {"kind": "hvm", "rip": cpu.rip, "rbx": cpu.rbx, "cr0": cpu.cr0}
        context = S.VcpuGuestContext()
        self._check("xc_vcpu_getcontext", self.lib.xc_vcpu_getcontext(self.xch, domid, 0, C.byref(context)))
        return {"kind": "pv", "rip": context.user_regs.rip}

    def set_vcpu_context(self, domid: int, vcpu: int, ctx: VcpuContext) -> None:
        """On a real host the builder sets vCPU 0 itself (xc_dom_boot_image);
        this checks that it did so by the boot ABI the toolstack asked for.
        Other vCPUs are the guest's to bring up (VCPUOP_initialise)."""
        if vcpu != 0:
            raise InvalidArgument("only vCPU 0 is set by the toolstack; the guest brings up the others",
                                  "setvcpucontext")
        regs = self._vcpu0_registers(domid)
        if regs["kind"] == "hvm":
            if ctx.kind != "hvm32":
                raise InvalidArgument("a PVH vCPU 0 starts in 32-bit flat mode (vcpu_hvm_context)", "setvcpucontext")
            wanted = {"rip": ctx.rip, "rbx": ctx.rbx}
            if not regs["cr0"] & 1 or regs["cr0"] & 0x80000000:
                raise InvalidArgument(f"the builder left vCPU 0 with cr0={regs['cr0']:#x}, not flat protected mode",
                                      "setvcpucontext")
        else:
            if ctx.kind != "pv":
                raise InvalidArgument("a PV vCPU takes a vcpu_guest_context", "setvcpucontext")
            wanted = {"rip": ctx.rip}
        for register, value in wanted.items():
            if regs[register] != value:
                raise InvalidArgument(f"vCPU 0 {register} is {regs[register]:#x} but the toolstack expects "
                                      f"{value:#x}", "setvcpucontext")

    def set_vcpu_affinity(self, domid: int, vcpu: int, hard, soft) -> None:
        size = self.lib.xc_get_cpumap_size(self.xch)

        def cpumap(cpus):
            if cpus is None:
                return None
            buf = (C.c_uint8 * size)()
            for cpu in cpus:
                buf[cpu // 8] |= 1 << (cpu % 8)
            return buf

        flags = (1 if hard is not None else 0) | (2 if soft is not None else 0)
        self._check("xc_vcpu_setaffinity",
                    self.lib.xc_vcpu_setaffinity(self.xch, domid, vcpu, cpumap(hard), cpumap(soft), flags))

    def sched_credit(self, domid: int, weight=None, cap=None):
        """Weight and cap under the host's scheduler, credit or credit2, as
        libxl_domain_sched_params_get/set pick the scheduler's own calls."""
        kind = "credit2" if self._scheduler() == "credit2" else "credit"
        get, put = f"xc_sched_{kind}_domain_get", f"xc_sched_{kind}_domain_set"
        params = (C.c_uint16 * 2)()  # struct xen_domctl_sched_credit and _credit2: {weight, cap}
        self._check(get, getattr(self.lib, get)(self.xch, domid, params))
        if weight is not None or cap is not None:
            params[0] = weight if weight is not None else params[0]
            params[1] = cap if cap is not None else params[1]
            self._check(put, getattr(self.lib, put)(self.xch, domid, params))
        return params[0], params[1]

    # -- state ----------------------------------------------------------------------

    def _info(self, raw: S.DomainInfo) -> DomainInfo:
        flags = raw.flags
        shutdown = bool(flags & S.XEN_DOMINF_shutdown)
        reason = (flags >> S.XEN_DOMINF_shutdownshift) & 0xFF
        import uuid as uuidlib

        return DomainInfo(
            domid=raw.domain, name=self.xs_read(f"/local/domain/{raw.domain}/name") or "",
            uuid=str(uuidlib.UUID(bytes=bytes(raw.handle))), hvm=bool(flags & S.XEN_DOMINF_hvm_guest),
            legacy_pvh=False, running=bool(flags & S.XEN_DOMINF_running),
            blocked=bool(flags & S.XEN_DOMINF_blocked), paused=bool(flags & S.XEN_DOMINF_paused),
            shutdown=shutdown, shutdown_reason=ShutdownReason(reason) if shutdown and reason <= 5 else None,
            dying=bool(flags & S.XEN_DOMINF_dying), crashed=shutdown and reason == ShutdownReason.CRASH,
            tot_pages=raw.tot_pages, max_pages=raw.max_pages, outstanding_pages=raw.outstanding_pages,
            online_vcpus=raw.nr_online_vcpus, max_vcpus=raw.max_vcpu_id + 1, cpu_time_ns=raw.cpu_time,
            created=_boot_time() if raw.domain == 0 else 0.0,
        )

    def list_domains(self) -> list[DomainInfo]:
        infos = (S.DomainInfo * 1024)()
        count = self._check("xc_domain_getinfolist", self.lib.xc_domain_getinfolist(self.xch, 0, 1024, infos))
        return [self._info(infos[i]) for i in range(count)]

    def domain_info(self, domid: int) -> DomainInfo:
        raw = S.DomainInfo()
        count = self._check("xc_domain_getinfolist", self.lib.xc_domain_getinfolist(self.xch, domid, 1, C.byref(raw)))
        if count != 1 or raw.domain != domid:
            raise NoSuchDomain(f"domain {domid} does not exist", "xc_domain_getinfolist", 3)
        return self._info(raw)

    def vcpu_info(self, domid: int) -> list[VcpuInfo]:
        info = self.domain_info(domid)
        out = []
        for vcpu in range(info.max_vcpus):
            raw = S.VcpuInfo()
            self._check("xc_vcpu_getinfo", self.lib.xc_vcpu_getinfo(self.xch, domid, vcpu, C.byref(raw)))
            every = frozenset(range(self.physinfo().nr_cpus))
            out.append(VcpuInfo(vcpu, bool(raw.online), bool(raw.running), bool(raw.blocked), raw.cpu,
                                raw.cpu_time, every, every))
        return out

    # -- xenstore -------------------------------------------------------------------

    def xs_read(self, path: str, transaction: int = 0) -> str | None:
        length = C.c_uint(0)
        pointer = self.lib.xs_read(self.xsh, transaction, path.encode(), C.byref(length))
        if not pointer:
            return None
        value = C.string_at(pointer, length.value).decode(errors="replace")
        C.CDLL(None).free(C.c_void_p(pointer))
        return value

    def xs_write(self, path: str, value: str, transaction: int = 0) -> None:
        if NAME_PATH.fullmatch(path) and not transaction:
            self._write_unique_name(path, value)
            return
        data = value.encode()
        if not self.lib.xs_write(self.xsh, transaction, path.encode(), data, len(data)):
            raise BackendError(f"xs_write {path}: {os.strerror(C.get_errno())}", "xs_write", C.get_errno())

    def _write_unique_name(self, path: str, name: str) -> None:
        """Names are unique across the host, as libxl keeps them: every other
        domain's name is read and this one written in one xenstore transaction,
        retried when another writer got in between, so two creates of one name
        cannot both succeed."""
        domid = path.split("/")[3]

        def check_and_write(transaction: int) -> None:
            for other in self.xs_list("/local/domain", transaction):
                if other != domid and self.xs_read(f"/local/domain/{other}/name", transaction) == name:
                    raise Exists(f"domain with name {name!r} already exists (domain {other})", "xs_write", 17)
            self.xs_write(path, name, transaction)

        self.xs_transaction(check_and_write)

    def xs_transaction(self, body) -> None:
        """body(transaction) inside one xenstore transaction, run again when
        another writer got in between (EAGAIN); abandoned if body raises."""
        while True:
            transaction = self.lib.xs_transaction_start(self.xsh)
            if not transaction:
                raise BackendError(f"xs_transaction_start: {os.strerror(C.get_errno())}", "xs_transaction_start",
                                   C.get_errno())
            try:
                body(transaction)
            except BaseException:
                self.lib.xs_transaction_end(self.xsh, transaction, True)
                raise
            if self.lib.xs_transaction_end(self.xsh, transaction, False):
                return
            if C.get_errno() != errno.EAGAIN:
                raise BackendError(f"xs_transaction_end: {os.strerror(C.get_errno())}", "xs_transaction_end",
                                   C.get_errno())

    def xs_rm(self, path: str, transaction: int = 0) -> None:
        self.lib.xs_rm(self.xsh, transaction, path.encode())

    def xs_set_permissions(self, path: str, perms: list[tuple[int, int]], transaction: int = 0) -> None:
        """`perms`: the owner (domid, its bits for everyone else) first, then (domid, bits) for others."""
        array = (S.XsPermissions * len(perms))(*(S.XsPermissions(domid, bits) for domid, bits in perms))
        if not self.lib.xs_set_permissions(self.xsh, transaction, path.encode(), array, len(perms)):
            raise BackendError(f"xs_set_permissions {path}: {os.strerror(C.get_errno())}", "xs_set_permissions",
                               C.get_errno())

    def add_device(self, domid: int, kind: str, devid: int, backend: dict[str, str], frontend: dict[str, str],
                   backend_kind: str | None = None, read_only_frontend: dict[str, str] | None = None) -> None:
        from xlpy.backends.libxc import devices

        devices.add(self, domid, kind, devid, backend, frontend, backend_kind, read_only_frontend)

    def remove_device(self, domid: int, kind: str, devid: int, force: bool = False) -> None:
        from xlpy.backends.libxc import devices

        devices.remove(self, domid, kind, devid, force)

    def xs_list(self, path: str, transaction: int = 0) -> list[str]:
        count = C.c_uint(0)
        pointer = self.lib.xs_directory(self.xsh, transaction, path.encode(), C.byref(count))
        if not pointer:
            return []
        entries = C.cast(pointer, C.POINTER(C.c_char_p))
        names = [entries[i].decode() for i in range(count.value)]
        C.CDLL(None).free(C.c_void_p(pointer))
        return names

    def ioport_permission(self, domid: int, first: int, count: int, allow: bool) -> None:
        self._check("xc_domain_ioport_permission",
                    self.lib.xc_domain_ioport_permission(self.xch, domid, first, count, int(allow)))

    def dump_core(self, domid: int, path: str) -> None:
        self._check("xc_domain_dumpcore", self.lib.xc_domain_dumpcore(self.xch, domid, path.encode()))

    def libxl_userdata(self, domid: int, userid: str) -> bytes | None:
        # libxl writes a new file and renames it over the old: a read needs no lock.
        try:
            return self._userdata_path(domid, self.domain_info(domid).uuid, "d", userid).read_bytes() or None
        except FileNotFoundError:
            return None

    def store_libxl_userdata(self, domid: int, userid: str, data: bytes) -> None:
        """As libxl_userdata_store: under libxl's per-domain userdata lock, a
        new file (mode 0600) renamed over the old, so readers see either."""
        uuid = self.domain_info(domid).uuid
        path = self._userdata_path(domid, uuid, "d", userid)
        with file_lock(self._userdata_path(domid, uuid, "l", "domain-userdata-lock")):
            self.domain_info(domid)  # libxl checks again under the lock
            if not data:
                path.unlink(missing_ok=True)
                return
            new = self._userdata_path(domid, uuid, "n", userid)
            with open(os.open(new, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
                f.write(data)
            new.rename(path)

    @staticmethod
    def _domid_history() -> DomidHistory:
        from xlpy.domain.devicemodel import RUN_DIR  # libxl's XEN_RUN_DIR

        return DomidHistory(RUN_DIR)

    def mark_domid_recent(self, domid: int) -> None:
        self._domid_history().mark(domid)

    def domid_recent(self, domid: int) -> bool:
        return self._domid_history().is_recent(domid)

    @staticmethod
    def _userdata_path(domid: int, uuid: str, kind: str, userid: str) -> Path:
        """libxl__userdata_path: d(ata), n(ew) or l(ock) file of the domain's userdata."""
        return USERDATA_DIR / f"userdata-{kind}.{domid}.{uuid}.{userid}"

    def console_client(self, domid: int, kind: str, num: int, notify_fd: int | None = None) -> list[str]:
        """Xen's own client, xenconsole, as libxl_console_exec runs it; it opens
        the pty xenconsoled (or QEMU, for a serial port) published in xenstore."""
        argv = [f"{PRIVATE_BIN_DIR}/xenconsole", str(domid), "--num", str(num), "--type", kind]
        return argv + (["--start-notify-fd", str(notify_fd)] if notify_fd is not None else [])

    def console(self, domid: int) -> str:
        path = f"/var/log/xen/console/guest-{self.xs_read(f'/local/domain/{domid}/name') or domid}.log"
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


def _boot_time() -> float:
    """When this Domain-0 booted, from its /proc/uptime (xl uptime's source)."""
    import time

    with open("/proc/uptime") as f:
        return time.time() - float(f.read().split()[0])
