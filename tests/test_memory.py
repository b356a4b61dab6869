"""mem-set and mem-max as libxl_set_memory_target (absolute, enforced, as xl
calls it) and libxl_domain_setmaxmem do them in Xen 4.17, on the model: the
xenstore nodes, Xen's limit, the PoD target and xl's messages. The lab checks
the same commands against the real xl on real Xen (tests/xenlab)."""

from __future__ import annotations

import json

import pytest

from xlpy.api import open as open_host

HVM = 'name = "h"\ntype = "hvm"\nmemory = 128\nmaxmem = 256\nvnc = 0\n'
PV = 'name = "p"\ntype = "pv"\nkernel = "configs/kernels/demo-pvh.elf"\nmemory = 128\nmaxmem = 256\n'


def created(xlpy, tmp_path, text: str) -> str:
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(text)
    xlpy("create", "-p", "-q", str(cfg))
    return text.split('"')[1]


def held(state_dir, domid: int) -> dict:
    with open_host("model") as host:
        backend = host.toolstack.backend
        info = backend.domain_info(domid)
        return {"nodes": {key: backend.xs_read(f"/local/domain/{domid}/memory/{key}")
                          for key in ("target", "static-max", "videoram")},
                "vm_memory": backend.xs_read(f"/vm/{info.uuid}/memory"),
                "max_kb": info.max_pages * 4, "pod_pages": backend.domain_settings(domid).get("pod_target_pages")}


