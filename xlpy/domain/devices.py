"""libxl device structs (libxl_device_disk, _nic, _channel), in IDL field order."""

from __future__ import annotations

from dataclasses import dataclass, field

from xlpy.domain.idl import Enum, Struct, always, defbool


class DiskSpecification(Enum):
    """Which protocol the guest speaks to the disk: Xen's PV block or virtio."""

    UNKNOWN = "unknown"
    XEN = "xen"
    VIRTIO = "virtio"


class DiskFormat(Enum):
    UNKNOWN = "unknown"
    QCOW = "qcow"
    QCOW2 = "qcow2"
    VHD = "vhd"
    RAW = "raw"
    EMPTY = "empty"
    QED = "qed"


class DiskBackend(Enum):
    UNKNOWN = "unknown"
    PHY = "phy"
    TAP = "tap"
    QDISK = "qdisk"
    STANDALONE = "standalone"


class NicType(Enum):
    UNKNOWN = "unknown"
    VIF_IOEMU = "vif_ioemu"
    VIF = "vif"


class ChannelConnection(Enum):
    UNKNOWN = "unknown"
    PTY = "pty"
    SOCKET = "socket"


@dataclass
class DeviceDisk(Struct):
    backend_domid: int = 0
    backend_domname: str | None = None
    pdev_path: str | None = None
    vdev: str | None = None
    backend: DiskBackend = DiskBackend.UNKNOWN
    format: DiskFormat = DiskFormat.UNKNOWN
    script: str | None = None
    removable: int = 0
    readwrite: int = 0
    is_cdrom: int = 0
    direct_io_safe: bool = False
    discard_enable: bool | None = defbool()
    specification: DiskSpecification = DiskSpecification.UNKNOWN
    colo_enable: bool | None = defbool()
    colo_restore_enable: bool | None = defbool()
    colo_host: str | None = None
    colo_port: int = 0
    colo_export: str | None = None
    active_disk: str | None = None
    hidden_disk: str | None = None
    trusted: bool | None = defbool()


@dataclass
class DeviceNic(Struct):
    backend_domid: int = 0
    backend_domname: str | None = None
    devid: int | None = always()
    mtu: int = 0
    model: str | None = None
    mac: str | None = None
    ip: str | None = None
    bridge: str | None = None
    ifname: str | None = None
    script: str | None = None
    nictype: NicType = NicType.UNKNOWN
    rate_bytes_per_interval: int = 0
    rate_interval_usecs: int = 0
    gatewaydev: str | None = None
    trusted: bool | None = defbool()


@dataclass
class ChannelSocket(Struct):
    path: str | None = None


@dataclass
class DeviceChannel(Struct):
    backend_domid: int = 0
    backend_domname: str | None = None
    devid: int | None = always()
    name: str | None = None
    connection: ChannelConnection = ChannelConnection.UNKNOWN
    socket: ChannelSocket = field(default_factory=ChannelSocket)

    def to_json_obj(self):
        # libxl prints the connection as a keyed union: "connection.pty": {}.
        obj = {k: v for k, v in super().to_json_obj().items() if k not in ("connection", "socket")}
        if self.connection is not ChannelConnection.UNKNOWN:
            variant = self.socket.to_json_obj() if self.connection is ChannelConnection.SOCKET else {}
            obj[f"connection.{self.connection.value}"] = variant
        return obj

    @classmethod
    def from_json_obj(cls, obj):
        obj = dict(obj)
        for key in [k for k in obj if k.startswith("connection.")]:
            variant = obj.pop(key)
            obj["connection"] = key.partition(".")[2]
            if variant:
                obj["socket"] = variant
        return super().from_json_obj(obj)


class RdmPolicy(Enum):
    INVALID = "invalid"
    STRICT = "strict"
    RELAXED = "relaxed"


@dataclass
class DevicePci(Struct):
    """libxl_device_pci, in IDL order."""

    func: int = 0
    dev: int = 0
    bus: int = 0
    domain: int = 0
    vdevfn: int = 0
    vfunc_mask: int = 0
    msitranslate: bool = False
    power_mgmt: bool = False
    permissive: bool = False
    seize: bool = False
    rdm_policy: RdmPolicy = RdmPolicy.INVALID
    name: str | None = None


@dataclass
class DeviceDtdev(Struct):
    """libxl_device_dtdev: a device-tree node passed through (Arm)."""

    path: str | None = None


@dataclass
class VncInfo(Struct):
    enable: bool | None = defbool()
    listen: str | None = None
    passwd: str | None = None
    display: int = 0
    findunused: bool | None = defbool()


@dataclass
class SdlInfo(Struct):
    enable: bool | None = defbool()
    opengl: bool | None = defbool()
    display: str | None = None
    xauthority: str | None = None


