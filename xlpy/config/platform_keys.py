"""Keys that shape the platform of every guest type: clocks, grant tables,
scheduling, CPUID, the device model and its stub domain, virtual NUMA."""

from __future__ import annotations


from xlpy.config.reader import KeyReader
from xlpy.config.specs import SpecError
from xlpy.config.values import ListValue
from xlpy.domain.config import (
    TIMER_MODE_NUMBERS, Altp2mMode, DeviceModelVersion, GicVersion, Passthrough, TeeType,
    TimerMode, TscMode, VuartType,
)


class PlatformKeys(KeyReader):
    def platform(self) -> None:
        b_info = self.dc.b_info
        tsc_mode = self.named_or_number("tsc_mode", TscMode, {mode.number: mode for mode in TscMode}, deprecated=True)
        if tsc_mode is not None:
            b_info.tsc_mode = tsc_mode
        b_info.localtime = self.flag("localtime")
        offset = self.number("rtc_timeoffset")
        if offset is not None:
            b_info.rtc_timeoffset = offset & 0xFFFFFFFF
        b_info.disable_migrate = self.flag("nomigrate")
        for key in ("max_grant_frames", "max_maptrack_frames", "max_grant_version"):  # bounded as xl bounds them
            value = self.number(key)
            if value is not None:
                if not 0 <= value <= 2**31 - 1:
                    self.report("T110", key, f"`{key}' must be between 0 and {2**31 - 1}")
                else:
                    setattr(b_info, key, value)
        b_info.sched_params.weight = self.number("cpu_weight")
        b_info.sched_params.cap = self.number("cap")
        b_info.sched_params.period = self.number("period")
        if "timer_mode" in self.cfg and self.guest_type == "pv":
            self.report("T108", "timer_mode", 'ERROR: "timer_mode" option is not supported for PV guests.')
        else:
            b_info.timer_mode = self.named_or_number("timer_mode", TimerMode, TIMER_MODE_NUMBERS,
                                                     deprecated=True) or TimerMode.UNKNOWN
        b_info.nested_hvm = self.flag("nestedhvm")
        b_info.altp2m = self.named_or_number("altp2m", Altp2mMode, {mode.number: mode for mode in Altp2mMode},
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
        b_info.tee = self.named("tee", TeeType, 'Unknown tee "{}" specified', code="T115") or TeeType.NONE
        self.dc.c_info.passthrough = self.named(
            "passthrough", Passthrough, "ERROR: unknown passthrough option '{}'", code="T114") or Passthrough.DEFAULT

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
