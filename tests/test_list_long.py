"""`xlpy list -l`: each domain's config as libxl_retrieve_domain_configuration
returns it in Xen 4.17 (the stored config with what libxl writes back after
create, brought up to date from the running domain). Golden files for a PVH
and a PV guest of configs/; libxl's own JSON printer confirms the layout."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, link_static_libxl

GOLDEN = Path(__file__).parent / "golden"
MAC = re.compile(r'"00:16:3e(:[0-9a-f]{2}){3}"')


def pv_config(tmp_path) -> Path:
    """configs/pv.cfg with a kernel the model can boot and no ramdisk."""
    text = (ROOT / "configs" / "pv.cfg").read_text()
    text = re.sub(r'(?m)^kernel = .*$', 'kernel = "configs/kernels/demo-pvh.elf"', text)
    text = re.sub(r"(?m)^ramdisk = .*\n", "", text)
    path = tmp_path / "pv.cfg"
    path.write_text(text)
    return path


def config(xlpy, domain: str) -> dict:
    return json.loads(xlpy("list", "-l", domain).stdout)[0]["config"]


def test_a_pvh_guest(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    assert xlpy("list", "-l", "demo-pvh").stdout == (GOLDEN / "list-l-pvh.json").read_text()


def test_the_config_lives_in_libxl_s_userdata_until_the_domain_goes(xlpy):
    """Where the real xl looks for it ("libxl-json", NUL-terminated as libxl
    writes it); a config-update is the "xl" userdata xl's own config-update
    writes; destroy removes both."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("config-update", "demo-pvh", "configs/pvh.cfg", "memory=320")
    with open_host("model") as host:
        backend = host.toolstack.backend
        stored = backend.libxl_userdata(1, "libxl-json")
        assert stored.endswith(b"}\n\0") and json.loads(stored[:-1])["c_info"]["name"] == "demo-pvh"
        assert backend.libxl_userdata(1, "xl").decode().endswith("\nmemory=320\n")
    xlpy("destroy", "demo-pvh")
    xlpy("create", "-q", "configs/pvh.cfg")  # domid 2 now; nothing of domid 1's is read
    with open_host("model") as host:
        assert [host.toolstack.backend.libxl_userdata(2, u) is None for u in ("libxl-json", "xl")] == [False, True]


