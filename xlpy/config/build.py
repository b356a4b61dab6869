"""From a parsed config to a DomainConfig: xl.cfg(5) as xl 4.17 applies it.

`build()` never raises for a bad config: every problem becomes a Diagnostic
at the setting's line and column (errors where xl refuses the file, warnings
where xl ignores or forgives), and the caller decides. The order of checks
follows xl's parse_config_data where that decides which error comes first.
"""

from __future__ import annotations

import difflib
import re
import uuid as uuidlib

from xlpy.config import keys
from xlpy.config.device_keys import DeviceKeys
from xlpy.config.hvm_keys import HvmKeys
from xlpy.config.platform_keys import PlatformKeys
from xlpy.config.specs import SpecError
from xlpy.config.values import ConfigFile, ListValue
from xlpy.diagnostics import Diagnostic, Severity
from xlpy.domain.config import (
    DomainConfig, DomainType, HvmInfo, PvhGeneration, PvhInfo, PvInfo,
    ShutdownAction, TscMode,
)
from xlpy.domain.host import Topology

_ACTIONS = {
    "destroy": ShutdownAction.DESTROY,
    "restart": ShutdownAction.RESTART,
    "rename-restart": ShutdownAction.RESTART_RENAME,
    "preserve": ShutdownAction.PRESERVE,
    "coredump-destroy": ShutdownAction.COREDUMP_DESTROY,
    "coredump-restart": ShutdownAction.COREDUMP_RESTART,
    "soft-reset": ShutdownAction.SOFT_RESET,
}
_ACTION_DEFAULTS = {
    "on_poweroff": ShutdownAction.DESTROY,
    "on_reboot": ShutdownAction.RESTART,
    "on_watchdog": ShutdownAction.DESTROY,
    "on_crash": ShutdownAction.DESTROY,
    "on_soft_reset": ShutdownAction.SOFT_RESET,
}
#: Where xl 4.17 as Debian builds it finds pvgrub for `firmware="pvgrub64"` (XENFIRMWAREDIR).
XEN_FIRMWARE_DIR = "/usr/lib/xen-4.17/boot"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")

#: Keys whose effect xlpy models; other known keys are accepted with a note.
MODELLED = {
    "name", "uuid", "type", "builder", "pvh", "hap", "oos", "vcpus", "maxvcpus", "cpus", "cpus_soft",
    "memory", "maxmem", "kernel", "ramdisk", "cmdline", "root", "extra", "bootloader", "firmware",
    "on_poweroff", "on_reboot", "on_watchdog", "on_crash", "on_soft_reset", "tsc_mode",
    "localtime", "rtc_timeoffset", "nomigrate", "max_grant_frames", "max_maptrack_frames",
    "cpu_weight", "cap", "period", "pvshim", "pvshim_path", "pvshim_cmdline", "pvshim_extra",
    "disk", "vif", "channel", "shadow_memory", "nestedhvm", "vpmu", "driver_domain", "pool",
    "seclabel", "acpi", "msr_relaxed", "xend_suspend_evtchn_compat", "bootloader_args", "e820_host",
    "videoram", "apic", "pae", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "nx", "hpet", "vpt_align",
    "nographic", "usb", "xen_platform_pci", "bios", "acpi_firmware", "smbios_firmware", "keymap", "boot",
    "soundhw", "serial", "usbdevice", "stdvga", "vnc", "vnclisten", "vncpasswd", "vncdisplay", "vncunused",
    "sdl", "opengl", "display", "xauthority", "rtc_timeoffset", "pci", "pci_permissive", "pci_msitranslate",
    "pci_seize", "pci_power_mgmt", "ioports", "irqs", "iomem", "max_event_channels", "viridian", "passthrough",
    "device_tree", "dtdev", "tee", "vfb", "vkb", "device_model_args", "device_model_args_pv",
    "device_model_args_hvm", "spice", "spiceport", "spicetls_port", "spicehost", "spicedisable_ticketing",
    "spicepasswd", "spiceagent_mouse", "spicevdagent", "spice_clipboard_sharing", "spiceusbredirection",
    "spice_image_compression", "spice_streaming_video", "vtpm", "p9", "pvcalls",
    "usbctrl", "usbdev", "altp2m", "altp2mhvm", "bios_path_override", "firmware_override", "device_model_override",
    "device_model_stubdomain_override", "device_model_stubdomain_seclabel", "device_model_user",
    "device_model_version", "dm_restrict", "gfx_passthru", "gic_version", "hdtype", "init_seclabel",
    "max_grant_version", "mca_caps", "mmio_hole", "ms_vm_genid", "rdm", "rdm_mem_boundary", "stubdomain_cmdline",
    "stubdomain_kernel", "stubdomain_memory", "stubdomain_ramdisk", "timer_mode", "usbversion", "vendor_device",
    "vga", "vkb_device", "vmtrace_buf_kb", "vuart", "cpuid", "vnuma", "vdispl", "vsnd",
}