def test_mem_set_on_an_hvm_guest_leaves_its_video_ram_out_and_sets_xen_s_limit_and_pod(xlpy, state_dir, tmp_path):
    created(xlpy, tmp_path, HVM)
    # as xl leaves them (the lab compares): the target less the video RAM and, below maxmem, LIBXL_MAXMEM_CONSTANT
    assert held(state_dir, 1)["nodes"] == {"target": "121856", "static-max": "262144", "videoram": "8192"}
    b_info = json.loads(xlpy("list", "-l", "h").stdout)[0]["config"]["b_info"]
    assert (b_info["target_memkb"], b_info["max_memkb"]) == (131072, 262144)  # memory and maxmem, as given
    xlpy("mem-set", "h", "200")
    # target = 200 MiB - 8 MiB of video RAM; Xen's limit adds both back plus
    # LIBXL_MAXMEM_CONSTANT; the PoD target is the target plus the constant, in pages.
    assert held(state_dir, 1) == {"nodes": {"target": "196608", "static-max": "262144", "videoram": "8192"},
                                  "vm_memory": "192", "max_kb": 204800 + 1024, "pod_pages": (196608 + 1024) // 4}
    b_info = json.loads(xlpy("list", "-l", "h").stdout)[0]["config"]["b_info"]
    # retrieved as libxl does: xenstore's target plus the video RAM, plus the
    # constant for an HVM guest whose maxmem exceeds its memory
    assert (b_info["target_memkb"], b_info["max_memkb"]) == (196608 + 8192 + 1024, 262144)


def test_mem_set_above_static_max_is_refused_as_xl_refuses_it(xlpy, state_dir, tmp_path):
    created(xlpy, tmp_path, HVM)
    before = held(state_dir, 1)
    r = xlpy("mem-set", "h", "265m", ok=False)  # 271360 - 8192 > 262144
    assert (r.returncode, r.stderr) == (1, "cannot set domid 1 dynamic max memory to : 265m: "
                                           "memory_dynamic_max must be less than or equal to memory_static_max\n")
    assert held(state_dir, 1) == before
    xlpy("mem-set", "h", "264m")  # exactly static-max once the video RAM is left out


def test_mem_set_on_a_pv_guest_sets_no_pod_target(xlpy, state_dir, tmp_path):
    created(xlpy, tmp_path, PV)
    assert held(state_dir, 1)["nodes"]["videoram"] == "0"
    xlpy("mem-set", "p", "100m")
    assert held(state_dir, 1) == {"nodes": {"target": "102400", "static-max": "262144", "videoram": "0"},
                                  "vm_memory": "100", "max_kb": 102400 + 1024, "pod_pages": None}


def test_mem_max_is_refused_below_the_target_and_otherwise_sets_static_max(xlpy, state_dir, tmp_path):
    created(xlpy, tmp_path, PV)
    r = xlpy("mem-max", "p", "64m", ok=False)
    assert (r.returncode, r.stderr) == (1, "cannot set domid 1 static max memory to : 64m: "
                                           "memory_static_max must be greater than or or equal to "
                                           "memory_dynamic_max\n")
    xlpy("mem-max", "p", "300m")
    after = held(state_dir, 1)
    assert (after["nodes"]["static-max"], after["max_kb"]) == ("307200", 307200 + 1024)
    xlpy("mem-set", "p", "300m")  # now within the static maximum
    assert held(state_dir, 1)["nodes"]["target"] == "307200"


def test_domain_0_is_kept_above_libxl_s_minimum(xlpy, state_dir):
    r = xlpy("mem-set", "0", "127m", ok=False)
    assert r.stderr == "cannot set domid 0 dynamic max memory to : 127m: New target 130048 for dom0 is below " \
                       "the minimum threshold\n"
    xlpy("mem-set", "0", "512m")
    assert held(state_dir, 0)["nodes"]["target"] == "524288"


@pytest.mark.parametrize("text", [PV, HVM, 'name = "v"\ntype = "pvh"\nkernel = "configs/kernels/demo-pvh.elf"\n'])
def test_every_guest_type_is_built_with_claim_mode_as_xl_s_default(xlpy, state_dir, tmp_path, text):
    created(xlpy, tmp_path, text)
    with open_host("model") as host:
        assert host.toolstack.backend.domain_settings(1)["claim"] is True


def test_a_save_d_file_is_restored_with_its_domid_and_refused_while_it_is_recent_or_taken(xlpy, state_dir, tmp_path):
    (tmp_path / "guest.cfg").write_text(PV)
    xlpy("create", "-q", str(tmp_path / "guest.cfg"))  # running: a paused one has no vCPU online to save
    xlpy("create", "-p", "-q", str(tmp_path / "guest.cfg"), 'name="q"')  # domid 2
    saved = tmp_path / "p.save"
    xlpy("save", "-D", "p", str(saved))
    xlpy("create", "-p", "-q", str(tmp_path / "guest.cfg"), 'name="r"')  # Xen gives the next one, 3
    assert xlpy("domid", "r").stdout == "3\n"
    # The save destroyed domain 1 a moment ago: libxl refuses it as recently used.
    r = xlpy("restore", "-p", str(saved), ok=False)
    assert (r.returncode, r.stderr.splitlines()[-1]) == (1, "xlpy: cannot create 'p': Domain 1:domain id recently used")
    history = state_dir / "domid-history"  # its minute over (LIBXL_DOMID_REUSE_TIMEOUT)
    history.write_text("".join(f"{int(sec) - 61} {domid}\n"
                               for sec, domid in map(str.split, history.read_text().splitlines())))
    xlpy("restore", "-p", str(saved))
    assert xlpy("domid", "p").stdout == "1\n"
    xlpy("rename", "p", "p2")
    r = xlpy("restore", "-p", str(saved), ok=False)  # domid 1 is taken: Xen says EEXIST, as libxl reports it
    assert r.returncode != 0 and r.stderr.splitlines()[-1].endswith("Domain 1:domain creation fail: File exists")
    assert [line.split()[0] for line in xlpy("list").stdout.splitlines()[1:]] == ["Domain-0", "p2", "q", "r"]


def test_an_hvm_guest_gets_the_keyboard_qemu_serves_unless_vkb_device_0(xlpy, state_dir, tmp_path):
    created(xlpy, tmp_path, HVM)
    with open_host("model") as host:
        xs = host.toolstack.backend
        assert {key: xs.xs_read(f"/local/domain/1/device/vkbd/0/{key}") for key in xs.xs_list(
            "/local/domain/1/device/vkbd/0")} == {"backend": "/local/domain/0/backend/vkbd/1/0",
                                                  "backend-id": "0", "state": "1"}
        assert {key: xs.xs_read(f"/local/domain/0/backend/vkbd/1/0/{key}") for key in xs.xs_list(
            "/local/domain/0/backend/vkbd/1/0")} == {"frontend": "/local/domain/1/device/vkbd/0",
                                                     "frontend-id": "1", "online": "1", "state": "1"}
    xlpy("destroy", "h")
    xlpy("create", "-p", "-q", str(tmp_path / "guest.cfg"), "vkb_device=0")
    with open_host("model") as host:
        assert host.toolstack.backend.xs_list("/local/domain/0/backend/vkbd/2") == []
        assert host.toolstack.backend.xs_list("/local/domain/0/backend/vkbd/1") == []
