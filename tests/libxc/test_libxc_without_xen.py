"""On a machine without Xen: every function the shim binds exists in the real
libraries, and asking for the backend gives one clear sentence, never a
traceback (and never a dummy handle, which crashes on its first hypercall)."""

from __future__ import annotations

import ctypes
import os
import re

import pytest

from conftest import XEN_PACKAGES_HINT, require, run_xlpy
from xlpy.backends.libxc.lib import BINDINGS, SONAMES


def test_every_bound_function_resolves_in_the_real_libraries():
    require(ctypes.util.find_library("xenctrl") is not None, f"libxenctrl is not installed ({XEN_PACKAGES_HINT})")
    for lib, functions in BINDINGS.items():
        handle = ctypes.CDLL(SONAMES[lib])
        missing = [name for name in functions if not hasattr(handle, name)]
        assert missing == [], f"{SONAMES[lib]} lacks {missing}"


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
