"""On a machine without Xen: every function the shim binds exists in the real
libraries, and asking for the backend gives one clear sentence, never a
traceback (and never a dummy handle, which crashes on its first hypercall)."""

from __future__ import annotations

import ctypes.util
import os
import re

import pytest

from conftest import XEN_PACKAGES_HINT, require, run_xlpy
from xlpy.backends.libxc import structs as S
from xlpy.backends.libxc.lib import BINDINGS, SONAMES


def test_every_bound_function_resolves_in_the_real_libraries():
    require(ctypes.util.find_library("xenctrl") is not None, f"libxenctrl is not installed ({XEN_PACKAGES_HINT})")
    for lib, functions in BINDINGS.items():
        handle = ctypes.CDLL(SONAMES[lib])
        missing = [name for name in functions if not hasattr(handle, name)]
        assert missing == [], f"{SONAMES[lib]} lacks {missing}"


def test_the_libraries_load_by_soname_without_searching(monkeypatch):
    """The supported release loads by its soname: ldconfig (find_library's
    search) runs only to explain a failure."""
    from xlpy.backends.libxc.lib import Libraries

    require(ctypes.util.find_library("xenctrl") is not None, f"libxenctrl is not installed ({XEN_PACKAGES_HINT})")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: pytest.fail("searched for a library"))
    assert Libraries().xc_interface_open is not None


@pytest.mark.parametrize("found, said", [
    (None, "libxenctrl is not installed (on Debian: apt-get install libxenmisc4.17)"),
    ("libxenctrl.so.4.16", "found libxenctrl.so.4.16, but the libxc backend speaks Xen 4.17's interface only"),
])
def test_without_the_supported_libxenctrl_the_backend_says_why(monkeypatch, found, said):
    from xlpy.backends.base import NotAvailable
    from xlpy.backends.libxc import lib

    monkeypatch.setitem(lib.SONAMES, "xenctrl", "libxenctrl.so.0.0-absent")
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: found)
    with pytest.raises(NotAvailable) as raised:
        lib.Libraries()
    assert raised.value.message == said


@pytest.mark.skipif(os.path.exists("/dev/xen/privcmd"), reason="this machine runs Xen")
def test_without_xen_the_cli_says_so_in_one_line():
    r = run_xlpy("--backend", "libxc", "list")
    assert r.returncode == 1
    assert r.stderr == ("xlpy: no Xen hypervisor here (/dev/xen/privcmd is missing): run xlpy in a Xen dom0, "
                        "or use the model backend\n")
    r = run_xlpy("--backend", "libxc", "create", "-q", "configs/pvh.cfg")
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_legacy_pvh_is_refused_by_name(monkeypatch):
    import xlpy.backends.libxc as libxc
    from xlpy.backends.base import CreateFlags, InvalidArgument

    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    with pytest.raises(InvalidArgument, match="no legacy PVH"):
        backend.create_domain(CreateFlags(legacy_pvh=True, hap=True), "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f")


def test_a_name_is_checked_and_written_in_one_xenstore_transaction():
    """Two creates racing for one name: xenstored fails the later commit
    (EAGAIN) because a name it read changed; the retry sees the name taken."""
    import ctypes
    import errno

    import xlpy.backends.libxc as libxc
    from xlpy.backends.base import Exists

    store = {"/local/domain/0/name": "Domain-0"}
    log = []

    class Lib:
        def xs_transaction_start(self, handle):
            log.append("start")
            return len(log)

        def xs_transaction_end(self, handle, transaction, abort):
            log.append("abort" if abort else "commit")
            if not abort and log.count("commit") == 1:  # meanwhile, domain 7 took the name
                store["/local/domain/7/name"] = "web"
                ctypes.set_errno(errno.EAGAIN)
                return False
            return True

        def xs_write(self, handle, transaction, path, data, length):
            assert transaction, "the name is written inside the transaction"
            store[path.decode()] = data.decode()
            return True

    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    backend.lib, backend.xsh = Lib(), None
    backend.xs_list = lambda path, transaction=0: sorted({p.split("/")[3] for p in store})
    backend.xs_read = lambda path, transaction=0: store.get(path)
    with pytest.raises(Exists, match="'web' already exists \\(domain 7\\)"):
        backend.xs_write("/local/domain/8/name", "web")
    assert log == ["start", "commit", "start", "abort"]
    backend.xs_write("/local/domain/8/name", "db")
    assert store["/local/domain/8/name"] == "db" and log[-2:] == ["start", "commit"]


class _FakeLib:
    """The few libxenctrl calls the HVM build's own steps make, answered in process."""

    def __init__(self) -> None:
        self.page = ctypes.create_string_buffer(4096)
        self.created = None

    def xc_map_foreign_range(self, xch, domid, size, prot, pfn):
        return ctypes.addressof(self.page)

    def munmap(self, address, size):
        return 0

    def xc_domain_create(self, xch, domid, config):
        self.created = ctypes.cast(config, ctypes.POINTER(S.CreateDomain)).contents.flags
        return -1  # and fail, so create_domain stops there


def test_hvm_info_names_the_online_vcpus_and_the_apic_mode():
    """hvm_build_set_params: nr_vcpus is maxvcpus, only avail_vcpus online, apic_mode from apic=, checksum 0."""
    from types import SimpleNamespace

    from xlpy.backends.libxc.builder import _announce_vcpus

    backend = SimpleNamespace(lib=_FakeLib(), xch=None)
    table = S.HvmInfoTable.from_buffer(backend.lib.page, S.HVM_INFO_OFFSET)
    table.signature, table.length, table.nr_vcpus, table.apic_mode = b"HVM INFO", ctypes.sizeof(table), 1, 1
    table.vcpu_online[0] = 1
    _announce_vcpus(backend, 5, 10, frozenset({0, 9}), False)
    assert (table.nr_vcpus, table.apic_mode) == (10, 0)
    assert list(table.vcpu_online[:2]) == [0b1, 0b10] and not any(table.vcpu_online[2:])
    assert sum(ctypes.string_at(ctypes.addressof(table), table.length)) % 256 == 0


