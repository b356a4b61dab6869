"""An HVM guest's keys: firmware, emulated platform and display (xl reads them only for HVM)."""

from __future__ import annotations

import os

from xlpy.config.reader import KeyReader
from xlpy.config.values import ConfigValueError, ListValue
from xlpy.diagnostics import Severity
from xlpy.domain.config import (
    MCA_CAP_LMCE, VIRIDIAN_BITMAP_WIDTH, VIRIDIAN_ENLIGHTENMENTS, BiosType, GfxPassthruKind, HdType,
    HvmInfo, VendorDevice,
)
from xlpy.domain.devices import SdlInfo, VncInfo

#: The MMIO hole below 4 GiB may be 256 MiB to 3840 MiB (HVM_BELOW_4G_MMIO_LENGTH/START).
_MMIO_HOLE_BYTES = (0x10000000, 0xF0000000)


class HvmKeys(KeyReader):
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
