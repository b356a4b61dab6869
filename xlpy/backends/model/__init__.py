"""The model backend: Xen's hypervisor, modelled inside the xlpy process.

Domains, vCPUs, memory (in pages), a xenstore-like tree and the hypervisor's
log live in SQLite (see store.py), so every xlpy process sees one host. The
rules are Xen's, for both PVH generations:

* legacy PVH (the original design, Xen 4.4-4.8): created with the PVH flag
  and HAP, never with the HVM flag; 64-bit kernels only; a vCPU context may
  set only flags, user_regs and ctrlreg[3]; the cr3 frame's page reference is
  taken once and dropped at destroy; the TSC is forced to native;
* modern PVH (Xen >= 4.10): an HVM container whose only emulated device is
  the LAPIC (emulation flags exactly 0x1), booted at XEN_ELFNOTE_PHYS32_ENTRY
  in 32-bit flat mode with %ebx pointing at hvm_start_info.

The simulated guest has no process of its own: it acts when the toolstack
touches it (unpause boots it; a write to its control/shutdown or
cpu/N/availability node is answered at once), so the model is deterministic.
Its console is the model's account of the boot, never invented guest output.
"""

from __future__ import annotations

import json
import os
import time
import uuid as uuidlib

from xlpy.backends.base import (
    DOMID_FIRST_RESERVED, PAGE_SIZE, BackendError, BootImage, CreateFlags, DomainInfo, Exists, HvmBuild, InvalidArgument, NoMemory,
    NoSuchDomain, NotImplementedHypercall, PermissionDenied, PhysInfo, ShutdownReason, VcpuContext, VcpuInfo, device_paths,
)
from xlpy.backends.kernel import read_kernel
from xlpy.backends.libxl_files import DomidHistory
from xlpy.backends.model.host import load_profile
from xlpy.domain.layout import memory_map
from xlpy.backends.model.store import Store

X86_EMU_LAPIC = 0x1
X86_EMU_ALL = 0x3FF
#: libxl's JSON for the stub config xen-init-dom0 stores for a PV Domain-0.
DOM0_STUB_CONFIG = b'{"c_info": {"type": "pv"}, "b_info": {"type.pv": {}}}\0'
IDLE_LOAD = 0.01  # an idle guest's vCPUs run 1% of the time
MODEL_START_INFO = 0x6000  # where the model's builder puts hvm_start_info
HVMLOADER_ENTRY = 0x100000  # hvmloader's link address
HVM_PARAM_CALLBACK_IRQ = 0
#: The original PVH design's hypercall table (Xen 4.4, 64-bit only); anything else is -ENOSYS.
LEGACY_PVH_HYPERCALLS = frozenset({
    "platform_op", "memory_op", "xen_version", "console_io", "grant_table_op", "vcpu_op", "mmuext_op",
    "xsm_op", "sched_op", "event_channel_op", "physdev_op", "hvm_op", "sysctl", "domctl",
})


def _subtree(path: str) -> tuple[str, str]:
    """Bounds of every path below `path`, for an index range scan ('/' + 1 is '0')."""
    base = path.rstrip("/")
    return base + "/", base + "0"


def _device_model_dir(domid: int) -> str:
    from xlpy.domain.devicemodel import xenstore_dir

    return xenstore_dir(domid)