@dataclass
class DeviceVfb(Struct):
    """libxl_device_vfb: a PV framebuffer, shown by VNC or SDL."""

    backend_domname: str | None = None
    devid: int = always(0)
    vnc: VncInfo = field(default_factory=VncInfo)
    sdl: SdlInfo = field(default_factory=SdlInfo)
    keymap: str | None = None


class VkbBackend(Enum):
    UNKNOWN = "unknown"
    QEMU = "qemu"
    LINUX = "linux"


@dataclass
class DeviceVkb(Struct):
    """libxl_device_vkb: a PV keyboard and pointer."""

    backend_domname: str | None = None
    devid: int = always(0)
    backend_type: VkbBackend = VkbBackend.UNKNOWN
    unique_id: str | None = None
    feature_disable_keyboard: bool = False
    feature_disable_pointer: bool = False
    feature_abs_pointer: bool = False
    feature_raw_pointer: bool = False
    feature_multi_touch: bool = False
    width: int = 0
    height: int = 0
    multi_touch_width: int = 0
    multi_touch_height: int = 0
    multi_touch_num_contacts: int = 0


@dataclass
class DeviceVtpm(Struct):
    """libxl_device_vtpm: a virtual TPM served by a vTPM domain."""

    backend_domname: str | None = None
    devid: int = always(0)
    uuid: str | None = None


@dataclass
class DeviceP9(Struct):
    """libxl_device_p9: a 9pfs share (xl leaves its devid unset)."""

    backend_domname: str | None = None
    tag: str | None = None
    path: str | None = None
    security_model: str | None = None


@dataclass
class DevicePvcallsif(Struct):
    """libxl_device_pvcallsif: a PV calls (socket offload) interface."""

    backend_domname: str | None = None
    devid: int = always(0)


@dataclass
class ConnectorParam(Struct):
    unique_id: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class DeviceVdispl(Struct):
    """libxl_device_vdispl: a PV display whose connectors a backend draws."""

    backend_domname: str | None = None
    devid: int = always(0)
    be_alloc: bool = False
    connectors: list[ConnectorParam] = field(default_factory=list)


#: libxl_vsnd_pcm_format, by name.
PCM_FORMATS = (
    "s8", "u8", "s16_le", "s16_be", "u16_le", "u16_be", "s24_le", "s24_be", "u24_le", "u24_be", "s32_le",
    "s32_be", "u32_le", "u32_be", "f32_le", "f32_be", "f64_le", "f64_be", "iec958_subframe_le",
    "iec958_subframe_be", "mu_law", "a_law", "ima_adpcm", "mpeg", "gsm",
)


@dataclass
class VsndParams(Struct):
    sample_rates: list[int] = field(default_factory=list)
    sample_formats: list[str] = field(default_factory=list)
    channels_min: int = 0
    channels_max: int = 0
    buffer_size: int = 0


class VsndStreamType(Enum):
    UNSET = ""
    P = "p"  # playback
    C = "c"  # capture


@dataclass
class VsndStream(Struct):
    unique_id: str | None = None
    type: VsndStreamType = VsndStreamType.UNSET
    params: VsndParams = field(default_factory=VsndParams)


@dataclass
class VsndPcm(Struct):
    name: str | None = None
    params: VsndParams = field(default_factory=VsndParams)
    streams: list[VsndStream] = field(default_factory=list)


@dataclass
class DeviceVsnd(Struct):
    """libxl_device_vsnd: a PV sound card, its PCM devices and their streams."""

    backend_domname: str | None = None
    devid: int = always(0)
    short_name: str | None = None
    long_name: str | None = None
    params: VsndParams = field(default_factory=VsndParams)
    pcms: list[VsndPcm] = field(default_factory=list)


class UsbctrlType(Enum):
    AUTO = "auto"
    PV = "pv"
    DEVICEMODEL = "devicemodel"
    QUSB = "qusb"


@dataclass
class DeviceUsbctrl(Struct):
    """libxl_device_usbctrl: a USB controller devices are attached to."""

    type: UsbctrlType = UsbctrlType.AUTO
    devid: int = always(0)
    version: int = 0
    ports: int = 0
    backend_domname: str | None = None


@dataclass
class DeviceUsbdev(Struct):
    """libxl_device_usbdev. Its keyed union has one variant, hostdev; while
    the type is unset the union prints nothing, even if hostbus is set."""

    ctrl: int = -1
    port: int = 0
    hostdev: bool = False  # type=hostdev given
    hostbus: int = 0
    hostaddr: int = 0

    def to_json_obj(self):
        obj = super().to_json_obj()
        for key in ("hostdev", "hostbus", "hostaddr"):
            obj.pop(key, None)
        if self.hostdev:
            obj["type.hostdev"] = {key: value for key, value in
                                   (("hostbus", self.hostbus), ("hostaddr", self.hostaddr)) if value}
        return obj

    @classmethod
    def from_json_obj(cls, obj):
        obj = dict(obj)
        if "type.hostdev" in obj:
            obj.update(obj.pop("type.hostdev"), hostdev=True)
        return super().from_json_obj(obj)
