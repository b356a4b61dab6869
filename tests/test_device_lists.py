"""block-list and network-list in xl 4.17's columns: headers compared with
the real xl, rows with golden files and with the printf rules of its format
strings (left-justified fields, -1 for a node the frontend has not written,
the handle of a disk being the frontend's domid)."""

from __future__ import annotations

from pathlib import Path

from xlpy.cli.devices import BLOCK_LIST_HEADER, NETWORK_LIST_HEADER, block_list_line, network_list_line

GOLDEN = Path(__file__).parent / "golden"


def test_headers_are_the_real_xl_s(real_xl_cmd):
    assert real_xl_cmd("block-list", "1").stdout == BLOCK_LIST_HEADER + "\n"
    assert real_xl_cmd("network-list", "1").stdout == NETWORK_LIST_HEADER + "\n"


def test_a_guest_s_disks_and_vifs(xlpy):
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("block-attach", "demo-pvh", "/dev/vg/data,raw,xvdb,rw")
    xlpy("network-attach", "demo-pvh", "mac=00:16:3E:AB:CD:EF", "bridge=xenbr1")
    assert xlpy("block-list", "demo-pvh").stdout == (GOLDEN / "block-list.txt").read_text()
    assert xlpy("network-list", "demo-pvh").stdout == (GOLDEN / "network-list.txt").read_text()


def test_unknown_domains_as_xl(xlpy, real_xl_cmd):
    xlpy("create", "-q", "configs/pvh.cfg")
    r = xlpy("block-list", "nosuch", "demo-pvh")  # skipped with a message, exit 0
    assert r.stderr == "nosuch is an invalid domain identifier\n"
    assert len(r.stdout.splitlines()) == 2
    real = real_xl_cmd("block-list", "nosuch")
    assert (real.returncode, real.stderr) == (0, r.stderr)
    r = xlpy("network-list", "nosuch", ok=False)  # fatal, after the header
    real = real_xl_cmd("network-list", "nosuch")
    assert (r.returncode, r.stdout, r.stderr) == (real.returncode, real.stdout, real.stderr) == (
        1, NETWORK_LIST_HEADER + "\n", "nosuch is an invalid domain identifier (rc=-6)\n")


def test_frontend_nodes_and_a_driver_domain_backend():
    params = {"be-path": "/local/domain/5/backend/vbd/7/51713", "frontend/state": "4",
              "frontend/event-channel": "19", "frontend/ring-ref": "8"}
    assert block_list_line(7, 51713, params) == "51713 5   7      4     19     8        " + params["be-path"]
    short = {"be-path": "/b", "mac": "0:16:3E:A:B:C"}  # every frontend node missing
    assert network_list_line(2, short) == "2   0  00:16:3e:0a:0b:0c     2    -1     -1    -1/-1          /b" + " " * 28