class ModelBackend:
    name = "model"
    guests_run_alone = False

    def __init__(self, state_dir=None) -> None:
        self.store = Store(state_dir)
        self.profile = load_profile(self.store.directory)
        self._ensure_dom0()

    # -- host ------------------------------------------------------------------

    def _ensure_dom0(self) -> None:
        if self.store.meta("booted"):
            return
        with self.store.transaction() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'booted'").fetchone():
                return
            p = self.profile
            now = time.time()
            pages = p.dom0_memory_mib * 1024 * 1024 // PAGE_SIZE
            db.execute(
                "INSERT INTO domains (domid, uuid, hvm, hap, legacy_pvh, emulation_flags, max_vcpus, "
                "max_pages, tot_pages, paused, created, run_since, booted) "
                "VALUES (0, ?, 0, 0, 0, 0, ?, ?, ?, 0, ?, ?, 1)",
                ("00000000-0000-0000-0000-000000000000", p.dom0_vcpus, pages, pages, now, now),
            )
            db.executemany("INSERT INTO vcpus (domid, vcpu, up, initialised) VALUES (0, ?, 1, 1)",
                           [(v,) for v in range(p.dom0_vcpus)])
            db.executemany("INSERT INTO xenstore (path, value) VALUES (?, ?)",
                           [("/local/domain/0/name", "Domain-0"), ("/local/domain/0/domid", "0")])
            db.execute("INSERT INTO meta VALUES ('booted', ?), ('rover', '0')", (str(now),))
            self._log(db, f"Xen version {p.xen_version} (model), {p.nr_cpus} CPUs, "
                          f"{p.nr_nodes} NUMA node(s), {p.memory_mib} MiB")
            self._log(db, f"HAP {'detected' if p.hap else 'not available'}; scheduler {p.scheduler}")

    def physinfo(self) -> PhysInfo:
        p = self.profile
        total = p.memory_mib * 1024 * 1024 // PAGE_SIZE
        used = self.store.db.execute("SELECT COALESCE(SUM(tot_pages), 0) FROM domains").fetchone()[0]
        caps = ("pv", "hvm", "hap", "gnttab-v1", "gnttab-v2") if p.hap else ("pv", "hvm", "gnttab-v1", "gnttab-v2")
        return PhysInfo(p.nr_cpus, p.nr_nodes, p.cores_per_socket, p.threads_per_core, p.cpu_mhz * 1000,
                        total, total - used, p.scheduler, p.xen_version, caps, p.hap,
                        # an x86_64 hypervisor's ABIs and its 64-bit PV virtual start
                        xen_caps="xen-3.0-x86_64 hvm-3.0-x86_32 hvm-3.0-x86_32p hvm-3.0-x86_64",
                        platform_params="virt_start=0xffff800000000000")

    def read_log(self, clear: bool = False) -> str:
        with self.store.transaction() as db:
            lines = [row[0] for row in db.execute("SELECT line FROM hvlog ORDER BY id")]
            if clear:
                db.execute("DELETE FROM hvlog")
        return "".join(f"(XEN) {line}\n" for line in lines)

    @staticmethod
    def _log(db, line: str) -> None:
        db.execute("INSERT INTO hvlog (line) VALUES (?)", (line,))

    # -- domain lifetime ---------------------------------------------------------

    def create_domain(self, flags: CreateFlags, uuid: str, name: str | None = None,
                      owner: str | None = None) -> int:
        """`name` and `owner` (the creating process) are written to the
        domain's xenstore nodes in the same transaction: a name is never
        taken twice, and a create killed at any moment leaves a domain the
        next toolstack knows to clean up."""
        if flags.legacy_pvh and flags.hvm:
            raise InvalidArgument("PVH and HVM flags are exclusive", "xc_domain_create")
        if flags.legacy_pvh and not flags.hap:
            raise InvalidArgument("PVH guest must have HAP on", "xc_domain_create")
        if flags.hap and not self.profile.hap:
            raise InvalidArgument("HAP requested but the host has none", "xc_domain_create")
        if flags.hvm and flags.emulation_flags not in (X86_EMU_LAPIC, X86_EMU_ALL):
            raise InvalidArgument(f"invalid emulation bitmap {flags.emulation_flags:#x}", "xc_domain_create")
        if not flags.hvm and flags.emulation_flags:
            raise InvalidArgument("a PV domain emulates no devices", "xc_domain_create")
        if flags.nested_virt and not (flags.hvm and flags.hap):
            raise InvalidArgument("nested virtualisation needs an HVM container with HAP", "xc_domain_create")
        uuidlib.UUID(uuid)
        with self.store.transaction() as db:
            if 0 < flags.domid < DOMID_FIRST_RESERVED:  # as Xen: the domid asked for, if free
                domid = flags.domid
                if db.execute("SELECT 1 FROM domains WHERE domid = ?", (domid,)).fetchone():
                    raise Exists(f"domain {domid} already exists", "xc_domain_create", 17)
            else:
                domid = None
            if name is not None and self._name_taken(db, name):
                raise Exists(f"domain with name {name!r} already exists", "xs_write", 17)
            if domid is None:
                domid = self._allocate_domid(db)
            db.execute(
                "INSERT INTO domains (domid, uuid, hvm, hap, legacy_pvh, emulation_flags, max_vcpus, created, "
                "settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (domid, uuid, int(flags.hvm), int(flags.hap), int(flags.legacy_pvh), flags.emulation_flags,
                 flags.max_vcpus, time.time(),
                 json.dumps({"flags": {"oos_off": flags.oos_off, "nested_virt": flags.nested_virt,
                                       "vpmu": flags.vpmu}})),
            )
            if owner is not None:
                db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)",
                           (f"/local/domain/{domid}/xlpy/create-pid", owner))
            if name is not None:
                db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)", (f"/local/domain/{domid}/name", name))
            kind = "legacy PVH" if flags.legacy_pvh else ("PVH" if flags.emulation_flags == X86_EMU_LAPIC
                                                          else "HVM" if flags.hvm else "PV")
            self._log(db, f"d{domid}: created as {kind}{' with HAP' if flags.hap else ''}")
            if flags.legacy_pvh:
                self._log(db, f"d{domid}: PVH: tsc_mode forced to native (never emulate)")
        return domid

    def _allocate_domid(self, db) -> int:
        """As Xen 4.17: the next free id after the last one given, wrapping to 1."""
        rover = int(db.execute("SELECT value FROM meta WHERE key = 'rover'").fetchone()[0])
        candidate = rover
        for _ in range(DOMID_FIRST_RESERVED):
            candidate = candidate + 1 if candidate + 1 < DOMID_FIRST_RESERVED else 1
            if not db.execute("SELECT 1 FROM domains WHERE domid = ?", (candidate,)).fetchone():
                db.execute("UPDATE meta SET value = ? WHERE key = 'rover'", (str(candidate),))
                return candidate
        raise BackendError("no free domain id", "xc_domain_create", 28)

    def _row(self, db, domid: int):
        row = db.execute("SELECT * FROM domains WHERE domid = ?", (domid,)).fetchone()
        if row is None:
            raise NoSuchDomain(f"domain {domid} does not exist", errno=3)
        return dict(row)

    def destroy_domain(self, domid: int) -> None:
        """Through dying: every page, vCPU and event channel is released; a
        reference still held from outside leaves the domain a zombie."""
        if domid == 0:
            raise InvalidArgument("domain 0 cannot be destroyed", "xc_domain_destroy")
        with self.store.transaction() as db:
            self._row(db, domid)
            db.execute("DELETE FROM refs WHERE domid = ? AND holder LIKE 'self:%'", (domid,))
            db.execute("DELETE FROM vcpus WHERE domid = ?", (domid,))
            db.execute("DELETE FROM userdata WHERE domid = ?", (domid,))
            db.execute("DELETE FROM xenstore WHERE path = ?", (f"/local/domain/{domid}",))
            db.execute("DELETE FROM xenstore WHERE path >= ? AND path < ?", _subtree(f"/local/domain/{domid}"))
            # Its devices, whatever their kind, as the libxc backend unplugs them.
            kinds = {path.split("/")[5] for (path,) in db.execute(
                "SELECT path FROM xenstore WHERE path >= ? AND path < ?", _subtree("/local/domain/0/backend"))}
            for kind in kinds:
                db.execute("DELETE FROM xenstore WHERE path >= ? AND path < ?",
                           _subtree(f"/local/domain/0/backend/{kind}/{domid}"))
            db.execute("DELETE FROM xenstore WHERE path = ? OR (path >= ? AND path < ?)",
                       (_device_model_dir(domid), *_subtree(_device_model_dir(domid))))
            held = db.execute("SELECT COALESCE(SUM(count), 0) FROM refs WHERE domid = ?", (domid,)).fetchone()[0]
            if held:
                db.execute("UPDATE domains SET dying = 1, tot_pages = ?, run_since = NULL WHERE domid = ?",
                           (held, domid))
                self._log(db, f"d{domid}: dying, {held} page(s) still referenced: zombie")
            else:
                self._forget(db, domid)
                self._log(db, f"d{domid}: destroyed")

    @staticmethod
    def _forget(db, domid: int) -> None:
        for table in ("domains", "console", "hvm_params"):
            db.execute(f"DELETE FROM {table} WHERE domid = ?", (domid,))

    def pause_domain(self, domid: int) -> None:
        with self.store.transaction() as db:
            row = self._row(db, domid)
            cpu = self._cpu_ns(db, row)
            db.execute("UPDATE domains SET paused = 1, run_since = NULL, cpu_ns = ? WHERE domid = ?", (cpu, domid))

    def unpause_domain(self, domid: int) -> None:
        with self.store.transaction() as db:
            row = self._row(db, domid)
            db.execute("UPDATE domains SET paused = 0, run_since = ? WHERE domid = ?",
                       (time.time() if row["shutdown_reason"] is None else None, domid))
            row = self._row(db, domid)
            if not row["booted"]:
                self._boot(db, row)
            else:  # what the guest was asked while it could not run, it answers now
                for (path, value) in db.execute(
                        "SELECT path, value FROM xenstore WHERE path >= ? AND path < ? AND "
                        "(path LIKE '%/availability' OR path LIKE '%/control/shutdown')",
                        _subtree(f"/local/domain/{domid}")).fetchall():
                    self._guest_watch(db, path, value)

    def shutdown_domain(self, domid: int, reason: ShutdownReason) -> None:
        with self.store.transaction() as db:
            self._shutdown(db, self._row(db, domid), reason)

    def _shutdown(self, db, row, reason: ShutdownReason) -> None:
        cpu = self._cpu_ns(db, row)
        db.execute("UPDATE domains SET shutdown_reason = ?, run_since = NULL, cpu_ns = ? WHERE domid = ?",
                   (int(reason), cpu, row["domid"]))
        db.execute("UPDATE vcpus SET up = 0 WHERE domid = ?", (row["domid"],))
        self._console(db, row["domid"], f"guest: shutting down ({reason.name.lower()})")
        self._log(db, f"d{row['domid']}: shutdown, reason {reason.name.lower()}")

    # -- resources ----------------------------------------------------------------

    def set_max_vcpus(self, domid: int, count: int) -> None:
        if count < 1:
            raise InvalidArgument("a domain needs at least one vCPU", "xc_domain_max_vcpus")
        with self.store.transaction() as db:
            self._row(db, domid)
            db.execute("UPDATE domains SET max_vcpus = ? WHERE domid = ?", (count, domid))
            db.executemany("INSERT OR IGNORE INTO vcpus (domid, vcpu) VALUES (?, ?)",
                           [(domid, v) for v in range(count)])

    def set_max_memory(self, domid: int, kb: int) -> None:
        with self.store.transaction() as db:
            self._row(db, domid)
            db.execute("UPDATE domains SET max_pages = ? WHERE domid = ?", (kb * 1024 // PAGE_SIZE, domid))

    def set_memory_map(self, domid: int, entries: list[tuple[int, int, str]]) -> None:
        with self.store.transaction() as db:
            self._row(db, domid)
            db.execute("UPDATE domains SET memory_map = ? WHERE domid = ?", (json.dumps(entries), domid))

    def populate_physmap(self, domid: int, pages: int) -> None:
        with self.store.transaction() as db:
            row = self._row(db, domid)
            if row["tot_pages"] + pages > row["max_pages"]:
                raise NoMemory(f"d{domid}: {pages} pages exceed the domain's maximum", "populate_physmap")
            free = self._free_pages(db)
            if pages > free:
                raise NoMemory(
                    f"not enough free memory: {pages * PAGE_SIZE >> 20} MiB asked, {free * PAGE_SIZE >> 20} MiB free",
                    "populate_physmap",
                )
            db.execute("UPDATE domains SET tot_pages = tot_pages + ? WHERE domid = ?", (pages, domid))

    def _free_pages(self, db) -> int:
        total = self.profile.memory_mib * 1024 * 1024 // PAGE_SIZE
        return total - db.execute("SELECT COALESCE(SUM(tot_pages), 0) FROM domains").fetchone()[0]

    def set_paging_pool(self, domid: int, kb: int) -> None:
        with self.store.transaction() as db:
            self._hvm_only(db, domid, "xc_set_paging_mempool_size")
            self._settle(db, domid, paging_pool_kb=kb)

    def set_hvm_param(self, domid: int, param: int, value: int) -> None:
        with self.store.transaction() as db:
            self._hvm_only(db, domid, "xc_hvm_param_set")
            if not 0 <= value < 2**64:
                raise InvalidArgument(f"HVM parameter {param}: {value} is not a 64-bit value", "xc_hvm_param_set")
            db.execute("INSERT OR REPLACE INTO hvm_params VALUES (?, ?, ?)", (domid, param, str(value)))

    def get_hvm_param(self, domid: int, param: int) -> int:
        """What the toolstack set, or else what the guest set (0 if neither)."""
        with self.store.transaction() as db:
            self._hvm_only(db, domid, "xc_hvm_param_get")
            row = db.execute("SELECT value FROM hvm_params WHERE domid = ? AND param = ?", (domid, param)).fetchone()
        value = row[0] if row else self.xs_read(f"/local/domain/{domid}/xlpy/hvm-param/{param}")
        return int(value or 0)

    def set_vm_generation_id(self, domid: int, genid: bytes) -> None:
        """The model's firmware never runs, so the ID lives in xenstore only."""
        from xlpy.domain.hvm import generation_id_text

        if len(genid) != 16:
            raise InvalidArgument("a VM generation ID is 16 bytes", "libxl__ms_vm_genid_set")
        with self.store.transaction() as db:
            self._hvm_only(db, domid, "xc_hvm_param_get")
            db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)",
                       (f"/local/domain/{domid}/platform/generation-id", generation_id_text(genid)))

    def set_tsc_mode(self, domid: int, mode: int) -> None:
        if mode not in (0, 1, 2):
            raise InvalidArgument(f"TSC mode {mode} is not one Xen 4.17 knows", "xc_domain_set_tsc_info")
        with self.store.transaction() as db:
            self._row(db, domid)
            self._settle(db, domid, tsc_mode=mode)

    def set_time_offset(self, domid: int, seconds: int) -> None:
        if not -2**31 <= seconds < 2**31:
            raise InvalidArgument(f"time offset {seconds} is not a signed 32-bit number", "xc_domain_set_time_offset")
        with self.store.transaction() as db:
            self._row(db, domid)
            self._settle(db, domid, time_offset=seconds)

    def apply_cpuid_policy(self, domid: int, pae: bool, itsc: bool, nested_virt: bool,
                           leaves: list[tuple[int, int, list[str | None]]], msrs: list[tuple[int, str]]) -> None:
        """The model's guests execute no CPUID: it checks what Xen would check
        of the lists and keeps the policy."""
        for _, _, registers in leaves:
            if any(bits is not None and len(bits) != 32 for bits in registers):
                raise InvalidArgument("a CPUID register policy is not 32 characters", "xc_cpuid_apply_policy")
        if any(len(bits) != 64 for _, bits in msrs):
            raise InvalidArgument("an MSR policy is not 64 characters", "xc_cpuid_apply_policy")
        with self.store.transaction() as db:
            self._row(db, domid)
            self._settle(db, domid, cpuid={"pae": pae, "itsc": itsc, "nested_virt": nested_virt,
                                           "leaves": [list(leaf) for leaf in leaves],
                                           "msrs": [list(msr) for msr in msrs]})

    def _hvm_only(self, db, domid: int, call: str) -> None:
        """HAP's page pool and HVM parameters exist for HVM containers only."""
        row = self._row(db, domid)
        if not row["hvm"]:
            raise InvalidArgument(f"d{domid} is not an HVM container", call)

    def _settle(self, db, domid: int, **values) -> None:
        """Keep what the toolstack set in the domain's settings."""
        row = self._row(db, domid)
        db.execute("UPDATE domains SET settings = ? WHERE domid = ?",
                   (json.dumps({**json.loads(row["settings"]), **values}), domid))

    def domain_settings(self, domid: int) -> dict:
        """What the toolstack set of the domain beyond its memory and vCPUs:
        create flags, HVM parameters, paging pool, TSC mode, time offset,
        CPUID policy, and the firmware and hvm_info an HVM guest was built with."""
        db = self.store.db
        settings = json.loads(self._row(db, domid)["settings"])
        settings["hvm_params"] = {param: int(value) for param, value in db.execute(
            "SELECT param, value FROM hvm_params WHERE domid = ? ORDER BY param", (domid,))}
        return settings

    def set_memory_target(self, domid: int, kb: int) -> None:
        """The guest's balloon driver follows memory/target at once."""
        pages = kb * 1024 // PAGE_SIZE
        with self.store.transaction() as db:
            row = self._row(db, domid)
            if pages > row["max_pages"]:
                raise InvalidArgument("memory target above the domain's maximum", "memory/target")
            if pages - row["tot_pages"] > self._free_pages(db):
                raise NoMemory("not enough free memory for the new target", "memory/target")
            db.execute("UPDATE domains SET tot_pages = ? WHERE domid = ?", (pages, domid))
            db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)",
                       (f"/local/domain/{domid}/memory/target", str(kb)))

    def set_pod_target(self, domid: int, pages: int) -> None:
        """XENMEM_set_pod_target: HVM containers only, never above the
        domain's maximum; the target is kept for domain_settings."""
        with self.store.transaction() as db:
            self._hvm_only(db, domid, "xc_domain_set_pod_target")
            if pages > self._row(db, domid)["max_pages"]:
                raise InvalidArgument(f"PoD target of {pages} pages above d{domid}'s maximum",
                                      "xc_domain_set_pod_target")
            self._settle(db, domid, pod_target_pages=pages)

    # -- booting -------------------------------------------------------------------

    def build_image(self, domid: int, kernel: str, ramdisk: str | None, cmdline: str | None,
                    mode: str, hvm: HvmBuild | None = None, claim: bool = False) -> BootImage:
        """`claim` is kept for domain_settings: the claim itself ends with the
        build, as libxenguest drops it once the memory is populated."""
        with self.store.transaction() as db:
            self._row(db, domid)
            self._settle(db, domid, claim=claim)
        if mode == "hvm":
            return self._build_firmware(domid, kernel, hvm or HvmBuild())
        image = read_kernel(kernel)
        if ramdisk is not None and not os.path.isfile(ramdisk):
            raise InvalidArgument(f"cannot read ramdisk {ramdisk}", "xc_dom_module_file")
        if mode == "pvh":
            if image.phys32_entry is None:
                raise InvalidArgument(f"{kernel} has no XEN_ELFNOTE_PHYS32_ENTRY: it cannot boot as PVH",
                                      "xc_dom_parse_image")
            entry, boot_mode = image.phys32_entry, "pvh32"
        elif mode == "legacy-pvh":
            if image.elf_class != 64:
                raise InvalidArgument("PVH not supported for 32bit guests", "xc_dom_parse_image")
            if not image.legacy_pvh_capable:
                raise InvalidArgument(f"{kernel} does not offer the features legacy PVH needs "
                                      "(writable_descriptor_tables|auto_translated_physmap|"
                                      "supervisor_mode_kernel|hvm_callback_vector)", "xc_dom_parse_image")
            entry, boot_mode = image.pv_entry, "pv64"
        else:
            if image.pv_entry is None:
                raise InvalidArgument(f"{kernel} has no Xen PV entry point", "xc_dom_parse_image")
            entry, boot_mode = image.pv_entry, "pv64"
        with self.store.transaction() as db:
            row = self._row(db, domid)
            # The toolstack's map (set_memory_map), else the default layout.
            regions = json.loads(row["memory_map"]) or memory_map(row["tot_pages"] * PAGE_SIZE, bool(row["hvm"]))
            # Entry points are 64-bit unsigned; SQLite integers are signed, so keep hex text.
            db.execute("UPDATE domains SET boot_mode = ?, entry = ?, memory_map = ? WHERE domid = ?",
                       (boot_mode, hex(entry), json.dumps(regions), domid))
            self._console(db, domid, f"builder: {kernel} ({image.guest_os or 'unknown OS'}), "
                                     f"{boot_mode} entry {entry:#x}")
            if cmdline:
                self._console(db, domid, f"builder: command line: {cmdline}")
            for start, length, kind in regions:
                self._console(db, domid, f"builder: e820 {start:#014x}-{start + length - 1:#014x} {kind}")
        return BootImage(entry, boot_mode, image.features, image.guest_os, tuple(tuple(r) for r in regions),
                         start_info=MODEL_START_INFO if boot_mode == "pvh32" else 0)

    def _build_firmware(self, domid: int, firmware: str, hvm: HvmBuild) -> BootImage:
        """HVM: the builder loads hvmloader (linked at 1 MiB, entered like a
        PVH kernel) with the BIOS and any ACPI and SMBIOS tables as modules,
        and fills in its hvm_info table; the guest's own OS is the device
        model's to boot, so the model follows it no further."""
        from xlpy.backends.firmware import extra_modules, read_module

        if hvm.bios not in ("seabios", "ovmf"):
            raise InvalidArgument(f"qemu-xen does not support bios={hvm.bios}", "xc_dom_allocate")
        bios = read_module(hvm.system_firmware, "BIOS", False) if hvm.system_firmware else None
        acpi, smbios = extra_modules(hvm)
        with self.store.transaction() as db:
            row = self._row(db, domid)
            if any(not 0 <= vcpu < row["max_vcpus"] for vcpu in hvm.online_vcpus):
                raise InvalidArgument(f"hvm_info: a vCPU online beyond d{domid}'s {row['max_vcpus']}",
                                      "hvm_build_set_params")
            regions = json.loads(row["memory_map"]) or memory_map(row["tot_pages"] * PAGE_SIZE, True, True)
            db.execute("UPDATE domains SET boot_mode = 'pvh32', entry = ?, memory_map = ? WHERE domid = ?",
                       (hex(HVMLOADER_ENTRY), json.dumps(regions), domid))
            modules = {name: len(data) for name, data in (("bios", bios), ("acpi", acpi), ("smbios", smbios))
                       if data}
            self._settle(db, domid, firmware={
                "image": firmware, "bios": hvm.bios, "system_firmware": hvm.system_firmware, "modules": modules,
                "apic_mode": int(hvm.apic), "nr_vcpus": row["max_vcpus"], "vcpu_online": sorted(hvm.online_vcpus)})
            extra = "".join(f", {name} module {length} bytes" for name, length in modules.items())
            self._console(db, domid, f"builder: firmware {firmware} with {hvm.bios}{extra}, "
                                     f"pvh32 entry {HVMLOADER_ENTRY:#x}")
        return BootImage(HVMLOADER_ENTRY, "pvh32", memory_map=tuple(tuple(r) for r in regions),
                         start_info=MODEL_START_INFO)

    def open_device_model_monitor(self, domid: int) -> int:
        """A socket of the model's own: the modelled QEMU takes its descriptor
        and talks to nobody, whoever closes it."""
        import socket

        return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).detach()

    def start_device_model(self, domid: int, args: list[str], pass_fds: tuple[int, ...] = (),
                           vnc_password: str | None = None) -> None:
        """QEMU's directory, without a state: it starts stopped (-S), as the libxc backend starts it.
        No QEMU runs, so no pty or VNC server is published (vncviewer finds no vnc-port)."""
        with self.store.transaction() as db:
            self._row(db, domid)
            db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)", (_device_model_dir(domid), ""))
            self._console(db, domid, f"device model: qemu {' '.join(args)}")

    def resume_device_model(self, domid: int) -> None:
        """QMP cont: QEMU says it runs, as it does in xenstore; a domain without one cannot be answered."""
        with self.store.transaction() as db:
            self._row(db, domid)
            if db.execute("SELECT 1 FROM xenstore WHERE path = ?", (_device_model_dir(domid),)).fetchone() is None:
                raise BackendError(f"cannot talk to the device model of domain {domid}: it has none", "qmp cont")
            db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)",
                       (f"{_device_model_dir(domid)}/state", "running"))

    def set_vcpu_context(self, domid: int, vcpu: int, ctx: VcpuContext) -> None:
        with self.store.transaction() as db:
            self._initialise_vcpu(db, self._row(db, domid), vcpu, ctx)

    def _initialise_vcpu(self, db, row, vcpu: int, ctx: VcpuContext) -> None:
        """arch_set_info_guest's checks, for the toolstack's vCPU 0 and the guest's own VCPUOP_initialise."""
        domid = row["domid"]
        if not 0 <= vcpu < row["max_vcpus"]:
            raise InvalidArgument(f"vCPU {vcpu} is beyond d{domid}'s {row['max_vcpus']}", "setvcpucontext")
        if row["legacy_pvh"]:
            if ctx.kind != "pv":
                raise InvalidArgument("legacy PVH vCPUs take a PV-style vcpu_guest_context", "setvcpucontext")
            if ctx.cr0 or ctx.cr4 or ctx.extra:
                raise InvalidArgument("PVH: only flags, user_regs and ctrlreg[3] may be set", "setvcpucontext", 22)
            frame = ctx.cr3 // PAGE_SIZE
            if not 0 < frame < max(row["tot_pages"], 1):
                raise InvalidArgument(f"cr3 frame {frame:#x} is not guest memory", "setvcpucontext")
            db.execute("INSERT INTO refs VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = 1",
                       (domid, f"self:cr3:{vcpu}"))
        elif row["hvm"]:
            if ctx.kind == "hvm32":
                if not ctx.cr0 & 1 or ctx.cr0 & 0x80000000 or ctx.cr4:
                    raise InvalidArgument("32-bit vcpu_hvm_context must be flat protected mode, paging off",
                                          "setvcpucontext")
            elif ctx.kind == "hvm64":
                if ctx.cr0 & 0x80000001 != 0x80000001 or not ctx.cr4 & 0x20 or not ctx.cr3:
                    raise InvalidArgument("64-bit vcpu_hvm_context needs paging, PAE and a cr3", "setvcpucontext")
            else:
                raise InvalidArgument("an HVM container's vCPU takes a vcpu_hvm_context", "setvcpucontext")
        elif ctx.kind != "pv":
            raise InvalidArgument("a PV vCPU takes a vcpu_guest_context", "setvcpucontext")
        db.execute("UPDATE vcpus SET initialised = 1, context = ? WHERE domid = ? AND vcpu = ?",
                   (json.dumps(ctx.__dict__), domid, vcpu))

    def _boot(self, db, row) -> None:
        """The guest starts on vCPU 0 and brings up its other vCPUs itself."""
        domid = row["domid"]
        v0 = db.execute("SELECT initialised FROM vcpus WHERE domid = ? AND vcpu = 0", (domid,)).fetchone()
        if not v0 or not v0[0] or row["entry"] is None:
            self._console(db, domid, "guest: vCPU 0 has no context; the domain cannot run")
            self._shutdown(db, row, ShutdownReason.CRASH)
            return
        db.execute("UPDATE vcpus SET up = 1 WHERE domid = ? AND vcpu = 0", (domid,))
        mode = {"pvh32": "32-bit flat protected mode, %ebx -> hvm_start_info",
                "pv64": "64-bit mode, %rsi -> start_info"}[row["boot_mode"]]
        self._console(db, domid, f"guest: vCPU 0 entered at {row['entry']} in {mode}")
        for vcpu in range(1, row["max_vcpus"]):
            if self._xs(db, f"/local/domain/{domid}/cpu/{vcpu}/availability") == "online":
                self._guest_vcpu_up(db, row, vcpu)
        self._connect_devices(db, domid)
        db.execute("UPDATE domains SET booted = 1 WHERE domid = ?", (domid,))

    def _guest_vcpu_up(self, db, row, vcpu: int) -> None:
        """VCPUOP_initialise (once) then VCPUOP_up, issued by the guest."""
        domid = row["domid"]
        initialised = db.execute("SELECT initialised FROM vcpus WHERE domid = ? AND vcpu = ?",
                                 (domid, vcpu)).fetchone()
        if initialised is None:
            return
        if not initialised[0]:
            entry = int(row["entry"], 16)
            ctx = (VcpuContext("pv", rip=entry, rsp=0x8000, cr3=PAGE_SIZE * 2)
                   if not row["hvm"] or row["legacy_pvh"] else VcpuContext("hvm64", rip=entry,
                                                                            cr0=0x80000011, cr4=0x20, cr3=PAGE_SIZE * 2))
            self._initialise_vcpu(db, row, vcpu, ctx)
            self._console(db, domid, f"guest: VCPUOP_initialise vCPU {vcpu} ({ctx.kind} context)")
        db.execute("UPDATE vcpus SET up = 1 WHERE domid = ? AND vcpu = ?", (domid, vcpu))
        self._console(db, domid, f"guest: VCPUOP_up vCPU {vcpu}")

    def _connect_devices(self, db, domid: int) -> None:
        for (path,) in db.execute("SELECT path FROM xenstore WHERE path >= ? AND path < ? AND path LIKE '%/state'",
                                  _subtree(f"/local/domain/{domid}/device")).fetchall():
            db.execute("UPDATE xenstore SET value = '4' WHERE path = ?", (path,))
            self._console(db, domid, f"guest: connected {path.split('/device/', 1)[1].rsplit('/', 1)[0]}")

    def set_vcpu_affinity(self, domid: int, vcpu: int, hard, soft) -> None:
        with self.store.transaction() as db:
            self._row(db, domid)
            nr = self.profile.nr_cpus
            for name, cpus in (("hard", hard), ("soft", soft)):
                if cpus is not None:
                    cpus = sorted(c for c in cpus if c < nr)
                    if name == "hard" and not cpus:
                        raise InvalidArgument("empty hard affinity", "xc_vcpu_setaffinity")
                    db.execute(f"UPDATE vcpus SET {name} = ? WHERE domid = ? AND vcpu = ?",
                               (json.dumps(cpus), domid, vcpu))

    def sched_credit(self, domid: int, weight: int | None = None, cap: int | None = None) -> tuple[int, int]:
        with self.store.transaction() as db:
            row = self._row(db, domid)
            if weight is not None:
                if not 1 <= weight <= 65535:
                    raise InvalidArgument("weight must be 1..65535", "sched_credit")
                db.execute("UPDATE domains SET weight = ? WHERE domid = ?", (weight, domid))
            if cap is not None:
                db.execute("UPDATE domains SET cap = ? WHERE domid = ?", (cap, domid))
            return (weight or row["weight"], row["cap"] if cap is None else cap)

    # -- state ------------------------------------------------------------------

    def _cpu_ns(self, db, row, online: int | None = None) -> int:
        if row["run_since"] is None:
            return row["cpu_ns"]
        if online is None:
            online = db.execute("SELECT COUNT(*) FROM vcpus WHERE domid = ? AND up = 1",
                                (row["domid"],)).fetchone()[0]
        load = 0.05 if row["domid"] == 0 else IDLE_LOAD
        return row["cpu_ns"] + int((time.time() - row["run_since"]) * 1e9 * online * load)

    def _info(self, db, row) -> DomainInfo:
        name, online = row["name"], row["online"]
        reason = row["shutdown_reason"]
        return DomainInfo(
            domid=row["domid"], name=name or "", uuid=row["uuid"], hvm=bool(row["hvm"]),
            legacy_pvh=bool(row["legacy_pvh"]),
            running=row["domid"] == 0, blocked=row["domid"] != 0 and not row["paused"] and reason is None,
            paused=bool(row["paused"]), shutdown=reason is not None,
            shutdown_reason=ShutdownReason(reason) if reason is not None else None,
            dying=bool(row["dying"]), crashed=reason == ShutdownReason.CRASH,
            tot_pages=row["tot_pages"], max_pages=row["max_pages"], outstanding_pages=0,
            online_vcpus=online, max_vcpus=row["max_vcpus"], cpu_time_ns=self._cpu_ns(db, row, online),
            created=row["created"],
        )

    # Each domain with its name (from the xenstore-like tree) and online vCPU count.
    _LIST = ("SELECT d.*, x.value AS name, "
             "(SELECT COUNT(*) FROM vcpus v WHERE v.domid = d.domid AND v.up = 1) AS online "
             "FROM domains d LEFT JOIN xenstore x ON x.path = '/local/domain/' || d.domid || '/name' ")

    def list_domains(self) -> list[DomainInfo]:
        db = self.store.db
        return [self._info(db, row) for row in db.execute(self._LIST + "ORDER BY d.domid")]

    def domain_info(self, domid: int) -> DomainInfo:
        db = self.store.db
        row = db.execute(self._LIST + "WHERE d.domid = ?", (domid,)).fetchone()
        if row is None:
            raise NoSuchDomain(f"domain {domid} does not exist", "xc_domain_getinfo")
        return self._info(db, row)

    def vcpu_info(self, domid: int) -> list[VcpuInfo]:
        db = self.store.db
        row = self._row(db, domid)
        nr = self.profile.nr_cpus
        out = []
        rows = db.execute("SELECT vcpu, up, hard, soft FROM vcpus WHERE domid = ? ORDER BY vcpu", (domid,)).fetchall()
        total = self._cpu_ns(db, row)
        online = max(1, sum(1 for r in rows if r[1]))
        for vcpu, up, hard, soft in rows:
            hard_set = frozenset(json.loads(hard)) if hard else frozenset(range(nr))
            soft_set = frozenset(json.loads(soft)) if soft else frozenset(range(nr))
            out.append(VcpuInfo(vcpu, bool(up), bool(up) and domid == 0,
                                bool(up) and domid != 0 and not row["paused"],
                                min(hard_set) if up else -1, total // online if up else 0, hard_set, soft_set))
        return out

    # -- xenstore ---------------------------------------------------------------

    @staticmethod
    def _xs(db, path: str) -> str | None:
        row = db.execute("SELECT value FROM xenstore WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def dump_core(self, domid: int, path: str) -> None:
        self.domain_info(domid)
        raise NotImplementedHypercall("the model keeps no guest memory to dump", "xc_domain_dumpcore")

    def libxl_userdata(self, domid: int, userid: str) -> bytes | None:
        with self.store.transaction() as db:
            self._row(db, domid)
            row = db.execute("SELECT data FROM userdata WHERE domid = ? AND userid = ?", (domid, userid)).fetchone()
            if row:
                return bytes(row[0])
            if (domid, userid) == (0, "libxl-json"):
                # What xen-init-dom0 leaves when the host boots: a stub config
                # for Domain-0 (tools/helpers/init-dom-json.c).
                return DOM0_STUB_CONFIG
            if userid == "libxl-json":  # where an older xlpy kept a guest's config
                legacy = self._xs(db, f"/libxl/{domid}/xlpy/config")
                return legacy.encode() if legacy else None
            return None

    def store_libxl_userdata(self, domid: int, userid: str, data: bytes) -> None:
        with self.store.transaction() as db:
            self._row(db, domid)
            if data:
                db.execute("INSERT OR REPLACE INTO userdata (domid, userid, data) VALUES (?, ?, ?)",
                           (domid, userid, data))
            else:
                db.execute("DELETE FROM userdata WHERE domid = ? AND userid = ?", (domid, userid))

    def mark_domid_recent(self, domid: int) -> None:
        DomidHistory(self.store.directory).mark(domid)

    def domid_recent(self, domid: int) -> bool:
        return DomidHistory(self.store.directory).is_recent(domid)

    def xs_read(self, path: str) -> str | None:
        return self._xs(self.store.db, path)

    def xs_write(self, path: str, value: str) -> None:
        with self.store.transaction() as db:
            if path.endswith("/name") and path.count("/") == 4:
                if self._name_taken(db, value, path):
                    raise Exists(f"domain name {value!r} is in use", "xs_write", 17)
            db.execute("INSERT OR REPLACE INTO xenstore VALUES (?, ?)", (path, value))
            self._guest_watch(db, path, value)

    def _guest_watch(self, db, path: str, value: str) -> None:
        """The simulated guest's xenstore watches: shutdown requests and vCPU hotplug."""
        parts = path.split("/")
        if len(parts) < 5 or parts[1:3] != ["local", "domain"] or not parts[3].isdigit():
            return
        domid = int(parts[3])
        row = db.execute("SELECT * FROM domains WHERE domid = ?", (domid,)).fetchone()
        if row is None:
            return
        row = dict(row)
        if not row["booted"] or row["paused"] or row["shutdown_reason"] is not None:
            return
        if parts[4:] == ["control", "shutdown"] and value:
            reasons = {"poweroff": ShutdownReason.POWEROFF, "halt": ShutdownReason.POWEROFF,
                       "reboot": ShutdownReason.REBOOT, "suspend": ShutdownReason.SUSPEND}
            if value in reasons:
                db.execute("UPDATE xenstore SET value = '' WHERE path = ?", (path,))
                self._shutdown(db, row, reasons[value])
        elif len(parts) == 7 and parts[4] == "cpu" and parts[6] == "availability" and parts[5].isdigit():
            vcpu = int(parts[5])
            up = db.execute("SELECT up FROM vcpus WHERE domid = ? AND vcpu = ?", (domid, vcpu)).fetchone()
            if value == "online" and up is not None and not up[0]:
                self._guest_vcpu_up(db, row, vcpu)
            elif value == "offline" and vcpu > 0 and up is not None and up[0]:
                db.execute("UPDATE vcpus SET up = 0 WHERE domid = ? AND vcpu = ?", (domid, vcpu))
                self._console(db, domid, f"guest: VCPUOP_down vCPU {vcpu}")

    @staticmethod
    def _name_taken(db, name: str, except_path: str = "") -> bool:
        return db.execute("SELECT 1 FROM xenstore WHERE value = ? AND path != ? "
                          "AND path LIKE '/local/domain/%/name'", (name, except_path)).fetchone() is not None

    def xs_rm(self, path: str) -> None:
        with self.store.transaction() as db:
            self._xs_rm(db, path)

    @staticmethod
    def _xs_rm(db, path: str) -> None:
        db.execute("DELETE FROM xenstore WHERE path = ?", (path,))
        db.execute("DELETE FROM xenstore WHERE path >= ? AND path < ?", _subtree(path))

    def add_device(self, domid: int, kind: str, devid: int, backend: dict[str, str], frontend: dict[str, str],
                   backend_kind: str | None = None, read_only_frontend: dict[str, str] | None = None) -> None:
        """The nodes in one transaction (the model's xenstore keeps no
        permissions); the simulated backend driver is ready at once and a
        running guest's frontend connects, as it does to devices at boot."""
        front, back, libxl = device_paths(domid, kind, devid, backend_kind)
        with self.store.transaction() as db:
            row = self._row(db, domid)
            for path in (front, back, libxl):
                self._xs_rm(db, path)
            frontend = {"backend": back, **frontend, **(read_only_frontend or {})}
            nodes = {**{f"{front}/{key}": value for key, value in frontend.items()},
                     **{f"{back}/{key}": value for key, value in {"frontend": front, **backend}.items()},
                     f"{libxl}/frontend": front, f"{libxl}/backend": back,
                     **{f"{libxl}/{key}": value for key, value in backend.items()}}
            db.executemany("INSERT OR REPLACE INTO xenstore VALUES (?, ?)", nodes.items())
            if row["booted"] and not row["paused"] and row["shutdown_reason"] is None:
                db.execute("UPDATE xenstore SET value = '4' WHERE path = ?", (f"{front}/state",))
                self._console(db, domid, f"guest: connected {kind}/{devid}")

    def remove_device(self, domid: int, kind: str, devid: int, force: bool = False) -> None:
        with self.store.transaction() as db:
            self._row(db, domid)
            front, back, libxl = device_paths(domid, kind, devid)
            for path in (front, self._xs(db, f"{libxl}/backend") or back, libxl):
                self._xs_rm(db, path)

    def xs_list(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        rows = self.store.db.execute("SELECT path FROM xenstore WHERE path >= ? AND path < ?",
                                     _subtree(path)).fetchall()
        return sorted({p[len(prefix):].split("/", 1)[0] for (p,) in rows})

    # -- console ---------------------------------------------------------------

    @staticmethod
    def _console(db, domid: int, line: str) -> None:
        db.execute("INSERT INTO console (domid, line) VALUES (?, ?)", (domid, line))

    def console_client(self, domid: int, kind: str, num: int, notify_fd: int | None = None) -> None:
        return None  # no guest runs, so no terminal: console() is the whole console

    def console(self, domid: int) -> str:
        rows = self.store.db.execute("SELECT line FROM console WHERE domid = ? ORDER BY id", (domid,)).fetchall()
        return "".join(f"{line}\n" for (line,) in rows)

    # -- what the guest does, checked as the hypervisor checked it ------------------

    def ioport_permission(self, domid: int, first: int, count: int, allow: bool) -> None:
        """xc_domain_ioport_permission: the `ioports=` grants."""
        path = f"/local/domain/{domid}/xlpy/ioports/{first:#06x}"
        if allow:
            self.xs_write(path, str(count))
        else:
            self.xs_rm(path)

    def guest_hypercall(self, domid: int, name: str) -> None:
        """Whether the guest may make hypercall `name` (the legacy PVH table)."""
        row = self._row(self.store.db, domid)
        if row["legacy_pvh"] and name not in LEGACY_PVH_HYPERCALLS:
            raise NotImplementedHypercall(f"d{domid}: hypercall {name} is not in the PVH table (-ENOSYS)", name)

    def guest_set_hvm_param(self, domid: int, param: int, value: int) -> None:
        """HVMOP_set_param from the guest."""
        row = self._row(self.store.db, domid)
        if not row["hvm"] and not row["legacy_pvh"]:
            raise InvalidArgument("HVMOP_set_param: not an HVM container", "hvm_op")
        if row["legacy_pvh"] and param != HVM_PARAM_CALLBACK_IRQ:
            raise InvalidArgument(f"PVH: only HVM_PARAM_CALLBACK_IRQ may be set (not param {param})", "hvm_op")
        self.xs_write(f"/local/domain/{domid}/xlpy/hvm-param/{param}", str(value))

    def guest_cpuid(self, domid: int, leaf: int, forced_emulation_prefix: bool = False) -> str:
        """Who answers a CPUID: legacy PVH guests get PV-flavoured leaves and
        no forced-emulation prefix (#UD, which is why xen-detect says HVM)."""
        row = self._row(self.store.db, domid)
        if row["legacy_pvh"]:
            if forced_emulation_prefix:
                raise InvalidArgument("#UD: PVH does not handle the forced-emulation prefix", "cpuid")
            return "pv"
        if row["hvm"]:
            return "hvm"
        return "pv" if forced_emulation_prefix else "native"

    def guest_port_io(self, domid: int, port: int) -> None:
        """Port IO: for legacy PVH it goes through the HVM IO path into the PV
        permission logic, so only ports granted with ioports= reach hardware."""
        row = self._row(self.store.db, domid)
        if row["hvm"] and not row["legacy_pvh"]:
            return  # emulated (or dropped) by the HVM IO path
        for first_hex in self.xs_list(f"/local/domain/{domid}/xlpy/ioports"):
            first = int(first_hex, 16)
            count = int(self.xs_read(f"/local/domain/{domid}/xlpy/ioports/{first_hex}") or 0)
            if first <= port < first + count:
                return
        raise PermissionDenied(f"d{domid}: port {port:#x} is not granted (ioports=)", "port_io")

    def add_reference(self, domid: int, holder: str) -> None:
        """A page reference held from outside the domain (e.g. a backend's mapping)."""
        with self.store.transaction() as db:
            db.execute("INSERT INTO refs VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET count = count + 1",
                       (domid, holder))

    def drop_reference(self, domid: int, holder: str) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM refs WHERE domid = ? AND holder = ?", (domid, holder))
            row = db.execute("SELECT dying FROM domains WHERE domid = ?", (domid,)).fetchone()
            left = db.execute("SELECT COUNT(*) FROM refs WHERE domid = ?", (domid,)).fetchone()[0]
            if row and row[0] and not left:
                self._forget(db, domid)
                self._log(db, f"d{domid}: last reference dropped, destroyed")
