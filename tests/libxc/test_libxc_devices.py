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
        if self.driver and path.startswith("/local/domain/0/backend/") and path.endswith("/state"):
            self.store[path] = {"1": "2", "5": "6"}.get(value, value)  # probed; closed once offline

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


def plug_vif(host, script_path, nic):
    from xlpy.domain.xsdevice import nic_nodes

    back, front, read_only = nic_nodes(7, nic)
    devices.add(host, 7, "vif", nic.devid, {**back, "script": script_path}, front, None, read_only)


def vif(**settings):
    from xlpy.domain.devices import DeviceNic, NicType
    from xlpy.domain.setdefault import nic_setdefault
    from xlpy.domain.config import DomainType

    nic = DeviceNic(devid=0, mac="00:16:3e:00:00:01", **settings)
    nic_setdefault(nic, DomainType.HVM if nic.nictype is NicType.VIF_IOEMU else DomainType.PVH, hotplug=False)
    return nic


def test_a_vif_is_bridged_by_its_script_with_libxl_s_arguments_and_names(tmp_path):
    """libxl runs vif-bridge `online type_if=vif` (`offline` on removal), with
    netback's interface name and the gateway device in the environment; the
    guest may read its MTU but not change it."""
    log = tmp_path / "calls"
    host = Host()
    plug_vif(host, script(tmp_path, f'echo "$* vif=$vif netdev=$netdev INTERFACE=$INTERFACE '
                                    f'$XENBUS_PATH" >> {log}\n'), vif(gatewaydev="eth1"))
    front, back = "/local/domain/7/device/vif/0", "/local/domain/0/backend/vif/7/0"
    assert host.perms[f"{front}/mtu"] == [(0, S.XS_PERM_NONE), (7, S.XS_PERM_READ)]
    assert host.perms[front] == [(7, S.XS_PERM_NONE), (0, S.XS_PERM_READ)]
    assert (host.store[f"{front}/mtu"], host.store[f"{back}/hotplug-status"]) == ("1500", "")
    assert log.read_text() == "online type_if=vif vif=vif7.0 netdev=eth1 INTERFACE= backend/vif/7/0\n"
    devices.remove(host, 7, "vif", 0)
    assert log.read_text().splitlines()[-1] == "offline type_if=vif vif=vif7.0 netdev=eth1 INTERFACE= backend/vif/7/0"
    assert host.store == {}


def test_an_emulated_twin_s_tap_is_bridged_by_a_second_run(tmp_path):
    from xlpy.domain.devices import NicType

    log = tmp_path / "calls"
    host = Host()
    plug_vif(host, script(tmp_path, f'echo "$* vif=$vif INTERFACE=$INTERFACE" >> {log}\n'),
             vif(nictype=NicType.VIF_IOEMU))
    devices.remove(host, 7, "vif", 0)
    assert log.read_text().splitlines() == [
        "online type_if=vif vif=vif7.0 INTERFACE=vif7.0-emu", "add type_if=tap vif=vif7.0 INTERFACE=vif7.0-emu",
        "offline type_if=vif vif=vif7.0 INTERFACE=vif7.0-emu", "remove type_if=tap vif=vif7.0 INTERFACE=vif7.0-emu"]


def test_a_failing_vif_script_fails_the_add_and_leaves_nothing(tmp_path):
    host = Host()
    failing = script(tmp_path, '[ "$1" = offline ] && exit 0\necho "Could not find bridge device xenbr9" >&2; exit 1\n')
    with pytest.raises(BackendError, match="online failed: Could not find bridge device xenbr9"):
        plug_vif(host, failing, vif(bridge="xenbr9"))
    assert host.store == {}
