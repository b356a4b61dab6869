"""A whole guest life through the CLI, in a private state directory, with each
output compared to a golden file in xl's format (the CPU-time column, which
grows with wall time, is masked)."""

from __future__ import annotations

import re
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
TIME = re.compile(r"(?m)^(.{40} +\d+ +\d+ +\d+ +\S{6}) +\d+\.\d$")


def masked(text: str) -> str:
    return TIME.sub(r"\1      T", text)


def golden(name: str) -> str:
    return (GOLDEN / name).read_text()


def test_a_pvh_guest_life(xlpy, tmp_path):
    xlpy("create", "configs/pvh.cfg")
    assert masked(xlpy("list").stdout) == golden("list-created.txt")
    xlpy("pause", "demo-pvh")
    assert masked(xlpy("list", "demo-pvh").stdout) == golden("list-paused.txt")
    xlpy("unpause", "demo-pvh")
    xlpy("vcpu-set", "demo-pvh", "4")
    xlpy("mem-set", "demo-pvh", "384m")
    assert masked(xlpy("list", "demo-pvh").stdout) == golden("list-resized.txt")
    xlpy("vcpu-set", "demo-pvh", "1")
    assert "VCPUOP_down vCPU 3" in xlpy("console", "demo-pvh").stdout
    assert xlpy("domid", "demo-pvh").stdout == "1\n"
    xlpy("block-attach", "demo-pvh", "/dev/vg/data,raw,xvdb,rw")
    assert [line.split()[0] for line in xlpy("block-list", "demo-pvh").stdout.splitlines()] == ["Vdev", "51712", "51728"]
    xlpy("block-detach", "demo-pvh", "xvdb")
    assert [line.split()[0] for line in xlpy("block-list", "demo-pvh").stdout.splitlines()] == ["Vdev", "51712"]
    saved = tmp_path / "demo.save"
    xlpy("save", "demo-pvh", str(saved))
    assert masked(xlpy("list").stdout) == golden("list-empty.txt")
    xlpy("restore", str(saved))
    assert masked(xlpy("list", "demo-pvh").stdout) == golden("list-restored.txt")
    updated = xlpy("config-update", "demo-pvh", "configs/pvh.cfg", "memory=320")
    assert updated.stderr == ("WARNING: xl now has better capability to manage domain configuration, avoid using "
                              "this command when possible\nsetting dom2 configuration\n")  # as xl 4.17 says it
    no_file = xlpy("config-update", "demo-pvh", "memory=384", ok=False)
    assert no_file.returncode == 1 and no_file.stderr.endswith("\nConfig file not specified\n")
    xlpy("reboot", "-w", "demo-pvh")
    assert xlpy("list", "demo-pvh").stdout.splitlines()[1].split()[2] == "320"  # restarted with the update
    after = xlpy("list", "-v", "demo-pvh").stdout
    assert " 6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f " in after  # same uuid
    assert xlpy("domid", "demo-pvh").stdout == "3\n"  # new domid
    xlpy("shutdown", "-w", "demo-pvh")
    assert masked(xlpy("list").stdout) == golden("list-empty.txt")


def test_a_legacy_pvh_guest_boots_the_pv_entry_in_64_bit_mode(xlpy):
    r = xlpy("create", "configs/pvh-legacy.cfg")
    assert "P101" in r.stderr
    console = xlpy("console", "demo-pvh-legacy").stdout
    assert "pv64 entry 0xffffffff80100010" in console
    assert "64-bit mode, %rsi -> start_info" in console
    assert "VCPUOP_up vCPU 1" in console
    assert "created as legacy PVH with HAP" in xlpy("dmesg").stdout
    xlpy("destroy", "demo-pvh-legacy")
    assert masked(xlpy("list").stdout) == golden("list-empty.txt")


def test_unknown_domain(xlpy):
    r = xlpy("pause", "nosuch", ok=False)
    assert (r.returncode, r.stderr) == (1, "nosuch is an invalid domain identifier (rc=-6)\n")
    r = xlpy("list", "7", ok=False)
    assert (r.returncode, r.stderr) == (1, "Error: Domain '7' does not exist.\n")
    r = xlpy("domid", "nosuch", ok=False)
    assert (r.returncode, r.stderr) == (1, "Can't get domid of domain name 'nosuch', maybe this domain does not exist.\n")


