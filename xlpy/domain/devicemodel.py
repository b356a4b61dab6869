"""The device model of an HVM guest: QEMU (upstream, "qemu-xen") as libxl
starts it in dom0, with the arguments Xen 4.17's libxl builds from the config.

Pure: a DomainConfig and a domid in, an argument list out (without the
binary, which is the host's to know). libxl's defaults for HVM guests that
the config leaves unset are applied here too: a Cirrus card with 8 MiB of
video RAM taken from the guest's memory, VNC on 127.0.0.1, boot order "cda",
emulated NICs as rtl8139 on a tap device.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xlpy.domain.devices import ChannelConnection, DiskFormat, NicType
from xlpy.domain.layout import max_memory_kb
from xlpy.domain.vdev import disk_index, vdev_number
from xlpy.domain.xsdevice import nic_devname

if TYPE_CHECKING:  # the libxc backend reads RUN_DIR here without loading the config types
    from xlpy.domain.config import DomainConfig

RUN_DIR = "/var/run/xen"  # where libxl puts QEMU's QMP sockets
LIB_DIR = "/var/lib/xen"  # where libxl keeps QEMU's saved device state (XEN_LIB_DIR)
QEMU_FORMATS = {DiskFormat.RAW: "raw", DiskFormat.QCOW: "qcow", DiskFormat.QCOW2: "qcow2", DiskFormat.VHD: "vpc",
                DiskFormat.QED: "qed"}


def vga_kind(dc: DomainConfig) -> str:
    return dc.b_info.u.vga.kind or "cirrus"


def unsupported(dc: DomainConfig) -> str | None:
    """What in an HVM config xlpy does not honour yet (the device model's
    arguments, reserved device memory), or None."""
    b, u = dc.b_info, dc.b_info.u
    refused = [
        (b.device_model_stubdomain, "a stub domain for the device model (device_model_stubdomain_override=1)"),
        (b.device_model_version.value == "qemu_xen_traditional", "the traditional device model (qemu-xen-traditional)"),
        (b.device_model, "another device model binary (device_model_override)"),
        (b.dm_restrict or b.device_model_user, "a restricted device model (dm_restrict, device_model_user)"),
        (u.gfx_passthru, "graphics passthrough (gfx_passthru)"),
        (u.hdtype.value == "ahci", "AHCI disks (hdtype=\"ahci\")"),
        (u.mmio_hole_memkb, "a resized MMIO hole (mmio_hole)"),
        (dc.pcidevs, "PCI passthrough (pci=)"),
    ]
    for wanted, what in refused:
        if wanted:
            return f"{what} is not started by xlpy's device model yet"
    if u.spice.enable:
        return "SPICE displays (spice=1) are not started by xlpy's device model yet"
    if u.usb or u.usbdevice or u.usbdevice_list:
        return "emulated USB (usb=, usbdevice=) is not started by xlpy's device model yet"
    if u.serial and u.serial_list:
        return "both serial and serial_list are set"
    if u.rdm.strategy.value != "ignore":
        return "reserved device memory (rdm=\"strategy=host\") is not laid out by xlpy yet"
    for disk in dc.disks:
        index = disk_index(disk.vdev or "")
        if not disk.is_cdrom and not disk.readwrite and index is not None and index < 4 \
                and not (disk.vdev or "").startswith("sd"):
            return f"QEMU emulates no read-only IDE disk ({disk.vdev}); make it rw or a cdrom"
    return None


def qmp_socket(domid: int) -> str:
    return f"{RUN_DIR}/qmp-libxl-{domid}"


def xenstore_dir(domid: int) -> str:
    """The device model's own xenstore directory in dom0 (DEVICE_MODEL_XS_PATH)."""
    return f"/local/domain/0/device-model/{domid}"


def save_file(domid: int) -> str:
    """Where QEMU writes its device state on save (libxl__device_model_savefile)."""
    return f"{LIB_DIR}/qemu-save.{domid}"


def resume_file(domid: int) -> str:
    """Where a restore leaves the saved device state for QEMU to load
    (LIBXL_DEVICE_MODEL_RESTORE_FILE)."""
    return f"{LIB_DIR}/qemu-resume.{domid}"