def test_a_guest_an_older_xlpy_created_keeps_its_config(xlpy):
    """Older xlpy kept the config in the model's xenstore: still read there."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    before = xlpy("list", "-l", "demo-pvh").stdout
    with open_host("model") as host:
        backend = host.toolstack.backend
        backend.xs_write("/libxl/1/xlpy/config", backend.libxl_userdata(1, "libxl-json")[:-1].decode())
        backend.store_libxl_userdata(1, "libxl-json", b"")
    assert xlpy("list", "-l", "demo-pvh").stdout == before


def test_domain_0_shows_the_stub_config_xen_init_dom0_stores(xlpy):
    """As libxl retrieves it for Domain-0: xen-init-dom0's stub with the live
    name, memory (its target one below Xen's figure: the stub has no video
    memory, which libxl counts as -1) and scheduler parameters. The golden
    file is what the real `xl list -l 0` printed on the lab's Xen 4.17 host
    for a Domain-0 of the same size."""
    from xlpy.api import open as open_host

    assert xlpy("list", "-l", "0").stdout == (GOLDEN / "list-l-dom0.json").read_text()
    with open_host("model") as host:  # libxl__fill_dom0_memory_info wrote what was missing
        assert host.toolstack.backend.xs_read("/local/domain/0/memory/target") == "1048576"
    xlpy("create", "-q", "configs/pvh.cfg")
    assert [e["domid"] for e in json.loads(xlpy("list", "-l").stdout)] == [0, 1]


def test_a_pv_guest_with_the_mac_libxl_chose(xlpy, tmp_path):
    xlpy("create", "-q", str(pv_config(tmp_path)))
    out = xlpy("list", "-l", "demo-pv").stdout
    mac = json.loads(out)[0]["config"]["nics"][0]["mac"]
    assert MAC.fullmatch(f'"{mac}"')
    assert mac in xlpy("network-list", "demo-pv").stdout  # the MAC the device has
    assert MAC.sub('"00:16:3e:MA:SK:ED"', out) == (GOLDEN / "list-l-pv.json").read_text()


def test_what_changes_at_run_time_shows(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("vcpu-set", "demo-pvh", "3")
    xlpy("mem-set", "demo-pvh", "384m")
    xlpy("sched-credit", "-d", "demo-pvh", "-w", "512")
    xlpy("rename", "demo-pvh", "renamed")
    b_info = config(xlpy, "renamed")["b_info"]
    assert b_info["avail_vcpus"] == [0, 1, 2]
    assert (b_info["target_memkb"], b_info["max_memkb"]) == (393216, 524288)
    assert b_info["sched_params"] == {"sched": "credit2", "weight": 512, "cap": 0}
    assert config(xlpy, "renamed")["c_info"]["name"] == "renamed"


def test_hotplugged_devices_join_and_leave(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("block-attach", "demo-pvh", "/dev/vg/data,raw,xvdb,rw")
    xlpy("network-attach", "demo-pvh", "bridge=xenbr1")
    got = config(xlpy, "demo-pvh")
    assert [d["vdev"] for d in got["disks"]] == ["xvda", "xvdb"]
    added = got["nics"][1]
    assert (added["devid"], added["bridge"], added["nictype"]) == (1, "xenbr1", "vif")
    assert added["mac"] in xlpy("network-list", "demo-pvh").stdout
    xlpy("block-detach", "demo-pvh", "xvdb")
    xlpy("network-detach", "demo-pvh", "1")
    got = config(xlpy, "demo-pvh")
    assert ([d["vdev"] for d in got["disks"]], [n["devid"] for n in got["nics"]]) == (["xvda"], [0])


def test_hot_plugged_nics_get_libxl_s_defaults(xlpy):
    """libxl__device_nic_setdefault with hotplug set, libxl__device_nextid:
    the devid follows the highest in use (not the count), an HVM guest's new
    nic has no emulated twin, a PV or PVH guest refuses an emulated one; the
    stored nic keeps what was given plus devid, nictype and MAC."""
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("network-attach", "demo-pvh", "bridge=xenbr1")
    xlpy("network-detach", "demo-pvh", "0")
    xlpy("network-attach", "demo-pvh")
    nics = config(xlpy, "demo-pvh")["nics"]
    assert [(n["devid"], n.get("bridge"), n["nictype"]) for n in nics] == [(1, "xenbr1", "vif"), (2, None, "vif")]
    assert re.fullmatch(r"00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}", nics[1]["mac"])
    refused = xlpy("network-attach", "demo-pvh", "type=ioemu", ok=False)
    assert (refused.returncode, refused.stderr.splitlines()[-1]) == \
        (1, "trying to create PV or PVH guest with an emulated interface")
    xlpy("create", "-q", "configs/hvm.cfg")
    xlpy("network-attach", "demo-hvm")
    assert [n["nictype"] for n in config(xlpy, "demo-hvm")["nics"]] == ["vif_ioemu", "vif"]


def test_what_libxl_writes_back_for_an_hvm_guest():
    from xlpy.config import parse_file
    from xlpy.config.build import build
    from xlpy.domain.setdefault import effective, for_storage

    given, _ = build(parse_file(ROOT / "configs" / "hvm.cfg"))
    used = effective(given)
    stored = for_storage(given, used)
    assert stored.b_info.video_memkb == 8192  # cirrus with qemu-xen
    assert [(nic.devid, nic.nictype.value, nic.mac) for nic in stored.nics] == \
        [(nic.devid, "vif_ioemu", nic.mac) for nic in used.nics]
    assert stored.b_info.arch_x86.msr_relaxed is False
    assert stored.nics[0].model is None and used.nics[0].model == "rtl8139"  # a default libxl does not store


@pytest.fixture(scope="session")
def libxl_setdefault(xl_shim, tmp_path_factory):
    """libxl's own create-info and build-info setdefault, run over a config."""
    import os

    program = link_static_libxl(Path(__file__).parent / "libxl_setdefault.c",
                                tmp_path_factory.mktemp("setdefault") / "setdefault")

    def run(text: str) -> dict:
        done = subprocess.run([str(program)], input=text, capture_output=True, text=True, check=True,
                              env=dict(os.environ, LD_PRELOAD=str(xl_shim)))
        return json.loads(done.stdout)

    return run


