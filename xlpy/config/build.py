"""From a parsed config to a DomainConfig: xl.cfg(5) as xl 4.17 applies it.

`build()` never raises for a bad config: every problem becomes a Diagnostic
at the setting's line and column (errors where xl refuses the file, warnings
where xl ignores or forgives), and the caller decides. The order of checks
follows xl's parse_config_data where that decides which error comes first.
"""

from __future__ import annotations

import difflib
import os
import re
import uuid as uuidlib

from xlpy.config import keys
from xlpy.config.rules import rule
from xlpy.config.specs import SpecError
from xlpy.config.values import ConfigFile, ConfigRangeError, ConfigValueError, ListValue
from xlpy.diagnostics import Diagnostic, Severity
from xlpy.domain.config import (
    MCA_CAP_LMCE, TIMER_MODE_NUMBERS, VIRIDIAN_BITMAP_WIDTH, VIRIDIAN_ENLIGHTENMENTS, Altp2mMode, BiosType,
    DeviceModelVersion, DomainConfig, DomainType, GfxPassthruKind, GicVersion, HdType, HvmInfo, Passthrough,
    PvhGeneration, PvhInfo, PvInfo, RdmStrategy, ShutdownAction, TeeType, TimerMode, TscMode, VendorDevice,
    VuartType,
)
from xlpy.domain.devices import DeviceDtdev, DeviceVfb, DeviceVkb, SdlInfo, VncInfo
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
#: The MMIO hole below 4 GiB may be 256 MiB to 3840 MiB (HVM_BELOW_4G_MMIO_LENGTH/START).
_MMIO_HOLE_BYTES = (0x10000000, 0xF0000000)
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