def test_a_disk_s_nodes_are_libxl_s_and_detach_removes_them_all(xlpy):
    """The keys libxl's device_disk_add writes (the lab compares their values
    with the real xl's); block-detach leaves neither side nor libxl's record."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("block-attach", "demo-pvh", "/dev/vg/data,raw,xvdb,rw")
    with open_host("model") as host:
        xs = host.toolstack.backend
        back, front = "/local/domain/0/backend/vbd/1/51728", "/local/domain/1/device/vbd/51728"
        assert sorted(xs.xs_list(back)) == sorted([
            "bootable", "dev", "device-type", "discard-enable", "frontend", "frontend-id", "mode", "online",
            "params", "removable", "script", "specification", "state", "type"])
        assert [xs.xs_read(f"{back}/{key}") for key in ("params", "script", "type", "frontend")] == \
            ["/dev/vg/data", "/etc/xen/scripts/block", "phy", front]
        assert sorted(xs.xs_list(front)) == ["backend", "backend-id", "device-type", "state", "trusted",
                                             "virtual-device"]  # PVH: no protocol node, which is PV's
        assert xs.xs_read("/libxl/1/device/vbd/51728/backend") == back
    xlpy("block-detach", "demo-pvh", "xvdb")
    with open_host("model") as host:
        xs = host.toolstack.backend
        assert [xs.xs_list(path) for path in (back, front, "/libxl/1/device/vbd/51728")] == [[], [], []]


def test_a_vif_s_nodes_are_libxl_s_and_detach_removes_them_all(xlpy):
    """The keys libxl__set_xenstore_nic writes (the lab compares their values
    with the real xl's): an MTU other than 1500 and a rate reach netback, the
    MAC is printed as libxl prints it, the script is Xen's vif-bridge."""
    from xlpy.api import open as open_host

    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("network-attach", "demo-pvh", "mac=00:16:3E:AB:CD:EF", "mtu=9000", "rate=10Mb/s", "vifname=web0")
    with open_host("model") as host:
        xs = host.toolstack.backend
        back, front = "/local/domain/0/backend/vif/1/1", "/local/domain/1/device/vif/1"  # after the config's vif 0
        assert sorted(xs.xs_list(back)) == sorted([
            "bridge", "frontend", "frontend-id", "handle", "hotplug-status", "mac", "mtu", "online", "rate",
            "script", "state", "type", "vifname"])
        assert [xs.xs_read(f"{back}/{key}") for key in ("mac", "mtu", "rate", "script", "type", "bridge")] == \
            ["00:16:3e:ab:cd:ef", "9000", "62500,50000", "/etc/xen/scripts/vif-bridge", "vif", "xenbr0"]
        assert sorted(xs.xs_list(front)) == ["backend", "backend-id", "handle", "mac", "mtu", "state", "trusted"]
        assert [xs.xs_read(f"{front}/{key}") for key in ("mtu", "trusted")] == ["9000", "1"]
    xlpy("network-detach", "demo-pvh", "1")
    with open_host("model") as host:
        xs = host.toolstack.backend
        assert [xs.xs_list(path) for path in (back, front, "/libxl/1/device/vif/1")] == [[], [], []]


def test_a_pv_guest_s_qcow2_disk_is_refused_before_any_domain_exists(xlpy, tmp_path):
    cfg = tmp_path / "q.cfg"
    cfg.write_text('name = "q"\ntype = "pvh"\nkernel = "%s"\nmemory = 64\n'
                   'disk = [ "format=qcow2, vdev=xvda, target=/images/q.qcow2" ]\n'
                   % (Path(__file__).parents[1] / "configs" / "kernels" / "demo-pvh.elf"))
    r = xlpy("create", "-q", str(cfg), ok=False)
    assert r.returncode == 3 and r.stderr.strip().endswith(
        "disk xvda: format qcow2 needs QEMU's qdisk backend, which xlpy starts only for HVM guests "
        "(use a raw image or a block device)")
    assert [line.split()[0] for line in xlpy("list").stdout.splitlines()[1:]] == ["Domain-0"]


def test_a_driver_domain_s_device_is_refused_not_plugged_into_domain_0(xlpy, tmp_path):
    """backend= names a driver domain, where libxl would plug the device; xlpy
    plugs into Domain-0 only, which would put the guest on another network
    than asked: create refuses before any domain exists, as does a hot-plug."""
    cfg = tmp_path / "dd.cfg"
    cfg.write_text('name = "dd"\ntype = "pvh"\nkernel = "%s"\nmemory = 64\nvif = [ "bridge=br1,backend=netdom" ]\n'
                   % (Path(__file__).parents[1] / "configs" / "kernels" / "demo-pvh.elf"))
    r = xlpy("create", "-q", str(cfg), ok=False)
    assert r.returncode == 3 and r.stderr.strip().endswith(
        "vif 0: backend=netdom: devices served by a driver domain are not supported (xlpy plugs devices into Domain-0)")
    assert [line.split()[0] for line in xlpy("list").stdout.splitlines()[1:]] == ["Domain-0"]
    xlpy("create", "-q", "configs/pvh.cfg")
    r = xlpy("network-attach", "demo-pvh", "backend=netdom", ok=False)
    assert r.returncode == 1 and "backend=netdom: devices served by a driver domain" in r.stderr
    r = xlpy("block-attach", "demo-pvh", "/dev/vg/data,raw,xvdb,rw,backend=stordom", ok=False)
    assert r.returncode == 1 and "disk xvdb: backend=stordom: devices served by a driver domain" in r.stderr
    assert xlpy("network-list", "demo-pvh").stdout.count("\n") == 2  # the header and the config's vif 0
    xlpy("create", "-q", "configs/pvh.cfg", 'name="dd0"', 'vif=["backend=Domain-0"]')  # Domain-0 by name is fine