def test_the_create_flags_reach_the_domctl():
    import xlpy.backends.libxc as libxc
    from xlpy.backends.base import BackendError, CreateFlags

    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    backend.lib, backend.xch = _FakeLib(), None
    backend.lib.xc_get_last_error = lambda xch: None
    with pytest.raises(BackendError):
        backend.create_domain(CreateFlags(hvm=True, hap=True, nested_virt=True, oos_off=True, vpmu=True),
                              "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f")
    assert backend.lib.created == (S.XEN_DOMCTL_CDF_hvm | S.XEN_DOMCTL_CDF_hap | S.XEN_DOMCTL_CDF_nested_virt
                                   | S.XEN_DOMCTL_CDF_oos_off | S.XEN_DOMCTL_CDF_vpmu)


@pytest.mark.parametrize("scheduler, sched_id", [("credit", 5), ("credit2", 6)])
def test_weight_and_cap_go_through_the_host_scheduler_s_calls(scheduler, sched_id):
    """libxl_domain_sched_params_set calls the running scheduler's own domctl;
    credit's calls fail under credit2 (EINVAL), Xen 4.17's default."""
    import xlpy.backends.libxc as libxc
    from xlpy.backends.libxc.structs import SCHEDULERS

    assert SCHEDULERS[sched_id] == scheduler
    header = "/usr/include/xen/domctl.h"
    if os.path.exists(header):  # XEN_SCHEDULER_CREDIT(2), as the installed headers number them
        with open(header) as f:
            assert re.search(rf"#define XEN_SCHEDULER_{scheduler.upper()}\s+{sched_id}\n", f.read())
    calls = []

    class Lib:
        def xc_sched_id(self, xch, out):
            out._obj.value = sched_id
            return 0

        def __getattr__(self, name):
            def call(xch, domid, params):
                calls.append(name)
                if name.endswith("_get"):
                    params[0], params[1] = 256, 0
                return 0
            return call

    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    backend.lib, backend.xch = Lib(), None
    assert backend.sched_credit(1, weight=512) == (512, 0)
    assert calls == [f"xc_sched_{scheduler}_domain_get", f"xc_sched_{scheduler}_domain_set"]


def test_userdata_is_kept_where_and_as_libxl_keeps_it(tmp_path, monkeypatch):
    """xl reads a guest's config from /var/lib/xen/userdata-d.<domid>.<uuid>.libxl-json:
    written whole (a new file renamed over the old, mode 0600) under libxl's
    per-domain lock file, which the holder removes; b"" removes the data."""
    import fcntl
    import threading

    from types import SimpleNamespace

    import xlpy.backends.libxc as libxc

    uuid = "0b7c41a2-5d1e-4c39-8f0e-7a6b5c4d3e2f"
    monkeypatch.setattr(libxc, "USERDATA_DIR", tmp_path)
    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    backend.domain_info = lambda domid: SimpleNamespace(domid=domid, uuid=uuid)
    data = tmp_path / f"userdata-d.7.{uuid}.libxl-json"
    lock = tmp_path / f"userdata-l.7.{uuid}.domain-userdata-lock"

    # Another toolstack holds the lock: the store waits for it.
    holder = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(holder, fcntl.LOCK_EX)
    writer = threading.Thread(target=backend.store_libxl_userdata, args=(7, "libxl-json", b'{"c_info": {}}\0'))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive() and not data.exists()
    lock.unlink()  # as libxl's unlock: remove, then close
    os.close(holder)
    writer.join(5)
    assert data.read_bytes() == b'{"c_info": {}}\0' and data.stat().st_mode & 0o777 == 0o600
    assert backend.libxl_userdata(7, "libxl-json") == b'{"c_info": {}}\0'
    assert sorted(p.name for p in tmp_path.iterdir()) == [data.name]  # no lock or new file left
    backend.store_libxl_userdata(7, "libxl-json", b"")
    assert backend.libxl_userdata(7, "libxl-json") is None and list(tmp_path.iterdir()) == []


def test_a_device_that_fails_to_go_is_reported_and_the_others_still_go(capsys):
    """libxl__devices_destroy logs a device it could not remove and carries
    on: the domain is destroyed either way, and the admin learns why a
    loop device or bridge port may be left."""
    import xlpy.backends.libxc as libxc
    from xlpy.backends.base import BackendError

    records = {"/libxl/7/device": ["vbd", "vif"], "/libxl/7/device/vbd": ["51712"], "/libxl/7/device/vif": ["0", "1"]}
    removed = []

    def remove_device(domid, kind, devid, force=False):
        if (kind, devid) == ("vif", 0):
            raise BackendError("/etc/xen/scripts/vif-bridge offline failed: exit status 1", "hotplug")
        removed.append((kind, devid, force))

    backend = libxc.LibxcBackend.__new__(libxc.LibxcBackend)
    backend.xs_list = lambda path, transaction=0: records.get(path, [])
    backend.remove_device = remove_device
    backend._remove_devices(7)
    assert removed == [("vbd", 51712, True), ("vif", 1, True)]
    assert capsys.readouterr().err == ("xlpy: domain 7: unable to remove vif 0: "
                                       "/etc/xen/scripts/vif-bridge offline failed: exit status 1\n")