class _Builder:
    def __init__(self, cfg: ConfigFile, topology: Topology) -> None:
        self.cfg = cfg
        self.topology = topology
        self.dc = DomainConfig()
        self.diagnostics: list[Diagnostic] = list(cfg.notes)
        self.guest_type = "pv"

    # -- reporting -----------------------------------------------------------

    def report(self, code: str, key_or_pos, message: str, severity: Severity | None = None) -> None:
        if hasattr(key_or_pos, "line"):
            line, column = key_or_pos.line, key_or_pos.column
        elif isinstance(key_or_pos, str):
            try:
                s = self.cfg.last(key_or_pos)
                line, column = s.line, s.column
            except KeyError:
                line = column = None
        else:
            line = column = None
        self.diagnostics.append(Diagnostic(
            code, severity or rule(code).severity, message, self.cfg.filename, line, column,
        ))

    # -- typed reads: xl ignores a key it cannot read, with a warning ---------------

    def string(self, key: str) -> str | None:
        if key not in self.cfg:
            return None
        try:
            return self.cfg.get_string(key)
        except ConfigValueError as e:
            self.report("T106", key, f"{e.message}; xl ignores `{key}'")
            return None

    def number(self, key: str) -> int | None:
        if key not in self.cfg:
            return None
        try:
            return self.cfg.get_long(key)
        except ConfigRangeError as e:
            self.report("T110", key, f"{e.message}; xl ignores `{key}'", Severity.WARNING)
        except ConfigValueError as e:
            self.report("T104", key, f"{e.message}; xl ignores `{key}'")
        return None

    def flag(self, key: str) -> bool | None:
        value = self.number(key)
        return None if value is None else value != 0

    def named(self, key: str, choices, message: str = 'ERROR: invalid value "{}" for "{}"'):
        """A choice read by name: a libxl enum in any case (libxl's
        *_from_string), or a dict of the exact spellings xl compares with.
        An unknown name is reported with xl's `message` and gives None."""
        text = self.string(key)
        if text is None:
            return None
        if not isinstance(choices, dict):
            choices = {member.value: member for member in choices}
            text_key = text.lower()
        else:
            text_key = text
        if text_key in choices:
            return choices[text_key]
        self.report("T108", key, message.format(text, key))
        return None

    def named_or_number(self, key: str, enum, numbers: dict, deprecated: bool):
        """A libxl enum given by name or, in the older form, by number."""
        if key not in self.cfg:
            return None
        try:
            number = self.cfg.get_long(key)
        except (ConfigValueError, KeyError):
            return self.named(key, enum)
        if deprecated:
            hint = f'e.g. {key}="{numbers[number].value}"' if number in numbers else ""
            self.report("T109", key, f'specifying "{key}" as an integer is deprecated; use the named variant {hint}')
        if number not in numbers:
            self.report("T108", key, f'ERROR: invalid value {number} for "{key}"')
            return None
        return numbers[number]

    def items(self, key: str) -> list:
        """The string items of a device list, as xl reads them (stopping at a nested list)."""
        if key not in self.cfg:
            return []
        try:
            values = self.cfg.get_list(key)
        except ConfigValueError as e:
            self.report("T105", key, f"{e.message}; xl ignores `{key}'")
            return []
        out = []
        for item in values:
            if isinstance(item, ListValue):
                self.report("D104", item, f"a list inside `{key}': xl stops reading `{key}' here")
                break
            out.append(item)
        return out

    # -- the build -------------------------------------------------------------

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

    def vnuma(self) -> None:
        """vnuma=: the nodes, then xl's checks of their vCPUs and memory against
        maxvcpus=, the host's CPUs and maxmem= (each node's own settings first)."""
        from xlpy.config.specs.vnuma import parse_vnode

        if "vnuma" not in self.cfg:
            return
        value = self.cfg.value("vnuma")
        if not isinstance(value, ListValue) or not value:
            return
        b_info, topology = self.dc.b_info, self.topology
        bitmap_bits = -(-(b_info.max_vcpus or topology.nr_cpus) // 8) * 8
        nodes = []
        for item in value:
            try:
                node = parse_vnode(item, len(value), topology.nr_nodes, bitmap_bits)
            except SpecError as e:
                self.report("D112", item if hasattr(item, "line") else "vnuma", str(e))
                return
            for key in node.unknown:
                self.report("D113", item, f"vnuma: xl ignores `{key}'")
            nodes.append(node)
        vcpus = sum(node.vcpus_named for node in nodes)
        memkb = sum(node.info.memkb or 0 for node in nodes)
        if b_info.max_vcpus and b_info.max_vcpus != vcpus:
            self.report("X110", "vnuma", "xl: vnuma vcpus and maxvcpus= mismatch")
        elif not b_info.max_vcpus and vcpus > topology.nr_cpus:
            self.report("X110", "vnuma", "xl: vnuma specifies more vcpus than pcpus, "
                        "use maxvcpus= to override this check.")
        else:
            b_info.max_vcpus = vcpus
        if b_info.max_memkb is not None and b_info.max_memkb != memkb:
            self.report("X110", "vnuma", "xl: maxmem and vnuma memory size mismatch")
        else:
            b_info.max_memkb = memkb
        if any(node.pinned for node in nodes):
            b_info.numa_placement = False
        b_info.vnuma_nodes = [node.info for node in nodes]

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

    def platform(self) -> None:
        b_info = self.dc.b_info
        tsc_mode = self.named_or_number("tsc_mode", TscMode, dict(enumerate(TscMode)), deprecated=True)
        if tsc_mode is not None:
            b_info.tsc_mode = tsc_mode
        b_info.localtime = self.flag("localtime")
        offset = self.number("rtc_timeoffset")
        if offset is not None:
            b_info.rtc_timeoffset = offset & 0xFFFFFFFF
        b_info.disable_migrate = self.flag("nomigrate")
        for key, field_name in (("max_grant_frames", "max_grant_frames"), ("max_maptrack_frames", "max_maptrack_frames")):
            value = self.number(key)
            if value is not None:
                if not 0 <= value <= 2**31 - 1:
                    self.report("T110", key, f"`{key}' must be between 0 and {2**31 - 1}")
                else:
                    setattr(b_info, field_name, value)
        max_grant_version = self.number("max_grant_version")
        if max_grant_version is not None:
            if not 0 <= max_grant_version <= 2**31 - 1:
                self.report("T110", "max_grant_version", f"`max_grant_version' must be between 0 and {2**31 - 1}")
            else:
                b_info.max_grant_version = max_grant_version
        b_info.sched_params.weight = self.number("cpu_weight")
        b_info.sched_params.cap = self.number("cap")
        b_info.sched_params.period = self.number("period")
        if "timer_mode" in self.cfg and self.guest_type == "pv":
            self.report("T108", "timer_mode", 'ERROR: "timer_mode" option is not supported for PV guests.')
        else:
            b_info.timer_mode = self.named_or_number("timer_mode", TimerMode, TIMER_MODE_NUMBERS,
                                                     deprecated=True) or TimerMode.UNKNOWN
        b_info.nested_hvm = self.flag("nestedhvm")
        b_info.altp2m = self.named_or_number("altp2m", Altp2mMode, dict(enumerate(Altp2mMode)),
                                             deprecated=False) or Altp2mMode.DISABLED
        b_info.vmtrace_buf_kb = self.number("vmtrace_buf_kb") or 0
        b_info.vpmu = self.flag("vpmu")
        b_info.acpi = self.flag("acpi")
        b_info.arch_x86.msr_relaxed = self.flag("msr_relaxed")
        b_info.event_channels = self.number("max_event_channels") or 0
        b_info.device_tree = self.string("device_tree")
        for key, field_name in (("device_model_args", "extra"), ("device_model_args_pv", "extra_pv"),
                                ("device_model_args_hvm", "extra_hvm")):
            if key not in self.cfg:
                continue
            value = self.cfg.value(key)
            if not isinstance(value, ListValue) or any(isinstance(item, ListValue) for item in value):
                self.report("T116", key, f"xl: Unable to parse {key}.")
                continue
            setattr(b_info, field_name, [str(item) for item in value])
        self.cpuid()
        self.device_model()
        b_info.arch_arm.vuart = self.named("vuart", VuartType) or VuartType.UNKNOWN
        b_info.arch_arm.gic_version = self.named(
            "gic_version", GicVersion, 'Unknown gic_version "{}" specified') or GicVersion.DEFAULT
        tee = self.string("tee")
        if tee is not None:
            try:
                b_info.tee = TeeType(tee.lower())
            except ValueError:
                self.report("T115", "tee", f'Unknown tee "{tee}" specified')
        passthrough = self.string("passthrough")
        if passthrough is not None:
            try:
                self.dc.c_info.passthrough = Passthrough(passthrough.lower())
            except ValueError:
                self.report("T114", "passthrough", f"ERROR: unknown passthrough option '{passthrough}'")

    def cpuid(self) -> None:
        """cpuid=: a "host,flag=value,..." string or a list of xend-style lines.
        xl reports an item it cannot read and goes on without it."""
        from xlpy.config.specs.cpuid import FLAG_ERRORS, LINE_ERRORS, apply_flag, apply_xend_line
        from xlpy.domain.cpuid import CpuidPolicy

        if "cpuid" not in self.cfg:
            return
        policy = CpuidPolicy()
        if isinstance(self.cfg.value("cpuid"), ListValue):
            for item in self.items("cpuid"):
                error = apply_xend_line(policy, str(item))
                if error:
                    self.report("T118", item, f'while parsing CPUID line "{item}": error #{error}: '
                                f'{LINE_ERRORS.get(error, "unknown error")}; xl leaves it out')
        else:
            text = self.string("cpuid") or ""
            words = [word for word in text.split(",") if word]
            if words and words[0] != "host":
                self.report("T118", "cpuid", f'while parsing CPUID string "{text}": first word must be "host"; '
                            "xl ignores cpuid=")
                words = []
            for flag in words[1:]:
                error = apply_flag(policy, flag)
                if error:
                    self.report("T118", "cpuid", f'while parsing CPUID flag "{flag}": error #{error}: '
                                f'{FLAG_ERRORS.get(error, "unknown error")}; xl leaves it out')
        if policy.leaves or policy.msrs:
            self.dc.b_info.cpuid = policy

    def device_model(self) -> None:
        """Which device model runs, where, and as whom (read for every guest type, as xl does)."""
        b_info = self.dc.b_info
        b_info.device_model = self.string("device_model_override")
        if "device_model_version" in self.cfg:
            b_info.device_model_version = self.named(
                "device_model_version", {"qemu-xen-traditional": DeviceModelVersion.QEMU_XEN_TRADITIONAL,
                                         "qemu-xen": DeviceModelVersion.QEMU_XEN},
                'Unknown device_model_version "{}" specified') or DeviceModelVersion.UNKNOWN
        elif b_info.device_model:
            self.report("X107", "device_model_override", "device model override given without specific DM version")
        b_info.device_model_stubdomain = self.flag("device_model_stubdomain_override")
        b_info.device_model_ssid_label = self.string("device_model_stubdomain_seclabel")
        b_info.device_model_user = self.string("device_model_user")
        for key in ("stubdomain_kernel", "stubdomain_cmdline", "stubdomain_ramdisk"):
            setattr(b_info, key, self.string(key))
        memory = self.number("stubdomain_memory")
        if memory is not None:
            b_info.stubdomain_memkb = memory * 1024
        b_info.dm_restrict = self.flag("dm_restrict")

    def hvm(self) -> None:
        """The HVM guest's platform and display keys (read only for HVM, as xl does)."""
        u = self.dc.b_info.u
        if not isinstance(u, HvmInfo):
            return
        self.dc.b_info.apic = self.flag("apic")
        for key in ("pae", "acpi_s3", "acpi_s4", "acpi_laptop_slate", "nx", "viridian", "hpet", "vpt_align",
                    "nographic", "usb", "xen_platform_pci"):
            if key == "viridian" and "viridian" in self.cfg and isinstance(self.cfg.value("viridian"), ListValue):
                self.viridian_groups(u)
                continue
            setattr(u, key, self.flag(key))
        for key in ("acpi_firmware", "smbios_firmware", "keymap", "boot", "soundhw"):
            setattr(u, key, self.string(key))
        self.hvm_firmware(u)
        self.hvm_platform(u)
        if "serial" in self.cfg:
            value = self.cfg.value("serial")
            if isinstance(value, ListValue):
                u.serial_list = [str(v) for v in value if not isinstance(v, ListValue)]
            else:
                u.serial = str(value)
        if "usbdevice" in self.cfg:
            value = self.cfg.value("usbdevice")
            if isinstance(value, ListValue):
                u.usbdevice_list = [str(v) for v in value if not isinstance(v, ListValue)]
            else:
                u.usbdevice = self.string("usbdevice")
        stdvga = self.flag("stdvga")
        if stdvga is not None:
            u.vga.kind = "std" if stdvga else "cirrus"
        vga = self.named("vga", {"stdvga": "std", "cirrus": "cirrus", "none": "none", "qxl": "qxl"},
                         'Unknown vga "{}" specified')
        if vga is not None:
            u.vga.kind = vga
        u.hdtype = self.named("hdtype", HdType) or HdType.IDE
        self.top_level_display(u.vnc, u.sdl)
        if u.vnc.listen and u.vnc.display and ":" in u.vnc.listen:
            self.report("X109", "vncdisplay", "ERROR: Display specified both in vnclisten and vncdisplay!")
        if "gfx_passthru" in self.cfg:
            try:
                u.gfx_passthru = self.cfg.get_long("gfx_passthru") != 0
            except (ConfigValueError, KeyError):
                kind = self.named("gfx_passthru", GfxPassthruKind)
                if kind is not None:
                    u.gfx_passthru, u.gfx_passthru_kind = True, kind
        u.usbversion = self.number("usbversion") or 0
        u.vkb_device = self.flag("vkb_device")
        u.vendor_device = self.named("vendor_device", VendorDevice, "xl: unknown vendor_device '{}'") \
            or VendorDevice.NONE
        spice = u.spice
        spice.enable = self.flag("spice")
        spice.port = self.number("spiceport") or 0
        spice.tls_port = self.number("spicetls_port") or 0
        spice.host, spice.passwd = self.string("spicehost"), self.string("spicepasswd")
        spice.disable_ticketing = self.flag("spicedisable_ticketing")
        spice.agent_mouse, spice.vdagent = self.flag("spiceagent_mouse"), self.flag("spicevdagent")
        spice.clipboard_sharing = self.flag("spice_clipboard_sharing")
        spice.usbredirection = self.number("spiceusbredirection") or 0
        spice.image_compression = self.string("spice_image_compression")
        spice.streaming_video = self.string("spice_streaming_video")

    def hvm_firmware(self, u: HvmInfo) -> None:
        """firmware_override, bios_path_override, bios, and the shorthand
        firmware= (a bios name, "uefi", "bios", or a path), as xl reads them."""
        u.firmware = self.string("firmware_override")
        u.system_firmware = self.string("bios_path_override")
        if "bios" in self.cfg:
            u.bios = self.named("bios", BiosType) or BiosType.UNKNOWN
        elif u.system_firmware:
            self.report("X108", "bios_path_override", "bios_path_override given without specific bios name")
        firmware = self.string("firmware")
        if firmware is None:
            return
        if firmware.lower() in {member.value for member in BiosType}:
            u.bios = BiosType(firmware.lower())
        elif "uefi".startswith(firmware):
            u.bios = BiosType.OVMF
        elif not "bios".startswith(firmware):
            u.firmware = firmware  # a path to the guest's own firmware

    def hvm_platform(self, u: HvmInfo) -> None:
        """The HVM platform's memory layout and machine-check, altp2m and generation-ID features."""
        mmio_hole = self.number("mmio_hole")
        if mmio_hole is not None:
            low, high = _MMIO_HOLE_BYTES
            if low <= mmio_hole * 1024 * 1024 <= high:
                u.mmio_hole_memkb = mmio_hole * 1024
            else:
                self.report("T110", "mmio_hole", f'ERROR: invalid value {mmio_hole} for "mmio_hole"')
        if "altp2mhvm" in self.cfg:
            u.altp2m = self.flag("altp2mhvm")
            self.report("H103", "altp2mhvm", 'Specifying "altp2mhvm" is deprecated. Please use "altp2m" instead.')
        genid = self.named("ms_vm_genid", {"generate": "generate", "none": "none"},
                           'ERROR: "ms_vm_genid" option must be "generate" or "none"')
        if genid == "generate":
            u.ms_vm_genid = list(os.urandom(16))
        boundary = self.number("rdm_mem_boundary")
        if boundary is not None:
            u.rdm_mem_boundary_memkb = boundary * 1024
        if "mca_caps" in self.cfg:
            if not isinstance(self.cfg.value("mca_caps"), ListValue):
                self.report("T105", "mca_caps", "ERROR: unable to parse mca_caps.", Severity.ERROR)
            for item in self.items("mca_caps"):
                if str(item) == "lmce":
                    u.mca_caps |= MCA_CAP_LMCE
                else:
                    self.report("T108", item, f"ERROR: unrecognized MCA capability '{item}'.")

    def top_level_display(self, vnc: VncInfo, sdl: SdlInfo) -> None:
        """The top-level vnc* and sdl keys: an HVM guest's emulated display, or
        the framebuffer they give a PV guest that has no vfb=."""
        vnc.enable = self.flag("vnc")
        vnc.listen, vnc.passwd = self.string("vnclisten"), self.string("vncpasswd")
        vnc.display = self.number("vncdisplay") or 0
        vnc.findunused = self.flag("vncunused")
        sdl.enable, sdl.opengl = self.flag("sdl"), self.flag("opengl")
        sdl.display, sdl.xauthority = self.string("display"), self.string("xauthority")

    def viridian_groups(self, u: HvmInfo) -> None:
        """viridian=[...]: "all", "defaults", or enlightenment names, each
        negated with a leading "!"; a later entry overrides an earlier one."""
        for item in self.items("viridian"):
            name = str(item)
            if name == "all":
                u.viridian_enable |= set(range(VIRIDIAN_BITMAP_WIDTH))
            elif name == "defaults":
                u.viridian = True
            else:
                on, off = (u.viridian_disable, u.viridian_enable) if name.startswith("!") else \
                    (u.viridian_enable, u.viridian_disable)
                group = name.removeprefix("!").lower()
                if group not in VIRIDIAN_ENLIGHTENMENTS:
                    self.report("T113", item, f"xl: unknown viridian enlightenment '{name.removeprefix('!')}'")
                    continue
                bit = VIRIDIAN_ENLIGHTENMENTS.index(group)
                on.add(bit)
                off.discard(bit)

    def devices(self) -> None:
        from xlpy.config.specs.channel import parse_channel
        from xlpy.config.specs.disk import parse_disk
        from xlpy.config.specs.vif import parse_vif

        self.dc.disks = self.parse_items("disk", "D101", lambda text, _: parse_disk(text),
                                         "config parsing error in disk specification: {}")
        self.dc.nics = self.parse_items("vif", "D102", parse_vif)
        self.pci_devices()
        self.resources()
        self.dc.dtdevs = [DeviceDtdev(str(item)) for item in self.items("dtdev")]
        self.display_devices()
        self.backend_devices()
        self.usb_devices()
        self.dc.channels = self.parse_items("channel", "D103", parse_channel)

    def parse_items(self, key: str, code: str, parse, message: str = "{}") -> list:
        """Each item of the list `key` through parse(text, index); an item xl
        refuses becomes diagnostic `code` (its text put into `message`)."""
        parsed = []
        for index, item in enumerate(self.items(key)):
            try:
                parsed.append(parse(str(item), index))
            except SpecError as e:
                self.report(code, item, message.format(e))
        return parsed

    def display_devices(self) -> None:
        """vfb= (each with its vkb), a PV guest's top-level vnc=, then vkb=, in xl's order."""
        from xlpy.config.specs.display import parse_vfb, parse_vkb

        dc = self.dc
        for devid, item in enumerate(self.items("vfb")):
            dc.vfbs.append(parse_vfb(str(item), devid))
            dc.vkbs.append(DeviceVkb(devid=len(dc.vkbs)))
        if self.guest_type == "pv" and not dc.vfbs and self.number("vnc"):
            vfb = DeviceVfb(devid=0, keymap=self.string("keymap"))
            self.top_level_display(vfb.vnc, vfb.sdl)
            dc.vfbs.append(vfb)
            dc.vkbs.append(DeviceVkb(devid=len(dc.vkbs)))
        first = len(dc.vkbs)  # vkb= entries are numbered after the framebuffers' keyboards
        dc.vkbs += self.parse_items("vkb", "D108", lambda text, index: parse_vkb(text, first + index))

    def backend_devices(self) -> None:
        """vtpm=, p9= and pvcalls=, each entry's devid its place in the list."""
        from xlpy.config.specs.pvdevs import P9Reader, parse_pvcalls, parse_vtpm

        self.dc.vtpms = self.parse_items("vtpm", "D109", parse_vtpm)
        self.dc.p9s = self.parse_items("p9", "D109", P9Reader().parse)
        self.dc.pvcallsifs = self.parse_items("pvcalls", "D109", parse_pvcalls)
        self.media_devices()

    def media_devices(self) -> None:
        """vdispl= (one display per entry) and vsnd= (one card per list of entries)."""
        from xlpy.config.specs.media import VsndCard, parse_vdispl

        self.dc.vdispls = self.parse_items("vdispl", "D109", parse_vdispl)
        if "vsnd" not in self.cfg or not isinstance(self.cfg.value("vsnd"), ListValue):
            return
        for devid, card_entries in enumerate(self.cfg.value("vsnd")):
            if not isinstance(card_entries, ListValue):
                self.report("D109", card_entries, "Failed to get vsnd card list: Invalid argument")
                return
            card = VsndCard(devid)
            for entry in card_entries:
                if isinstance(entry, ListValue):
                    break  # xl reads a card's entries up to the first that is not a string
                try:
                    card.add(str(entry))
                except SpecError as e:
                    self.report("D109", entry, str(e))
                    return
            self.dc.vsnds.append(card.device)

    def usb_devices(self) -> None:
        from xlpy.config.specs.usb import parse_usbctrl, parse_usbdev

        self.dc.usbctrls = self.parse_items("usbctrl", "D110", parse_usbctrl)
        self.dc.usbdevs = self.parse_items("usbdev", "D110", lambda text, _: parse_usbdev(text))

    def resources(self) -> None:
        """ioports=, irqs= and iomem=: hardware handed to the guest."""
        from xlpy.config.specs.resources import parse_iomem, parse_ioport, parse_irq

        b_info = self.dc.b_info
        for item in self.items("ioports"):
            try:
                ports, complaint = parse_ioport(str(item))
            except SpecError as e:
                self.report("D106", item, str(e))
                continue
            if complaint:
                self.report("D107", item, complaint)
            b_info.ioports.append(ports)
        b_info.irqs = self.parse_items("irqs", "D106", lambda text, _: parse_irq(text))
        b_info.iomem = self.parse_items("iomem", "D106", lambda text, _: parse_iomem(text))

    def rdm(self) -> None:
        """rdm="strategy=host": reserve the host's reserved device memory in an HVM guest."""
        from xlpy.config.specs.pci import parse_rdm

        text = self.string("rdm")
        if text is None:
            return
        strategy, complaint = parse_rdm(text)
        if complaint:
            self.report("D111", "rdm", complaint)
        if strategy is not None and isinstance(self.dc.b_info.u, HvmInfo):
            self.dc.b_info.u.rdm.strategy = strategy

    def pci_devices(self) -> None:
        """pci= entries, with the pci_* keys as every entry's defaults (as xl applies them)."""
        from xlpy.config.specs.pci import RdmPolicy, parse_pci

        defaults = {key: self.flag(f"pci_{key}") for key in ("permissive", "msitranslate", "seize", "power_mgmt")}
        self.rdm()
        for item in self.items("pci"):
            try:
                pci = parse_pci(str(item))
            except SpecError as e:
                self.report("D105", item, f"failed to parse PCI device: {e}")
                continue
            for key, value in defaults.items():
                if value and f"{key}=" not in str(item):
                    setattr(pci, key, True)
            if self.guest_type == "pv" and pci.rdm_policy is RdmPolicy.INVALID:
                pci.rdm_policy = RdmPolicy.STRICT
            self.dc.pcidevs.append(pci)
        if self.dc.pcidevs and isinstance(self.dc.b_info.u, PvInfo):
            self.dc.b_info.u.e820_host = True  # xl forces it for PV passthrough

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
