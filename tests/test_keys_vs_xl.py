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
]


@pytest.mark.parametrize("kind,setting", [("hvm", c) for c in CASES] + [("pv", c) for c in PV_CASES])
def test_settings_match_real_xl(kind, setting, real_xl, tmp_path):
    cfg = tmp_path / "guest.cfg"
    kernel = 'kernel = "/boot/vmlinuz"\n' if kind == "pv" else ""
    cfg.write_text(f'name = "g"\ntype = "{kind}"\n{kernel}memory = 128\n{setting}\n')
    real, ours = real_xl(cfg), run_xlpy("create", "-n", cfg.name, cwd=tmp_path)
    assert (real.returncode == 0) == (ours.returncode == 0), (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
    # xl's own words, after xlpy's position; except where xl prints "(null)"
    # for the value (its usbdev message prints getopt's optarg), xlpy the value.
    if real.returncode != 0 and "(null)" not in real.stderr:
        assert real.stderr.splitlines()[-1] in ours.stderr


def test_create_grants_the_ioports_to_the_guest(state_dir, monkeypatch):
    from conftest import ROOT
    from xlpy.backends.model import ModelBackend
    from xlpy.config import parse
    from xlpy.config.build import build
    from xlpy.toolstack import Toolstack

    monkeypatch.chdir(ROOT)
    text = 'name = "io"\ntype = "pvh"\nkernel = "configs/kernels/demo-pvh.elf"\nmemory = 64\n' \
           'ioports = [ "3f8-3ff", "2f8" ]\n'
    backend = ModelBackend(state_dir)
    granted = []
    monkeypatch.setattr(backend, "ioport_permission", lambda domid, first, count, allow: granted.append(
        (first, count, allow)))
    dc, _ = build(parse(text, "io.cfg"))
    Toolstack(backend).create(dc)
    assert granted == [(0x3F8, 8, True), (0x2F8, 1, True)]
