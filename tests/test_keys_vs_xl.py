"""Keys read by hand-written parsers in xl (resources, viridian groups,
passthrough, the Arm device-tree keys, framebuffers and keyboards, device
model arguments, vtpm, p9, pvcalls and USB devices) against the real xl: the same domain JSON for what xl
accepts, a refusal for what it refuses. xl reads numbers in these with C's
strtoul, sscanf and atoi, and xlpy follows them there."""

from __future__ import annotations

import re

import pytest

from conftest import run_xlpy

UUID = re.compile(r'"uuid": "[0-9a-f-]{36}"')
CASES = [
    'ioports = [ "3f8-3ff", "2f8", "0x60-0x64" ]',
    'ioports = [ "2f8 " ]',  # xl complains about the blank, then grants the port
    'ioports = [ "3ff-3f8" ]',
    'ioports = [ "zz" ]',
    'ioports = [ "ffffffff" ]',
    'irqs = [ 7, "31", " 9" ]',
    'irqs = [ "0x1f" ]',
    'irqs = [ "-1" ]',
    'iomem = [ "fe000,2", "fd000,1@fe000", " 0xa, 3" ]',
    'iomem = [ "fe000" ]',
    'iomem = [ "fe000,2@" ]',
    'iomem = [ "fe000,2 " ]',
    'viridian = [ "base", "freq", "!time_ref_count" ]',
    'viridian = [ "all", "!stimer" ]',
    'viridian = [ "defaults", "!base", "BASE" ]',
    'viridian = [ "nope" ]',
    'viridian = 1',
    'passthrough = "Sync_PT"',
    'passthrough = "sideways"',
    'max_event_channels = 4095',
    'device_tree = "/boot/guest.dtb"\ndtdev = [ "/soc/ethernet@ff0e0000", "/soc/i2c" ]\ntee = "OPTEE"',
    'tee = "none"',
    'tee = "ffa"',  # FF-A arrived after 4.17
    'device_model_args = [ "-a", "-b" ]\ndevice_model_args_hvm = [ "-c" ]',
    'device_model_args = "-a"',
    'spice = 1\nspiceport = 6000\nspicetls_port = 6001\nspicehost = "0.0.0.0"\nspicedisable_ticketing = 1\n'
    'spicepasswd = "pw"\nspiceagent_mouse = 0\nspicevdagent = 1\nspice_clipboard_sharing = 1\n'
    'spiceusbredirection = 4\nspice_image_compression = "auto_glz"\nspice_streaming_video = "filter"',
    'usbctrl = [ "type=DeviceModel,version=2,ports=4", "version=3" ]\n'
    'usbdev = [ "hostbus=2, hostaddr=0x1,controller=0,port=1", "type=hostdev,hostbus=3" ]',
    'usbctrl = [ "type=ehci" ]',
    'usbctrl = [ "speed=fast" ]',
    'usbdev = [ "type=hostdev,vendor=1" ]',
    'usbdev = [ "type=pci" ]',
]
PV_CASES = [
    'vfb = [ "vnc=1,vnclisten=0.0.0.0,vncdisplay=3,vncunused=0,vncpasswd=pw,keymap=de,sdl=0,display=:0" ]',
    'vfb = [ "vnc=yes, sdl=1,opengl=1,xauthority=/x", ",,keymap=en-us,junk,vnc=1" ]',
    'vfb = [ "vnc=1" ]\nvkb = [ "backend-type=linux,feature-disable-keyboard=1,width=800,height=0x258" ]',
    'vnc = 1\nvnclisten = "0.0.0.0"\nkeymap = "fr"\nvkb = [ "backend-type=QEMU,unique-id=K1" ]',
    'vkb = [ "multi-touch-width=10,backend-type=linux" ]',
    'vkb = [ "feature-multi-touch=1,backend-type=linux" ]',
    'vkb = [ "width=800" ]',
    'vkb = [ "backend-type=linux,colour=blue" ]',
    'vkb = [ "backend-type=wayland" ]',
    'device_model_args_pv = [ "-d" ]',
    'vtpm = [ "backend=vtpmd,uuid=B8F1C6A2-1A2B-4C3D-9E8F-0123456789AB", " backend=other" ]',
    'vtpm = [ "uuid=b8f1c6a2-1a2b-4c3d-9e8f-0123456789ab" ]',
    'vtpm = [ "backend=v,uuid=not-a-uuid" ]',
    'vtpm = [ "backend=v,colour=blue" ]',
    # xl carries p9 values from one entry to the next: the second share inherits backend=dom0.
    'p9 = [ "tag=share, security_model=none,path=/srv,backend=dom0", "path=/x,tag=t2,security_model=mapped" ]',
    'p9 = [ "tag=share,path=/srv" ]',
    'p9 = [ "tag=share,path=/srv,security_model=none,mode=ro" ]',
    'pvcalls = [ "backend=dom0", "" ]',
    'pvcalls = [ "frontend=1" ]',
    'timer_mode = "delay_for_missed_ticks"',  # refused for PV
    'init_seclabel = "system_u:system_r:domU_t"\nseclabel = "system_u:system_r:domU_t2"',
    'device_model_override = "/usr/bin/qemu"\ndevice_model_user = "qemu"\ndm_restrict = 1',
    'altp2m = "external"\nvmtrace_buf_kb = 256\nmax_grant_version = 1\nvuart = "sbsa_uart"\ngic_version = "v2"',
]
# Platform, firmware and device-model keys of an HVM guest.
HVM_PLATFORM_CASES = [
    'hdtype = "AHCI"', 'hdtype = "scsi"',
    'vendor_device = "xenserver"', 'vendor_device = "citrix"',
    'gic_version = "V3"', 'gic_version = "v4"',
    'vuart = "SBSA_UART"', 'vuart = "pl011"',
    'timer_mode = "one_missed_tick_pending"', 'timer_mode = 2', 'timer_mode = 7', 'timer_mode = "fast"',
    'altp2m = 2', 'altp2m = "Limited"', 'altp2m = 4', 'altp2m = "on"', 'altp2mhvm = 1',
    'tsc_mode = "NATIVE"', 'tsc_mode = 1',
    'device_model_version = "qemu-xen-traditional"\ndevice_model_override = "/usr/bin/qemu-dm"',
    'device_model_version = "QEMU-xen"', 'device_model_override = "/q"',
    'device_model_stubdomain_override = 1\ndevice_model_stubdomain_seclabel = "a:b:c"\n'
    'stubdomain_kernel = "/k"\nstubdomain_cmdline = "c"\nstubdomain_ramdisk = "/r"\nstubdomain_memory = 64',
    'gfx_passthru = 1', 'gfx_passthru = 0', 'gfx_passthru = "default"', 'gfx_passthru = "IGD"',
    'gfx_passthru = "nvidia"',
    'mca_caps = [ "lmce" ]', 'mca_caps = [ "cmci" ]', 'mca_caps = "lmce"',
    'mmio_hole = 256', 'mmio_hole = 3840', 'mmio_hole = 255', 'mmio_hole = 3841',
    'ms_vm_genid = "none"', 'ms_vm_genid = "random"',
    'rdm_mem_boundary = 512\nusbversion = 3\nvkb_device = 1\ndm_restrict = 0',
    'max_grant_version = 2', 'max_grant_version = "-1"', 'vmtrace_buf_kb = 0',
    'firmware_override = "/fw.bin"\nbios_path_override = "/bios.bin"', 'bios_path_override = "/b"\nbios = "seabios"',
    'bios = "coreboot"', 'bios = "OVMF"', 'bios = "seabios"\nfirmware = "ovmf"',
    'firmware = "uefi"', 'firmware = "u"', 'firmware = "ROMBIOS"', 'firmware = "bios"', 'firmware = "b"',
    'firmware = "/usr/lib/xen/boot/my-firmware.bin"',
    'vnclisten = "0.0.0.0:1"\nvncdisplay = 2', 'vnclisten = "0.0.0.0"\nvncdisplay = 2',
    'vga = "qxl"', 'vga = "vesa"', 'vga = "none"\nstdvga = 1',
    'rdm = "strategy=host,policy=strict"', 'rdm = "strategy=guest"', 'rdm = "colour=red"',
]
# PV displays and sound cards (any guest type).
MEDIA_CASES = [
    'vdispl = [ "backend=DomD, be-alloc=0, connectors=1000:1920x1080", "connectors=a:800x600;b:1x2,be-alloc=2" ]',
    'vdispl = [ "connectors=a: 800x 600:9,be-alloc=yes" ]',
    'vdispl = [ "backend=DomD" ]', 'vdispl = [ "connectors=a:800" ]', 'vdispl = [ "connectors=a:800y600" ]',
    'vdispl = [ "colour=red,connectors=a:1x1" ]', 'vdispl = [ "connectors=;" ]',
    "vsnd = [ [ 'card, backend=DomD, buffer-size=65536, short-name=VCard, long-name=Virtual sound card, "
    "sample-rates=8000;11025;48000, sample-formats=s16_le', 'pcm, name=dev1', 'stream, unique-id=pulse, type=P' ] ]",
    'vsnd = [ [ "stream, type=c, channels-max=2", "pcm, sample-formats=S8;u8", "card" ], [ "PCM,channels-min=1" ] ]',
    'vsnd = [ [ "card, sample-rates=44100;0x10;junk, buffer-size=-1", "", "stream" ] ]',
    'vsnd = [ [ "card", [ "nested" ], "pcm" ], [ "pcm, name=x" ] ]',
    'vsnd = [ [ "card, colour=red" ] ]', 'vsnd = [ [ "card, backend" ] ]', 'vsnd = [ [ "speaker" ] ]',
    'vsnd = [ [ "pcm, sample-formats=s16_le;dsd" ] ]', 'vsnd = [ [ "stream, type=x" ] ]', 'vsnd = [ "card" ]',
]
# PV guests that name pvgrub instead of a kernel.
PV_FIRMWARE_CASES = ['firmware = "pvgrub64"', 'firmware = "pvgrub"', 'firmware = "grub2"']


