"""An HVM guest's QEMU command line, as Xen 4.17's libxl builds it from the config."""

from __future__ import annotations

import pytest

from xlpy.config import parse_file
from xlpy.config.build import build
from xlpy.domain.devicemodel import qemu_args, unsupported
from xlpy.domain.setdefault import effective


def config(tmp_path, text: str):
    path = tmp_path / "guest.cfg"
    path.write_text('name = "h"\ntype = "hvm"\nmemory = 256\n' + text)
    dc, _ = build(parse_file(str(path)))
    return effective(dc)  # as create hands it to the device model


def pairs(args: list[str]) -> list[tuple[str, str]]:
    """(option, value) for the options that take one."""
    return [(a, b) for a, b in zip(args, args[1:]) if a.startswith("-") and not b.startswith("-")]


def test_defaults_are_libxls(tmp_path):
    dc = config(tmp_path, "")
    args = qemu_args(dc, 7)
    assert args[:3] == ["-xen-domid", "7", "-no-shutdown"]
    assert ("-chardev", "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-7,server=on,wait=off") in pairs(args)
    assert ("-mon", "chardev=libxl-cmd,mode=control") in pairs(args)
    assert "-nodefaults" in args and "-no-user-config" in args
    found = pairs(args)
    for expected in (("-name", "h"), ("-vnc", "127.0.0.1:0,to=99"), ("-display", "none"),
                     ("-device", "cirrus-vga,vgamem_mb=8"), ("-boot", "order=cda"), ("-net", "none"),
                     ("-machine", "xenfv,suppress-vmdesc=on"), ("-m", "248")):
        assert expected in found
    assert dc.b_info.video_memkb == 8192  # a Cirrus card's RAM comes out of the guest's 256 MiB
    assert "-smp" not in args and "-kernel" not in args


def test_a_pre_opened_monitor_starts_qemu_stopped(tmp_path):
    """libxl with its QMP socket pre-opened: QEMU gets the descriptor and -S, right after it."""
    args = qemu_args(config(tmp_path, ""), 7, monitor_fd=5)
    at = args.index("socket,id=libxl-cmd,fd=5,server=on,wait=off")
    assert args[at - 1:at + 4] == ["-chardev", "socket,id=libxl-cmd,fd=5,server=on,wait=off", "-S", "-mon",
                                   "chardev=libxl-cmd,mode=control"]
    assert "-S" not in qemu_args(config(tmp_path, ""), 7)


def test_display_kernel_and_cpus(tmp_path):
    dc = config(tmp_path, 'vnc = 0\nvga = "stdvga"\nvcpus = 2\nmaxvcpus = 4\nkernel = "/k"\nramdisk = "/r"\n'
                          'extra = "console=hvc0"\nserial = "pty"\nboot = "dc"\nacpi = 0\n')
    found = pairs(qemu_args(dc, 3))
    for expected in (("-vnc", "none"), ("-kernel", "/k"), ("-initrd", "/r"), ("-append", "console=hvc0"),
                     ("-serial", "pty"), ("-device", "VGA,vgamem_mb=16"), ("-boot", "order=dc"),
                     ("-smp", "2,maxcpus=4"), ("-m", "240")):
        assert expected in found
    assert "-no-acpi" in qemu_args(dc, 3)


def test_vga_none_takes_no_memory(tmp_path):
    dc = config(tmp_path, 'vga = "none"\n')
    args = qemu_args(dc, 1)
    assert dc.b_info.video_memkb == 0 and ("-m", "256") in pairs(args)
    assert not any(a.endswith("vga,vgamem_mb=8") for a in args)


