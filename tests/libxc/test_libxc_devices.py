"""PV devices on the libxc backend, against a stand-in xenstore and backend
driver: the permissions libxl gives each side, the InitWait and the hotplug
script it waits for, and removal that leaves no node behind, whatever fails."""

from __future__ import annotations

import stat

import pytest

from xlpy.backends.base import BackendError
from xlpy.backends.libxc import devices
from xlpy.backends.libxc import structs as S

BACK = "/local/domain/0/backend/vbd/7/51712"
FRONT = "/local/domain/7/device/vbd/51712"
LIBXL = "/libxl/7/device/vbd/51712"


class Host:
    """A xenstore with permissions, and a backend driver that answers a new
    device with InitWait and an offline one with Closed (unless told not to)."""

    def __init__(self, driver: bool = True):
        self.store, self.perms, self.driver = {}, {}, driver

    def xs_read(self, path, transaction=0):
        return self.store.get(path)

    def xs_write(self, path, value, transaction=0):
        self.store[path] = value
        if self.driver and path == f"{BACK}/state" and value == "1":
            self.store[path] = "2"  # blkback probed the device
        if self.driver and path == f"{BACK}/state" and value == "5":
            self.store[path] = "6"

    def xs_rm(self, path, transaction=0):
        for key in [k for k in self.store if k == path or k.startswith(path + "/")]:
            del self.store[key]

    def xs_list(self, path, transaction=0):
        return sorted({k[len(path) + 1:].split("/")[0] for k in self.store if k.startswith(path + "/")})

    def xs_transaction(self, body):
        body(1)

    def xs_set_permissions(self, path, perms, transaction=0):
        self.perms[path] = list(perms)


def script(tmp_path, body: str) -> str:
    path = tmp_path / "block"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def plug(host, script_path, params=__file__):  # any regular file does as the image
    devices.add(host, 7, "vbd", 51712, {"params": params, "script": script_path, "state": "1", "type": "phy"},
                {"state": "1", "virtual-device": "51712"})


def test_the_guest_owns_its_frontend_and_domain_0_the_backend(tmp_path):
    log = tmp_path / "calls"
    host = Host()
    plug(host, script(tmp_path, f'echo "$1 $XENBUS_TYPE $XENBUS_PATH $XENBUS_BASE_PATH" >> {log}\n'))
    assert host.perms == {FRONT: [(7, S.XS_PERM_NONE), (0, S.XS_PERM_READ)],
                          BACK: [(0, S.XS_PERM_NONE), (7, S.XS_PERM_READ)]}
    assert (host.store[f"{FRONT}/backend"], host.store[f"{BACK}/frontend"]) == (BACK, FRONT)
    assert (host.store[f"{LIBXL}/backend"], host.store[f"{LIBXL}/params"]) == (BACK, __file__)
    assert log.read_text() == "add vbd backend/vbd/7/51712 backend\n"
    devices.remove(host, 7, "vbd", 51712, force=True)
    assert log.read_text().splitlines()[-1] == "remove vbd backend/vbd/7/51712 backend"
    assert host.store == {}


def test_a_backend_driver_that_never_answers_fails_the_add_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(devices, "INIT_TIMEOUT", 0.2)
    monkeypatch.setattr(devices, "DESTROY_TIMEOUT", 0.2)
    host = Host(driver=False)
    with pytest.raises(BackendError, match=r"unable to initialize device .*xen-blkback"):
        plug(host, script(tmp_path, "exit 0\n"))
    assert host.store == {}


def test_a_failing_script_says_why_and_leaves_nothing(tmp_path):
    host = Host()
    failing = script(tmp_path, '[ "$1" = add ] && { echo "the image is busy" >&2; exit 1; }; exit 0\n')
    with pytest.raises(BackendError, match=r"block add failed: the image is busy"):
        plug(host, failing)
    assert host.store == {}


def test_consoles_and_qemu_backends_just_lose_their_nodes(tmp_path):
    host = Host(driver=False)
    host.store.update({"/local/domain/7/device/console/1/backend": "/local/domain/0/backend/console/7/1",
                       "/local/domain/0/backend/console/7/1/state": "1",
                       "/libxl/7/device/console/1/backend": "/local/domain/0/backend/console/7/1"})
    devices.remove(host, 7, "console", 1, force=True)  # no wait for a driver that is not there
    assert host.store == {}



@pytest.mark.parametrize("target, why", [("/no/such.img", "failed to stat /no/such.img: No such file or directory"),
                                         ("/", "/ is neither a block device nor a file")])
def test_a_target_blkback_cannot_take_is_refused_before_any_node(tmp_path, target, why):
    host = Host()
    with pytest.raises(BackendError, match=why):
        plug(host, script(tmp_path, "exit 0\n"), params=target)
    assert host.store == {}
