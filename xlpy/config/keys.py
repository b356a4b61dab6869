"""Every top-level key of xl.cfg(5) in Xen 4.17, with the guest types it affects.

Scopes: `all` (every guest), `hvm`, `pv`, `pvh`, `pv+pvh`, `hvm+pvh`, `arm`,
`dm` (configures the device model: HVM only, and no effect for PV/PVH),
`deprecated` (read by xl only to warn, or ignored).
"""

from __future__ import annotations

_SCOPES = """
all: name uuid type builder pool vcpus maxvcpus cpus cpus_soft cpu_weight cap memory maxmem
all: vnuma on_poweroff on_reboot on_watchdog on_crash on_soft_reset seclabel init_seclabel
all: max_grant_frames max_maptrack_frames max_grant_version max_event_channels nomigrate
all: driver_domain passthrough xend_suspend_evtchn_compat vmtrace_buf_kb vpmu tsc_mode
all: localtime rtc_timeoffset cpuid msr_relaxed disk vif vtpm p9 pvcalls vfb vkb channel
all: pci pci_permissive pci_msitranslate pci_seize pci_power_mgmt rdm ioports irqs iomem
all: usbctrl usbdev vdispl vsnd kernel ramdisk cmdline root extra acpi altp2m
pv+pvh: bootloader bootloader_args firmware
hvm+pvh: hap oos shadow_memory nestedhvm timer_mode
pv: e820_host
pvh: pvshim pvshim_path pvshim_cmdline pvshim_extra
hvm: bios bios_path_override firmware_override pae acpi_s3 acpi_s4 acpi_laptop_slate nx hpet
hvm: vpt_align apic viridian mmio_hole smbios_firmware acpi_firmware ms_vm_genid
hvm: rdm_mem_boundary mca_caps altp2mhvm gfx_passthru vkb_device xen_platform_pci
hvm: vendor_device usbversion
dm: device_model_version device_model_override device_model_stubdomain_override
dm: device_model_stubdomain_seclabel device_model_user device_model_args device_model_args_pv
dm: device_model_args_hvm stubdomain_kernel stubdomain_cmdline stubdomain_ramdisk
dm: stubdomain_memory dm_restrict vga stdvga hdtype keymap spice spicehost spiceport
dm: spicetls_port spicedisable_ticketing spicepasswd spiceagent_mouse spicevdagent
dm: spice_clipboard_sharing spiceusbredirection spice_image_compression spice_streaming_video
dm: nographic serial boot usb usbdevice soundhw videoram vnc vncdisplay vnclisten vncpasswd
dm: vncunused sdl opengl display xauthority
arm: device_tree gic_version vuart tee dtdev
deprecated: device_model vncviewer vif2 pvh
"""

SCOPE: dict[str, str] = {}
for _line in _SCOPES.strip().splitlines():
    _scope, _, _keys = _line.partition(":")
    for _key in _keys.split():
        SCOPE[_key] = _scope

#: Keys that configure the display of a PV guest too (a vfb from vnc/sdl).
PV_DISPLAY_KEYS = {"vnc", "vncdisplay", "vnclisten", "vncpasswd", "vncunused", "sdl", "opengl",
                   "display", "xauthority", "keymap"}


def affects(key: str, guest_type: str) -> bool:
    """Whether `key` has any effect for a guest of `guest_type` (pv/pvh/hvm)."""
    scope = SCOPE.get(key)
    if scope in (None, "all", "deprecated", "arm"):
        return True
    if scope == "dm":
        return guest_type == "hvm" or (guest_type == "pv" and key in PV_DISPLAY_KEYS)
    return guest_type in scope.split("+")