def build(cfg: ConfigFile, topology: Topology | None = None) -> tuple[DomainConfig, list[Diagnostic]]:
    """The DomainConfig xl would create from `cfg`, and every finding on the way."""
    builder = _Builder(cfg, topology or Topology())
    builder.run()
    return builder.dc, builder.diagnostics


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)


class _Builder(PlatformKeys, HvmKeys, DeviceKeys):
    """The whole build, in xl's order; each part reads its own keys."""

    def run(self) -> None:
        self.guest_kind()
        self.identity()
        self.vcpus_and_memory()
        self.boot()
        self.actions()
        self.platform()
        self.hvm()
        self.devices()
        self.key_hygiene()
        self.pvh_rules()

    def guest_kind(self) -> None:
        c_info, b_info = self.dc.c_info, self.dc.b_info
        kind = None
        type_value = self.string("type")
        if type_value is not None:
            # xl matches `type` as a prefix of hvm, then pv, then pvh.
            for candidate in ("hvm", "pv", "pvh"):
                if candidate.startswith(type_value):
                    kind = candidate
                    break
            else:
                self.report("T101", "type", f"Invalid domain type {type_value}.")
        builder_value = self.string("builder")
        if builder_value is not None:
            self.report("H103", "builder", 'builder= is deprecated since Xen 4.10; write type= instead')
            if "hvm".startswith(builder_value):
                builder_kind = "hvm"
            elif "generic".startswith(builder_value):
                builder_kind = "pv"
            else:
                builder_kind = None
                self.report("T101", "builder", f"Invalid domain type {builder_value}.")
            if kind is not None and builder_kind is not None and kind != builder_kind:
                self.report("X101", "builder", 'Contradicting "builder" and "type" options specified.')
            kind = kind or builder_kind

        legacy_pvh = self.flag("pvh") if "pvh" in self.cfg else None
        if legacy_pvh:
            if kind == "pvh":
                self.report("P108", "pvh", 'pvh=1 beside type="pvh" changes nothing; remove it')
            elif kind == "hvm":
                self.report("P107", "pvh", "pvh=1 with an HVM guest: PVH and HVM are exclusive")
            else:
                self.report(
                    "P101", "pvh",
                    'pvh=1 is the original PVH design (Xen 4.4-4.8); xl 4.17 ignores it and boots '
                    'a PV guest, xlpy boots legacy PVH; write type="pvh" for modern PVH',
                )
                self.dc.pvh_generation = PvhGeneration.LEGACY
                c_info.pvh = True
        kind = kind or "pv"
        self.guest_type = "pvh" if self.dc.is_legacy_pvh else kind
        if kind == "pvh":
            self.dc.pvh_generation = PvhGeneration.MODERN
        c_info.type = DomainType(kind)
        b_info.u = {"hvm": HvmInfo, "pv": PvInfo, "pvh": PvhInfo}[kind]()
        c_info.hap = self.flag("hap")
        c_info.oos = self.flag("oos")

    def identity(self) -> None:
        c_info = self.dc.c_info
        if "name" not in self.cfg:
            self.report("T102", None, "Domain name must be specified.")
        else:
            name = self.string("name")
            if name is None:
                self.report("T102", "name", "Domain name must be specified.")
            c_info.name = name
        text = self.string("uuid")
        if text is None:
            c_info.uuid = str(uuidlib.uuid4())
        elif not _UUID.match(text):
            self.report("T103", "uuid", f"Failed to parse UUID: {text}")
        elif text.strip("-0") != "":
            c_info.uuid = text.lower()
        c_info.run_hotplug_scripts = True
        c_info.pool_name = self.string("pool")
        # With init_seclabel the domain is built under that label and moves to
        # seclabel once built; without it seclabel is the only label.
        c_info.ssid_label = self.string("init_seclabel")
        if c_info.ssid_label is not None:
            self.dc.b_info.exec_ssid_label = self.string("seclabel")
        else:
            c_info.ssid_label = self.string("seclabel")
        c_info.driver_domain = self.flag("driver_domain")
        c_info.xend_suspend_evtchn_compat = self.flag("xend_suspend_evtchn_compat")

    def vcpus_and_memory(self) -> None:
        b_info = self.dc.b_info
        vcpus = self.number("vcpus")
        maxvcpus = self.number("maxvcpus")
        if vcpus is not None:
            b_info.avail_vcpus = set(range(vcpus))
        b_info.max_vcpus = maxvcpus or 0
        memory = self.number("memory")
        maxmem = self.number("maxmem")
        if memory is not None:
            b_info.target_memkb = memory * 1024
        if maxmem is not None:
            b_info.max_memkb = maxmem * 1024
            if memory is not None and memory > maxmem:
                self.report("X103", "memory", f"memory ({memory} MiB) is larger than maxmem ({maxmem} MiB)")
        self.vnuma()
        # Unless maxmem=, maxvcpus= or vnuma= said otherwise, the guest can grow to what it starts with.
        if b_info.max_memkb is None:
            b_info.max_memkb = b_info.target_memkb
        if b_info.max_vcpus == 0:
            b_info.max_vcpus = vcpus or 0
        if vcpus is not None and b_info.max_vcpus < vcpus:
            self.report("X102", "maxvcpus" if maxvcpus is not None else "vnuma", "xl: maxvcpus < vcpus")
        for key, target in (("cpus", b_info.vcpu_hard_affinity), ("cpus_soft", b_info.vcpu_soft_affinity)):
            self.affinity(key, target)

        shadow = self.number("shadow_memory")
        if shadow is not None:
            b_info.shadow_memkb = shadow * 1024
        videoram = self.number("videoram")
        if videoram is not None:
            b_info.video_memkb = videoram * 1024
        b_info.claim_mode = True

    def affinity(self, key: str, target: list) -> None:
        from xlpy.config.specs.cpus import parse_cpu_list

        if key not in self.cfg:
            return
        b_info = self.dc.b_info
        value = self.cfg.value(key)
        try:
            if isinstance(value, ListValue):
                maps = []
                for item in value[: b_info.max_vcpus]:
                    if isinstance(item, ListValue):
                        raise SpecError(f"a nested list in `{key}' (xl crashes on it)")
                    maps.append(sorted(parse_cpu_list(item, self.topology)))
                b_info.numa_placement = False
            else:
                cpus = sorted(parse_cpu_list(value, self.topology))
                maps = [cpus for _ in range(b_info.max_vcpus)]
                if key == "cpus_soft":
                    b_info.numa_placement = False
        except SpecError as e:
            self.report("T111", key, str(e))
            return
        target.extend(maps)

    def boot(self) -> None:
        b_info = self.dc.b_info
        b_info.kernel = self.string("kernel")
        if self.guest_type == "hvm" and b_info.kernel and b_info.kernel.rsplit("/", 1)[-1] == "hvmloader":
            self.report("H103", "kernel", "kernel= naming hvmloader is ignored by xl for HVM guests; remove it")
            b_info.kernel = None
        b_info.ramdisk = self.string("ramdisk")
        b_info.bootloader = self.string("bootloader")
        firmware = self.string("firmware")
        cmdline = self.string("cmdline")
        root, extra = self.string("root"), self.string("extra")
        if cmdline is not None:
            if root is not None or extra is not None:
                self.report("X105", "cmdline", "Warning: ignoring root= and extra= in favour of cmdline=")
            b_info.cmdline = cmdline
        elif root is not None:
            b_info.cmdline = f"root={root} {extra}" if extra is not None else f"root={root}"
        elif extra is not None:
            b_info.cmdline = extra
        if "bootloader_args" in self.cfg:
            value = self.cfg.value("bootloader_args")
            b_info.bootloader_args = [str(v) for v in value] if isinstance(value, ListValue) else str(value).split()
        if self.guest_type in ("pv", "pvh"):
            if b_info.kernel and firmware:
                self.report("X106", "firmware", "ERROR: both kernel and firmware specified")
            elif firmware is not None:
                if "pvgrub32".startswith(firmware) or "pvgrub64".startswith(firmware):
                    b_info.kernel = f"{XEN_FIRMWARE_DIR}/{firmware}.bin"
                else:
                    self.report("T108", "firmware", "ERROR: only pvgrub{32|64} supported as firmware options")
            if not (b_info.kernel or b_info.bootloader or firmware):
                self.report("X104", None, "Neither kernel nor bootloader specified")
        if self.guest_type == "pvh" and isinstance(self.dc.b_info.u, PvhInfo):
            u = self.dc.b_info.u
            u.pvshim = self.flag("pvshim")
            u.pvshim_path = self.string("pvshim_path")
            u.pvshim_cmdline = self.string("pvshim_cmdline")
            u.pvshim_extra = self.string("pvshim_extra")
        if isinstance(b_info.u, PvInfo):
            b_info.u.e820_host = self.flag("e820_host")

    def actions(self) -> None:
        for key, default in _ACTION_DEFAULTS.items():
            text = self.string(key)
            action = default
            if text is not None:
                action = _ACTIONS.get(text)
                if action is None:
                    self.report("T107", key, f'Unknown {key} action "{text}" specified')
                    action = default
            setattr(self.dc, key, action)

    def key_hygiene(self) -> None:
        seen: set[str] = set()
        for setting in self.cfg.settings:
            key = setting.name
            if key in seen:
                continue
            seen.add(key)
            scope = keys.SCOPE.get(key)
            if scope is None:
                guess = difflib.get_close_matches(key, keys.SCOPE, n=1, cutoff=0.75)
                hint = f"; did you mean `{guess[0]}'?" if guess else " (xl ignores it)"
                self.report("H101", key, f"unknown key `{key}'{hint}")
                continue
            if key in ("device_model", "vncviewer", "vif2"):
                self.report("H103", key, f"`{key}' is ignored by xl 4.17")
            elif scope == "dm" and self.guest_type == "pvh":
                self.report("P106", key, f"`{key}' configures a device model, and PVH guests have none")
            elif not keys.affects(key, self.guest_type) and key != "pvh":
                self.report("H102", key, f"`{key}' has no effect for a {self.guest_type.upper()} guest")
            elif key not in MODELLED and scope != "deprecated":
                self.report("H105", key, f"`{key}' is accepted but not modelled by xlpy yet")

    def pvh_rules(self) -> None:
        """The original PVH design's rules that can be seen in the config."""
        if not self.dc.is_legacy_pvh:
            return
        if self.dc.c_info.hap is False:
            self.report("P102", "hap", "PVH guest must have HAP on: legacy PVH runs in an HVM container (remove hap=0)")
        if self.dc.b_info.shadow_memkb:
            self.report("P103", "shadow_memory", "legacy PVH guests cannot use shadow paging")
        if self.dc.b_info.nested_hvm:
            self.report("P104", "nestedhvm", "legacy PVH guests cannot run nested HVM")
        if self.dc.b_info.tsc_mode not in (TscMode.DEFAULT, TscMode.NATIVE):
            self.report("P105", "tsc_mode",
                        f"Xen forced legacy PVH guests to tsc_mode=native; `{self.dc.b_info.tsc_mode.value}' is overridden")
