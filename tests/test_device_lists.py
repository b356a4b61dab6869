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
