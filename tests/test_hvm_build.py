"""An HVM guest's build, against the real libxl 4.17: the hypervisor
settings libxl's own x86 build makes for a config (run from the static
libxenlight.a, its hypervisor calls answered and recorded), the configs its
checks refuse, and every HVM field of the config accounted for."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from conftest import XEN_PACKAGES_HINT, XL, link_static_libxl, require
from xlpy.backends.base import BackendError
from xlpy.backends.model import ModelBackend
from xlpy.config import parse_file
from xlpy.config.build import build
from xlpy.domain.config import BuildInfo, CreateInfo, HvmInfo
from xlpy.domain.hvm import HVM_FIELDS, viridian_mask
from xlpy.toolstack import CreateFailed, Toolstack

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def libxl_build(xl_shim, tmp_path_factory):
    """libxl__domain_config_setdefault then libxl__arch_domain_create over a
    config (as `xl -N create` prints it): (exit status, settings recorded, libxl's log)."""
    program = link_static_libxl(HERE / "libxl_setdefault.c", tmp_path_factory.mktemp("build") / "build")
    env = dict(os.environ, LD_PRELOAD=str(xl_shim))

    def run(cfg: Path) -> tuple[int, dict, str]:
        printed = subprocess.run([str(XL), "-N", "create", cfg.name], cwd=cfg.parent, env=env, capture_output=True,
                                 text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        done = subprocess.run([str(program), "--build"], input=printed.stdout, capture_output=True, text=True, env=env,
                              timeout=60)
        settings: dict = {"hvm_params": {}}
        for line in done.stdout.splitlines():
            key, *values = line.split()
            if key == "hvm_param":
                settings["hvm_params"][int(values[0])] = int(values[1])
            else:
                settings[key] = int(values[0])
        return done.returncode, settings, done.stderr

    return run


def xlpy_build(state_dir: Path, cfg: Path) -> tuple[str | None, dict]:
    """Create the guest on the model: (the refusal, or None; what the domain holds)."""
    backend = ModelBackend(state_dir)
    made = []
    create_domain = backend.create_domain
    backend.create_domain = lambda *args, **kwargs: made.append(create_domain(*args, **kwargs)) or made[-1]
    dc, _ = build(parse_file(str(cfg)))
    try:
        domid = Toolstack(backend).create(dc, paused=True).domid
    except CreateFailed as e:
        assert made == [], f"refused ({e}) only after the domain was made"  # as on any backend
        return str(e), {}
    held = backend.domain_settings(domid)
    settings = {"hvm_params": held["hvm_params"], "tsc_mode": held["tsc_mode"],
                "paging_pool": held["paging_pool_kb"] * 1024}
    if "time_offset" in held:
        settings["time_offset"] = held["time_offset"]
    return None, settings


HVM = 'name = "h"\ntype = "hvm"\nmemory = 128\nvnc = 0\n'
CONFIGS = {
    "defaults": "",
    "viridian": "viridian = 1\n",
    "viridian-groups": 'viridian = [ "defaults", "!apic_assist", "hcall_ipi", "stimer" ]\n',
    "viridian-base-only": 'viridian = [ "base" ]\n',
    "viridian-all": 'viridian = [ "all" ]\n',
    "platform-timers": 'hpet = 0\nvpt_align = 0\ntimer_mode = "delay_for_missed_ticks"\n',
    "altp2m": 'altp2m = "external"\n',
    "altp2mhvm": "altp2mhvm = 1\n",
    "mca": 'mca_caps = [ "lmce" ]\n',
    "clock-and-pool": 'tsc_mode = "always_emulate"\nrtc_timeoffset = 3600\nshadow_memory = 9\nmaxvcpus = 3\n',
    "pod": "maxmem = 512\n",
    "nested": "nestedhvm = 1\n",
    # refused by libxl
    "viridian-conflict": 'viridian = [ "base", "apic_assist", "!apic_assist" ]\n',
    "viridian-without-base": 'viridian = [ "defaults", "!base" ]\n',
    "rombios": 'bios = "rombios"\n',
    "nested-altp2m": "nestedhvm = 1\naltp2mhvm = 1\n",
    "pod-altp2m": 'maxmem = 512\naltp2m = "mixed"\n',
}


@pytest.mark.parametrize("name", CONFIGS)
def test_the_hypervisor_settings_are_libxls(name, libxl_build, state_dir, tmp_path):
    cfg = tmp_path / f"{name}.cfg"
    cfg.write_text(HVM + CONFIGS[name])
    status, theirs, why = libxl_build(cfg)
    refused, ours = xlpy_build(state_dir, cfg)
    if status == 0:
        assert refused is None, refused
        assert ours == theirs
    else:
        assert refused is not None, f"libxl refuses it ({why.strip()}); xlpy created it"
        assert refused.count("\n") == 0


def test_the_viridian_bits_are_xens(tmp_path):
    """HVMPV_* and the parameters xlpy sets, as the installed headers number them."""
    require(Path("/usr/include/xen/hvm/params.h").is_file(), f"Xen headers are not installed ({XEN_PACKAGES_HINT})")
    from xlpy.backends.libxc import structs as S
    from xlpy.domain import hvm

    names = {f"HVMPV_{name}": value for name, value in hvm.HVMPV.items()}
    names.update(HVM_PARAM_VIRIDIAN=hvm.HVM_PARAM_VIRIDIAN,
                 HVM_PARAM_VM_GENERATION_ID_ADDR=hvm.HVM_PARAM_VM_GENERATION_ID_ADDR,
                 XEN_DOMCTL_CDF_nested_virt=S.XEN_DOMCTL_CDF_nested_virt, XEN_DOMCTL_CDF_vpmu=S.XEN_DOMCTL_CDF_vpmu,
                 XEN_DOMCTL_CDF_oos_off=S.XEN_DOMCTL_CDF_oos_off)
    source = tmp_path / "bits.c"
    source.write_text("#include <stdio.h>\n#include <xenctrl.h>\n#include <xen/hvm/params.h>\nint main(void) {\n"
                      + "".join(f'printf("{n} %llu\\n", (unsigned long long)({n}));\n' for n in names)
                      + "return 0;\n}\n")
    subprocess.run(["gcc", "-D__XEN_TOOLS__", "-o", str(tmp_path / "bits"), str(source)], check=True)
    printed = subprocess.run([str(tmp_path / "bits")], capture_output=True, text=True, check=True).stdout
    assert dict(line.split() for line in printed.splitlines()) == {n: str(v) for n, v in names.items()}


def test_every_hvm_field_is_applied_or_refused():
    """A field added to the config types must be placed in HVM_FIELDS, saying
    where it is honoured or that it is refused, before it can be read."""
    hvm = {f.name for f in dataclasses.fields(HvmInfo)}
    assert set(HVM_FIELDS) - {k for k in HVM_FIELDS if "." in k} == hvm
    for key in (k for k in HVM_FIELDS if "." in k):
        struct, name = key.split(".")
        assert name in {f.name for f in dataclasses.fields({"b_info": BuildInfo, "c_info": CreateInfo}[struct])}


def test_what_an_hvm_guest_is_built_with_is_kept(state_dir, tmp_path):
    """The model keeps what the toolstack set: flags, hvm_info, firmware modules, generation ID."""
    (tmp_path / "acpi.bin").write_bytes(b"SSDT" + bytes(40))
    (tmp_path / "smbios.bin").write_bytes(b"")  # empty: no module, as libxl
    (tmp_path / "bios.bin").write_bytes(b"\x90" * 512)
    cfg = tmp_path / "g.cfg"
    cfg.write_text(HVM + 'vcpus = 1\nmaxvcpus = 3\napic = 0\nnestedhvm = 1\noos = 0\n'
                         f'acpi_firmware = "{tmp_path}/acpi.bin"\nsmbios_firmware = "{tmp_path}/smbios.bin"\n'
                         f'bios_path_override = "{tmp_path}/bios.bin"\n'
                         'ms_vm_genid = "generate"\n')
    backend = ModelBackend(state_dir)
    dc = build(parse_file(str(cfg)))[0]
    dc.b_info.u.ms_vm_genid = list(bytes.fromhex("00112233445566778899aabbccddeeff"))
    domid = Toolstack(backend).create(dc).domid
    held = backend.domain_settings(domid)
    assert held["flags"] == {"oos_off": True, "nested_virt": True, "vpmu": False}
    assert held["cpuid"]["nested_virt"] is True
    firmware = held["firmware"]
    assert (firmware["apic_mode"], firmware["nr_vcpus"], firmware["vcpu_online"]) == (0, 3, [0])
    assert firmware["modules"] == {"bios": 512, "acpi": 44}
    assert firmware["system_firmware"] == f"{tmp_path}/bios.bin"
    # libxl__ms_vm_genid_set: the two little-endian 64-bit halves, in decimal
    assert backend.xs_read(f"/local/domain/{domid}/platform/generation-id") == \
        f"{0x7766554433221100}:{0xffeeddccbbaa9988}"
    assert [v.online for v in backend.vcpu_info(domid)] == [True, False, False]


@pytest.mark.parametrize("text,password", [
    ('vnc = 1\nvncpasswd = "s3cret"\n', "s3cret"),
    ('vnc = 0\nvncpasswd = "s3cret"\n', None),  # libxl__dm_vnc: no server, no password to give it
    ('vnc = 1\n', None),
])
def test_the_vnc_password_goes_to_the_device_model_and_not_its_command_line(text, password, state_dir, tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(HVM + text)
    backend = ModelBackend(state_dir)
    given = []
    start = backend.start_device_model
    backend.start_device_model = lambda domid, args, pass_fds=(), vnc_password=None: \
        given.append((args, vnc_password)) or start(domid, args, pass_fds, vnc_password)
    Toolstack(backend).create(build(parse_file(str(cfg)))[0], paused=True)
    [(args, handed)] = given
    assert handed == password
    assert not any("s3cret" in a for a in args)


@pytest.mark.parametrize("text,error", [
    ('bios_path_override = "/nonexistent/bios.bin"\n', "failed to read BIOS file /nonexistent/bios.bin"),
    ('acpi_firmware = "/nonexistent/acpi.bin"\n', "failed to read ACPI firmware file /nonexistent/acpi.bin"),
])
def test_a_firmware_file_that_cannot_be_read_leaves_no_domain(text, error, state_dir, tmp_path):
    cfg = tmp_path / "g.cfg"
    cfg.write_text(HVM + text)
    backend = ModelBackend(state_dir)
    with pytest.raises(CreateFailed, match=error):
        Toolstack(backend).create(build(parse_file(str(cfg)))[0])
    assert [d.domid for d in backend.list_domains()] == [0]


def test_the_model_refuses_what_xen_refuses(state_dir):
    from xlpy.backends.base import CreateFlags

    backend = ModelBackend(state_dir)
    with pytest.raises(BackendError, match="nested"):
        backend.create_domain(CreateFlags(nested_virt=True), "00000000-0000-0000-0000-000000000000")


def test_viridian_mask_of_the_defaults():
    u = HvmInfo(viridian=True)
    assert viridian_mask(u) == 0x1865  # base+freq, time_ref_count, apic_assist, crash_ctl, no_vp_limit, cpu_hotplug
    assert viridian_mask(HvmInfo()) == 0


@pytest.mark.parametrize("maxmem", [None, 256, 5120])
def test_memory_above_the_target_is_laid_out_and_left_to_populate_on_demand(maxmem, state_dir, tmp_path):
    """libxl__build_hvm: the map covers maxmem less the video RAM (above 4 GiB
    past the MMIO hole), the pages populated at once are memory less the video RAM."""
    from xlpy.domain.layout import HVM_MMIO_START, HVM_LOW_MEM_START, ram_bytes

    cfg = tmp_path / "pod.cfg"
    cfg.write_text(HVM + (f"maxmem = {maxmem}\n" if maxmem else ""))
    backend = ModelBackend(state_dir)
    maps = []
    set_memory_map = backend.set_memory_map
    backend.set_memory_map = lambda domid, entries: maps.append(entries) or set_memory_map(domid, entries)
    domid = Toolstack(backend).create(build(parse_file(str(cfg)))[0]).domid
    video = 8 << 20
    laid_out = ((maxmem or 128) << 20) - video
    assert ram_bytes(maps[0]) + HVM_LOW_MEM_START == laid_out
    assert max(start + length for start, length, kind in maps[0]) == \
        (laid_out if laid_out <= HVM_MMIO_START else laid_out - HVM_MMIO_START + (1 << 32))
    assert backend.domain_info(domid).tot_pages * 4096 == (128 << 20) - video
    # less LIBXL_MAXMEM_CONSTANT below maxmem: what xl wrote in the lab (tests/xenlab, pod-xl-created)
    fudge = 1024 if maxmem and maxmem > 128 else 0
    assert backend.xs_read(f"/local/domain/{domid}/memory/target") == str((128 << 10) - (video >> 10) - fudge)