def test_duplicate_name(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    r = xlpy("create", "-q", "configs/pvh.cfg", ok=False)
    assert (r.returncode, r.stderr) == (3, "xlpy: domain with name 'demo-pvh' already exists\n")
    assert len(xlpy("list").stdout.splitlines()) == 3


def test_not_enough_memory_leaves_nothing_behind(xlpy):
    before = xlpy("info").stdout
    r = xlpy("create", "-q", "configs/pvh.cfg", "memory=65536", "maxmem=65536", ok=False)
    assert r.returncode == 3
    assert r.stderr.startswith("xlpy: not enough memory to create 'demo-pvh': not enough free memory")
    assert masked(xlpy("list").stdout) == golden("list-empty.txt")
    assert xlpy("info").stdout == before


def test_config_error_points_at_file_line_column(xlpy, tmp_path):
    bad = tmp_path / "bad.cfg"
    bad.write_text('name = "g"\ntype = "pvh"\nmemory = \n')
    r = xlpy("create", str(bad), ok=False)
    assert r.returncode == 1
    assert f"{bad}:3:10: syntax error near <newline>" in r.stderr
    assert "Traceback" not in r.stderr


def test_backend_that_is_not_available(xlpy):
    r = xlpy("--backend", "nosuch", "list", ok=False)
    assert r.returncode == 1
    assert r.stderr.startswith("xlpy: no backend named `nosuch'")


def test_rename_restart_preserves_the_old_domain_as_xl_does(xlpy):
    """on_reboot="rename-restart": the dead domain stays, renamed <name>-<UTC
    minute>, and the config starts again under its own name and UUID. As
    libxl_domain_preserve, only xenstore's /vm link of the preserved domain
    changes: Xen's handle, which list -v shows, stays the same for both."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg", 'on_reboot="rename-restart"')
    xlpy("reboot", "-w", "demo-pvh")
    rows = [line.split() for line in xlpy("list", "-v").stdout.splitlines()[1:]]
    names = {row[0]: row for row in rows}
    preserved = next(name for name in names if name.startswith("demo-pvh-"))
    assert re.fullmatch(r"demo-pvh-\d{8}T\d{4}Z", preserved)
    assert names[preserved][1] == "1" and names["demo-pvh"][1] == "2"
    assert names[preserved][4] == "---sr-"  # kept as it died: shut down for a reboot
    assert names[preserved][6] == names["demo-pvh"][6] == "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"
    with open_host("model") as host:
        xs = host.toolstack.backend
        assert xs.xs_read("/local/domain/2/vm") == "/vm/6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"
        assert xs.xs_read("/vm/6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f/name") == "demo-pvh"
        moved = xs.xs_read("/local/domain/1/vm")
        assert moved != "/vm/6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"
        assert xs.xs_read(f"{moved}/uuid") == moved.removeprefix("/vm/")
    xlpy("destroy", preserved)  # takes its own /vm node with it, not the restarted domain's
    with open_host("model") as host:
        assert host.toolstack.backend.xs_read(f"{moved}/uuid") is None
        assert host.toolstack.backend.xs_read("/vm/6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f/uuid") is not None
    assert [line.split()[0] for line in xlpy("list").stdout.splitlines()[1:]] == ["Domain-0", "demo-pvh"]


def test_an_unreadable_stored_config_does_not_break_other_commands(xlpy):
    """A dead domain is reaped by whichever command runs next; if its stored
    config cannot be read, that command still does its job, and the commands
    that need the config say why in one line."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    with open_host("model") as host:
        host.toolstack.backend.store_libxl_userdata(1, "libxl-json", b'{"c_info": {"no_such_field": 1}}\0')
    xlpy("shutdown", "-w", "demo-pvh")
    assert [line.split()[0] for line in xlpy("list").stdout.splitlines()[1:]] == ["Domain-0", "demo-pvh"]
    r = xlpy("list", "-l", "demo-pvh", ok=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith("its stored configuration cannot be read: "
                                                      "CreateInfo has no field 'no_such_field'")