@pytest.mark.parametrize("name", ["pvh", "pv", "hvm"])
def test_the_video_memory_stored_is_the_one_libxl_s_setdefault_chooses(libxl_setdefault, name):
    from xlpy.domain.setdefault import effective
    from xlpy.domain.stored import config_from_json

    text = (ROOT / "configs" / "expected" / f"{name}.json").read_text()  # what `xl create -n` prints
    assert effective(config_from_json(text)).b_info.video_memkb == libxl_setdefault(text)["b_info"]["video_memkb"]


@pytest.mark.parametrize("vga", [None, "none", "cirrus", "std", "qxl"])
@pytest.mark.parametrize("videoram_mb", [None, 0, 4, 8, 16, 64, 128, 256])
def test_video_memory_defaults_and_minimums_are_libxl_s(libxl_setdefault, vga, videoram_mb):
    """Each card's default and libxl's refusal below its minimum (not a clamp)."""
    from xlpy.domain.setdefault import DefaultsError, effective
    from xlpy.domain.stored import config_from_json

    obj = json.loads((ROOT / "configs" / "expected" / "hvm.json").read_text())
    if vga is not None:
        obj["b_info"]["type.hvm"]["vga"] = {"kind": vga}
    if videoram_mb is not None:
        obj["b_info"]["video_memkb"] = videoram_mb * 1024
    text = json.dumps(obj)
    try:
        theirs = libxl_setdefault(text)["b_info"]["video_memkb"]
    except subprocess.CalledProcessError as refused:
        with pytest.raises(DefaultsError) as ours:
            effective(config_from_json(text))
        assert str(ours.value) in refused.stderr
    else:
        assert effective(config_from_json(text)).b_info.video_memkb == theirs


@pytest.mark.parametrize("golden", ["list-l-pvh.json", "list-l-pv.json"])
def test_libxl_prints_the_same_config_the_same_way(libxl_reprint, golden):
    from xlpy.domain.idl import dumps

    text = (GOLDEN / golden).read_text().replace("MA:SK:ED", "12:34:56")  # a MAC libxl can parse
    ours = dumps(json.loads(text)[0]["config"]) + "\n"
    assert libxl_reprint(ours) == ours


def test_a_backend_that_cannot_read_the_weights_still_lists(state_dir, monkeypatch):
    from xlpy.api import open as open_host
    from xlpy.backends.base import BackendError
    from xlpy.retrieve import retrieve_config

    monkeypatch.chdir(ROOT)
    with open_host("model") as host:
        guest = host.create("configs/pvh.cfg")

        def refuse(*args):
            raise BackendError("credit's parameters under credit2", "xc_sched_credit_domain_get")

        monkeypatch.setattr(host.toolstack.backend, "sched_credit", refuse)
        assert retrieve_config(host.toolstack, guest.domid).to_json_obj()["b_info"]["sched_params"] == {"sched": "credit2"}


def test_a_reboot_keeps_run_time_changes_and_config_update_waits_for_it(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("vcpu-set", "demo-pvh", "3")
    xlpy("mem-set", "demo-pvh", "384m")
    xlpy("reboot", "-w", "demo-pvh")  # restarted from the retrieved config, as xl does
    b_info = config(xlpy, "demo-pvh")["b_info"]
    assert (b_info["avail_vcpus"], b_info["target_memkb"]) == ([0, 1, 2], 393216)
    assert xlpy("list", "demo-pvh").stdout.split()[-4:-2] == ["384", "3"]
    before = config(xlpy, "demo-pvh")
    xlpy("config-update", "demo-pvh", "configs/pvh.cfg", "memory=320")
    assert config(xlpy, "demo-pvh") == before  # list -l shows the running config until the restart
    xlpy("reboot", "-w", "demo-pvh")
    b_info = config(xlpy, "demo-pvh")["b_info"]
    assert (b_info["avail_vcpus"], b_info["target_memkb"]) == ([0, 1], 327680)
