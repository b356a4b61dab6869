"""A PV device's xenstore nodes as libxl writes them (libxl_disk.c
device_disk_add, libxl_nic.c libxl__set_xenstore_nic): the backend's, which
the driver domain's backend driver and hotplug script read, and the
frontend's, which the guest reads.

Both sets start in XenbusStateInitialising; the backend driver, the hotplug
script and the guest's frontend take it from there.
"""

from __future__ import annotations

from xlpy.domain.config import DomainType
from xlpy.domain.devices import DeviceDisk, DeviceNic, DiskBackend, DiskFormat
from xlpy.domain.setdefault import DEFAULT_NIC_MTU

XEN_SCRIPT_DIR = "/etc/xen/scripts"  # libxl__xen_script_dir_path
XENBUS_STATE_INITIALISING = "1"
NATIVE_PROTOCOL = "x86_64-abi"  # xc_domain_get_native_protocol of a 64-bit PV guest


def disk_backend(disk: DeviceDisk) -> DiskBackend:
    """libxl__device_disk_set_backend's choice: the kernel's blkback (phy,
    behind the block script, which loops a file) for raw images and block
    devices; QEMU's qdisk for the formats only QEMU reads."""
    if disk.backend is not DiskBackend.UNKNOWN:
        return disk.backend
    return DiskBackend.PHY if disk.format in (DiskFormat.RAW, DiskFormat.UNKNOWN, DiskFormat.EMPTY) else DiskBackend.QDISK


def disk_nodes(domid: int, devid: int, disk: DeviceDisk,
               domain_type: DomainType) -> tuple[dict[str, str], dict[str, str]]:
    """(backend nodes, frontend nodes) of a vbd, in libxl's keys; the paths
    each records of the other are added where the device is written."""
    kind = disk_backend(disk)
    device_type = "cdrom" if disk.is_cdrom else "disk"
    backend = {}
    if kind is DiskBackend.QDISK:
        backend["params"] = f"{(disk.format or DiskFormat.RAW).value}:{disk.pdev_path or ''}"
    else:
        backend["params"] = disk.pdev_path or ""
        backend["script"] = _script_path(disk.script or "block")
    backend.update({
        "frontend-id": str(domid), "online": "1", "removable": str(int(bool(disk.removable))), "bootable": "1",
        "state": XENBUS_STATE_INITIALISING, "dev": disk.vdev or "", "type": kind.value,
        "mode": "w" if disk.readwrite else "r", "device-type": device_type,
        **({"direct-io-safe": "1"} if disk.direct_io_safe else {}),
        "discard-enable": "0" if disk.discard_enable is False else "1",
        "specification": "xen",
    })
    frontend = {"backend-id": str(disk.backend_domid), "state": XENBUS_STATE_INITIALISING,
                "virtual-device": str(devid), "device-type": device_type,
                "trusted": "0" if disk.trusted is False else "1"}
    if domain_type is DomainType.PV:  # for frontends older than Linux 2.6.26
        frontend["protocol"] = NATIVE_PROTOCOL
    return backend, frontend


def nic_nodes(domid: int, nic: DeviceNic) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(backend, frontend, read-only frontend) nodes of a vif whose defaults
    are set. The MTU the guest may read but not change is the last group;
    an empty hotplug-status holds netback back until the script has run."""
    backend = {"frontend-id": str(domid), "online": "1", "state": XENBUS_STATE_INITIALISING,
               "script": _script_path(nic.script or "")}
    optional = {"vifname": nic.ifname, "mac": nic.mac, "ip": nic.ip, "gatewaydev": nic.gatewaydev}
    backend.update({key: value for key, value in optional.items() if value is not None})
    if nic.rate_interval_usecs > 0:
        backend["rate"] = f"{nic.rate_bytes_per_interval},{nic.rate_interval_usecs}"
    if nic.mtu != DEFAULT_NIC_MTU:
        backend["mtu"] = str(nic.mtu)
    backend.update({"bridge": nic.bridge or "", "handle": str(nic.devid), "type": nic.nictype.value,
                    "hotplug-status": ""})
    frontend = {"backend-id": str(nic.backend_domid), "state": XENBUS_STATE_INITIALISING,
                "handle": str(nic.devid), "mac": nic.mac or "", "trusted": "1" if nic.trusted else "0"}
    return backend, frontend, {"mtu": str(nic.mtu)}


def nic_devname(domid: int, devid: int, emulated: bool = False) -> str:
    """libxl__device_nic_devname: netback's interface for the vif, or the tap
    QEMU opens for its emulated twin; the hotplug script renames either to
    the vif's vifname= when one is given."""
    return f"vif{domid}.{devid}" + ("-emu" if emulated else "")


def _script_path(script: str) -> str:
    """libxl__abs_path: a script named without a directory is Xen's own."""
    return script if script.startswith("/") else f"{XEN_SCRIPT_DIR}/{script}"


def disk_backend_kind(disk: DeviceDisk) -> str:
    """Where the backend's nodes go: backend/vbd for blkback, backend/qdisk for QEMU."""
    return "qdisk" if disk_backend(disk) is DiskBackend.QDISK else "vbd"


def unsupported_disks(disks: list[DeviceDisk]) -> str | None:
    """A PV or PVH guest's disk that needs QEMU's qdisk backend: libxl starts a
    QEMU for it; xlpy runs QEMU only as an HVM guest's device model."""
    for disk in disks:
        if disk_backend(disk) is DiskBackend.QDISK:
            why = "backendtype=qdisk" if disk.backend is DiskBackend.QDISK else f"format {disk.format.value}"
            return (f"disk {disk.vdev}: {why} needs QEMU's qdisk backend, which xlpy starts only for HVM "
                    f"guests (use a raw image or a block device)")
    return None


def driver_domain_device(disks: list[DeviceDisk], nics: list[DeviceNic]) -> tuple[str, str] | None:
    """(problem, config key) of a disk or vif that names a driver domain
    (backend=): libxl plugs it there, where `xl devd` runs its hotplug
    script; xlpy plugs devices into Domain-0 only, and plugging one there
    instead would put the guest on another network or storage than asked."""
    devices = [(f"disk {disk.vdev}", "disk", disk) for disk in disks] + \
        [(f"vif {nic.devid}", "vif", nic) for nic in nics]
    for label, key, device in devices:
        if device.backend_domname not in (None, "Domain-0"):
            return (f"{label}: backend={device.backend_domname}: devices served by a driver domain are not "
                    f"supported (xlpy plugs devices into Domain-0)", key)
    return None