def test_disks_nics_and_extra_args(tmp_path):
    dc = config(tmp_path, 'disk = [ "/img,raw,hda,rw", "/iso,raw,hdc:cdrom,r", "/q,qcow2,sdb,rw" ]\n'
                          'vif = [ "mac=00:16:3e:01:02:03,bridge=br0,model=e1000" ]\n'
                          'device_model_args = [ "-a" ]\ndevice_model_args_hvm = [ "-b" ]\n'
                          'xen_platform_pci = 0\n')
    args = qemu_args(dc, 4)
    found = pairs(args)
    assert ("-drive", "file=/img,if=ide,index=0,media=disk,format=raw,cache=writeback") in found
    assert ("-drive", "if=none,readonly=on,id=ide-5632,file=/iso,format=raw") in found
    assert ("-device", "ide-cd,id=ide-5632,drive=ide-5632,bus=ide.1,unit=0") in found
    assert ("-device", "lsi53c895a") in found
    assert ("-drive", "file=/q,if=none,id=scsidisk-1,format=qcow2,cache=writeback") in found
    assert ("-device", "e1000,id=nic0,netdev=net0,mac=00:16:3e:01:02:03") in found
    assert ("-netdev", "type=tap,id=net0,ifname=vif4.0-emu,br=br0,script=no,downscript=no") in found
    assert "-net" not in args
    machine = args.index("-machine")
    assert args[machine - 1] == "-a" and args[machine + 1:machine + 3] == ["pc,accel=xen,suppress-vmdesc=on", "-b"]


@pytest.mark.parametrize("text,problem", [
    ("spice = 1\n", "SPICE"),
    ("usb = 1\n", "USB"),
    ('disk = [ "/img,raw,hda,r" ]\n', "read-only IDE"),
    ("device_model_stubdomain_override = 1\n", "stub domain"),
    ('device_model_version = "qemu-xen-traditional"\n', "traditional"),
    ('device_model_override = "/opt/qemu"\n', "device_model_override"),
    ("dm_restrict = 1\n", "dm_restrict"),
    ('device_model_user = "qemu"\n', "device_model_user"),
    ('gfx_passthru = 1\n', "graphics passthrough"),
    ('hdtype = "ahci"\n', "AHCI"),
    ("mmio_hole = 1024\n", "mmio_hole"),
    ('pci = [ "01:00.0" ]\n', "PCI passthrough"),
])
def test_what_the_arguments_do_not_cover_is_named(tmp_path, text, problem):
    assert problem in unsupported(config(tmp_path, text))


def test_xenserver_vendor_device_comes_after_the_disks(tmp_path):
    args = qemu_args(config(tmp_path, 'vendor_device = "xenserver"\ndisk = [ "/img,raw,hda,rw" ]\n'), 1)
    assert args[-2:] == ["-device", "xen-pvdevice,device-id=0xc000"]
    assert args.index("-drive") < len(args) - 2
    assert "xen-pvdevice,device-id=0xc000" not in qemu_args(config(tmp_path, ""), 1)


def test_what_it_covers_is_not_refused(tmp_path):
    assert unsupported(config(tmp_path, 'vendor_device = "xenserver"\ndm_restrict = 0\nhdtype = "ide"\n')) is None


def test_without_memory_qemu_gets_libxls_default_less_the_video_ram(tmp_path):
    path = tmp_path / "guest.cfg"
    path.write_text('name = "h"\ntype = "hvm"\n')
    dc, _ = build(parse_file(str(path)))
    args = qemu_args(effective(dc), 1)
    assert args[args.index("-m") + 1] == str((32768 - 8192) // 1024)


def test_cdrom_drives_are_named_by_libxls_device_number(tmp_path):
    """libxl names an emulated CD-ROM's drive ide-<libxl__device_disk_dev_number>;
    the numbers here come from the real libxl (its static archive)."""
    import subprocess

    from conftest import link_static_libxl

    vdevs = ["hda", "hdb", "hdc", "hdd", "xvdc", "xvdd"]
    program = link_static_libxl("#include <stdio.h>\nint libxl__device_disk_dev_number(const char *, int *, int *);\n"
                                "int main(int argc, char **argv) {\n    for (int i = 1; i < argc; i++)\n"
                                '        printf("%d\\n", libxl__device_disk_dev_number(argv[i], NULL, NULL));\n'
                                "    return 0;\n}\n", tmp_path / "number")
    numbers = subprocess.run([str(program), *vdevs], capture_output=True, text=True, check=True).stdout.split()
    for vdev, number in zip(vdevs, numbers):
        args = qemu_args(config(tmp_path, f'disk = [ "/iso,raw,{vdev}:cdrom,r" ]\n'), 1)
        assert f"ide-cd,id=ide-{number},drive=ide-{number}," in " ".join(args), (vdev, number)