def qemu_args(dc: DomainConfig, domid: int, saved_state_fd: int | None = None,
              monitor_fd: int | None = None) -> list[str]:
    """libxl__build_device_model_args_new for an HVM guest, in its order,
    from the config with libxl's defaults (xlpy.domain.setdefault.effective).
    On restore, `saved_state_fd` is the open file of the saved device state,
    which QEMU loads as an incoming migration before the guest runs.
    `monitor_fd`, a QMP socket already listening at qmp_socket (libxl's
    pre-opened one), is QEMU's control monitor; QEMU then starts stopped
    (-S: no emulation, no "running" in xenstore) until QMP's cont."""
    b, u = dc.b_info, dc.b_info.u
    monitor = f"fd={monitor_fd}" if monitor_fd is not None else f"path={qmp_socket(domid)}"
    args = ["-xen-domid", str(domid), "-no-shutdown", "-chardev", f"socket,id=libxl-cmd,{monitor},server=on,wait=off",
            *(["-S"] if monitor_fd is not None else []), "-mon", "chardev=libxl-cmd,mode=control",
            "-chardev", f"socket,id=libxenstat-cmd,path={RUN_DIR}/qmp-libxenstat-{domid},server=on,wait=off",
            "-mon", "chardev=libxenstat-cmd,mode=control"]
    for channel in dc.channels:
        if channel.connection is ChannelConnection.PTY:
            args += ["-chardev", f"pty,id=libxl-channel{channel.devid}"]
        elif channel.connection is ChannelConnection.SOCKET:
            args += ["-chardev", f"socket,id=libxl-channel{channel.devid},path={channel.socket.path},server=on,wait=off"]
    args += ["-nodefaults", "-no-user-config"]
    if dc.c_info.name:
        args += ["-name", dc.c_info.name]
    vnc = u.vnc.enable is not False
    args += ["-vnc", _vnc_address(u.vnc) if vnc else "none", "-display", "none"]
    if u.sdl.enable:
        args += ["-display", "sdl"]
    if u.keymap:
        args += ["-k", u.keymap]
    for flag, value in (("-kernel", b.kernel), ("-initrd", b.ramdisk), ("-append", b.cmdline)):
        if value:
            args += [flag, value]
    if any(not d.is_cdrom and (d.vdev or "").startswith("sd") for d in dc.disks):
        args += ["-device", "lsi53c895a"]
    for serial in ([u.serial] if u.serial else u.serial_list):
        args += ["-serial", serial]
    if u.nographic and not u.sdl.enable and not vnc:
        args.append("-nographic")
    video_mb = dc.b_info.video_memkb // 1024
    args += {"std": ["-device", f"VGA,vgamem_mb={video_mb}"],
             "cirrus": ["-device", f"cirrus-vga,vgamem_mb={video_mb}"],
             "qxl": ["-device", f"qxl-vga,vram_size_mb={video_mb // 2},ram_size_mb={video_mb // 2}"],
             "none": []}[vga_kind(dc)]
    args += ["-boot", f"order={u.boot or 'cda'}"]
    if u.soundhw:
        args += ["-device", "intel-hda", "-device", "hda-duplex"] if u.soundhw == "hda" else ["-device", u.soundhw]
    if b.acpi is False:
        args.append("-no-acpi")
    max_vcpus = b.max_vcpus or 1
    if max_vcpus > 1:
        args += ["-smp", f"{len(b.avail_vcpus)},maxcpus={max_vcpus}" if b.avail_vcpus else str(max_vcpus)]
    args += _nic_args(dc, domid)
    if saved_state_fd is not None:
        args += ["-incoming", f"fd:{saved_state_fd}"]
    args += b.extra
    machine = "xenfv" if u.xen_platform_pci is not False else "pc,accel=xen"
    args += ["-machine", f"{machine},suppress-vmdesc=on", *b.extra_hvm]
    ram_kb = max_memory_kb(b) - b.video_memkb
    args += ["-m", str(-(-ram_kb // 1024))]  # MiB, rounded up as libxl rounds
    args += _disk_args(dc)
    if u.vendor_device.value == "xenserver":  # the PCI device XenServer's Windows drivers look for
        args += ["-device", "xen-pvdevice,device-id=0xc000"]
    return args


def _vnc_address(vnc) -> str:
    if vnc.listen and ":" in vnc.listen:
        address = vnc.listen
    else:
        address = f"{vnc.listen or '127.0.0.1'}:{vnc.display}"
    if vnc.passwd:
        address += ",password=on"
    if vnc.findunused is not False:
        address += ",to=99"  # must come last: QEMU tries the next 99 displays
    return address


def _nic_args(dc: DomainConfig, domid: int) -> list[str]:
    """Emulated NICs (an HVM guest's default type) on tap devices QEMU
    creates; the vif's hotplug script, run again for the tap, bridges it
    (`br=` is for QEMU's bridge helper, which script=no leaves out)."""
    args = []
    for nic in dc.nics:
        if nic.nictype is not NicType.VIF_IOEMU:
            continue
        devid = nic.devid
        ifname = nic_devname(domid, devid, emulated=True)  # the hotplug script renames it to vifname=
        args += ["-device", f"{nic.model},id=nic{devid},netdev=net{devid},mac={nic.mac}",
                 "-netdev", f"type=tap,id=net{devid},ifname={ifname},br={nic.bridge},"
                            "script=no,downscript=no"]
    return args or ["-net", "none"]


def _disk_args(dc: DomainConfig) -> list[str]:
    """IDE disks hd[a-d] (and xvd[a-d]), SCSI sdX, IDE CD-ROMs, as QEMU sees them."""
    args = []
    for disk in dc.disks:
        index = disk_index(disk.vdev or "")
        if index is None:
            continue
        fmt = QEMU_FORMATS.get(disk.format, "raw")
        path = disk.pdev_path
        if disk.is_cdrom:
            if index > 4:
                continue
            drive_id = f"ide-{vdev_number(disk.vdev)}"  # libxl names it by the whole device number
            drive = f"if=none,readonly=on,id={drive_id}" + (f",file={path},format={fmt}" if path else "")
            args += ["-drive", drive, "-device", f"ide-cd,id={drive_id},drive={drive_id},bus=ide.{index // 2},"
                                                 f"unit={index % 2}"]
        elif disk.format is DiskFormat.EMPTY or not path:
            continue
        elif (disk.vdev or "").startswith("sd"):
            args += ["-drive", f"file={path},if=none,id=scsidisk-{index},format={fmt},cache=writeback",
                     "-device", f"scsi-hd,drive=scsidisk-{index},scsi-id={index}"]
        elif index < 4:
            args += ["-drive", f"file={path},if=ide,index={index},media=disk,format={fmt},cache=writeback"]
    return args