@pytest.mark.parametrize("kind,setting", [("hvm", c) for c in CASES + HVM_PLATFORM_CASES + MEDIA_CASES]
                         + [("pv", c) for c in PV_CASES] + [("pv-firmware", c) for c in PV_FIRMWARE_CASES])
def test_settings_match_real_xl(kind, setting, real_xl, tmp_path):
    cfg = tmp_path / "guest.cfg"
    kernel = 'kernel = "/boot/vmlinuz"\n' if kind == "pv" else ""
    cfg.write_text(f'name = "g"\ntype = "{kind.removesuffix("-firmware")}"\n{kernel}memory = 128\n{setting}\n')
    real, ours = real_xl(cfg), run_xlpy("create", "-n", cfg.name, cwd=tmp_path)
    assert (real.returncode == 0) == (ours.returncode == 0), (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
    # xl's own words, after xlpy's position; except where xl prints "(null)"
    # for the value (its usbdev message prints getopt's optarg), xlpy the value.
    if real.returncode != 0 and "(null)" not in real.stderr:
        assert real.stderr.splitlines()[-1] in ours.stderr


def test_ms_vm_genid_generate_is_a_fresh_random_id(real_xl, tmp_path):
    """ms_vm_genid="generate": like xl, 16 random bytes, new for every create."""
    import json

    cfg = tmp_path / "guest.cfg"
    cfg.write_text('name = "g"\ntype = "hvm"\nmemory = 128\nms_vm_genid = "generate"\n')
    ids = [json.loads(run_xlpy("create", "-n", cfg.name, cwd=tmp_path).stdout)["b_info"]["type.hvm"]["ms_vm_genid"]
           for _ in range(2)]
    real = json.loads(real_xl(cfg).stdout)["b_info"]["type.hvm"]["ms_vm_genid"]
    assert len(ids[0]) == len(ids[1]) == len(real) == 16
    assert all(0 <= b <= 255 for b in ids[0] + ids[1])
    assert ids[0] != ids[1]


@pytest.mark.parametrize("setting,message", [
    ("max_grant_version = 16", "max grant version 16 out of range"),
    ('tsc_mode = "native_paravirt"', "TSC Mode native_paravirt (a.k.a PVRDTSCP) has been removed"),
])
def test_what_libxl_refuses_at_create_creates_nothing(state_dir, tmp_path, setting, message):
    from conftest import ROOT, xlpy_env

    cfg = tmp_path / "g.cfg"
    cfg.write_text(f'name = "g"\ntype = "pvh"\nkernel = "{ROOT}/configs/kernels/demo-pvh.elf"\nmemory = 64\n'
                   f'{setting}\n')
    env = xlpy_env(XLPY_STATE_DIR=str(state_dir))
    r = run_xlpy("create", str(cfg), env=env)
    assert r.returncode != 0 and message in r.stderr
    assert "g" not in run_xlpy("list", env=env).stdout.split()


# -- what create asks of the hypervisor, on the model, call by call --------------


def create_calls(state_dir, monkeypatch, kind: str, settings: str, *methods: str) -> dict[str, list[tuple]]:
    """Create a guest of `kind` with `settings` through the toolstack, and the
    arguments of each call it made to the backend `methods` (which still run)."""
    from conftest import ROOT
    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    calls: dict[str, list[tuple]] = {method: [] for method in methods}
    for method in methods:
        def record(*args, _method=method, _original=getattr(backend, method), **kwargs):
            calls[_method].append(args)
            return _original(*args, **kwargs)
        monkeypatch.setattr(backend, method, record)
    kernel = 'kernel = "configs/kernels/demo-pvh.elf"\n' if kind != "hvm" else ""
    dc, _ = build(parse(f'name = "g"\ntype = "{kind}"\n{kernel}memory = 64\n{settings}\n', "g.cfg"))
    Toolstack(backend).create(dc)
    return calls


def test_create_grants_the_ioports_to_the_guest(state_dir, monkeypatch):
    calls = create_calls(state_dir, monkeypatch, "pvh", 'ioports = [ "3f8-3ff", "2f8" ]', "ioport_permission")
    assert [args[1:] for args in calls["ioport_permission"]] == [(0x3F8, 8, True), (0x2F8, 1, True)]


@pytest.mark.parametrize("kind,settings,expected", [
    ("pvh", "", {10: 1, 35: 0}),  # libxl's defaults: no delay for missed ticks, no altp2m
    ("pvh", 'timer_mode = "one_missed_tick_pending"\naltp2m = "external"', {10: 3, 35: 2}),
    ("hvm", 'altp2mhvm = 1\nmca_caps = [ "lmce" ]\nhpet = 0', {11: 0, 16: 1, 38: 1, 10: 1, 35: 1}),
    ("hvm", 'altp2mhvm = 1\naltp2m = "limited"\ntimer_mode = 0', {11: 1, 16: 1, 10: 0, 35: 3}),
])
def test_create_sets_the_hvm_parameters_libxl_sets(state_dir, monkeypatch, kind, settings, expected):
    """HVM_PARAM_TIMER_MODE (10), HPET (11), VPT_ALIGN (16), ALTP2M (35) and MCA_CAP (38)
    as libxl__arch_domain_create sets them from the config."""
    calls = create_calls(state_dir, monkeypatch, kind, settings, "set_hvm_param")
    assert {param: value for _, param, value in calls["set_hvm_param"]} == expected


@pytest.mark.parametrize("settings,expected", [
    ("", dict(max_grant_frames=64, max_maptrack_frames=1024, max_grant_version=2, vmtrace_size=0)),
    ("max_grant_frames = 32\nmax_maptrack_frames = 0\nmax_grant_version = 1\nvmtrace_buf_kb = 5",
     dict(max_grant_frames=32, max_maptrack_frames=0, max_grant_version=1, vmtrace_size=8192)),
])
def test_create_asks_xen_for_the_grant_tables_and_trace_buffers(state_dir, monkeypatch, settings, expected):
    """xen_domctl_createdomain's grant and vmtrace fields, with libxl's defaults
    and the trace buffer rounded up to whole pages."""
    flags = create_calls(state_dir, monkeypatch, "pvh", settings, "create_domain")["create_domain"][0][0]
    assert {key: getattr(flags, key) for key in expected} == expected


@pytest.mark.parametrize("kind,settings,expected", [
    ("pvh", "", (True, False, False, [], [])),
    ("hvm", 'pae = 0\nnomigrate = 1\nnestedhvm = 1\ncpuid = "host,sse3=0,tsx-ctrl=k"',
     (False, True, True, [(1, 0xFFFFFFFF, [None, None, "x" * 31 + "0", None])], [(0x10A, "x" * 56 + "k" + "x" * 7)])),
    ("pvh", 'tsc_mode = "always_emulate"\ncpuid = [ "7,0:ebx=' + "1" * 32 + '" ]',
     (True, True, False, [(7, 0, [None, "1" * 32, None, None])], [])),
])
def test_create_applies_the_cpuid_policy_as_libxl(state_dir, monkeypatch, kind, settings, expected):
    """libxl__cpuid_legacy's arguments: PAE (the HVM guest's choice), an
    invariant TSC (no migration or an always emulated TSC), nested
    virtualisation, and the config's leaves and MSR bits."""
    calls = create_calls(state_dir, monkeypatch, kind, settings, "apply_cpuid_policy")
    assert [args[1:] for args in calls["apply_cpuid_policy"]] == [expected]


@pytest.mark.parametrize("settings,tsc,offsets", [
    ("", 0, []),
    ('tsc_mode = "native"\nrtc_timeoffset = 3600', 2, [3600]),
    ('tsc_mode = "always_emulate"\nrtc_timeoffset = "-3600"', 1, [-3600]),
    ('localtime = 1\nrtc_timeoffset = 60', 0, [7200 + 60]),  # the host is two hours east of UTC here
])
def test_create_sets_the_tsc_mode_and_clock_offset_as_libxl(state_dir, monkeypatch, settings, tsc, offsets):
    import time

    monkeypatch.setenv("TZ", "XST-2")
    time.tzset()
    try:
        calls = create_calls(state_dir, monkeypatch, "pv", settings, "set_tsc_mode", "set_time_offset")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert [mode for _, mode in calls["set_tsc_mode"]] == [tsc]
    assert [seconds for _, seconds in calls["set_time_offset"]] == offsets


@pytest.mark.parametrize("settings,pool_kb", [
    ("", 4 * 64),  # HAP: one page per MiB for the p2m; without vcpus= libxl counts no vCPU's 256
    ("vcpus = 1", 4 * (256 + 64)),
    ("hap = 0\nvcpus = 2", 4 * (2 * 256 + 2 * 64)),  # shadow paging needs a second
    ("shadow_memory = 3", 3 * 1024),
])
def test_the_paging_pool_is_sized_as_libxl_sizes_it(state_dir, monkeypatch, settings, pool_kb):
    calls = create_calls(state_dir, monkeypatch, "hvm", settings, "set_paging_pool")
    assert [kb for _, kb in calls["set_paging_pool"]] == [pool_kb]
