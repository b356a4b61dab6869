"""`xlpy list` lines are xl's, byte for byte: the same five domains that
../shared's shim feeds the real xl, formatted by xlpy's renderer."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import SHARED, XEN_PACKAGES_HINT, require
from xlpy.backends.base import DomainInfo, ShutdownReason
from xlpy.cli.show import LIST_HEADER, list_line

XL = Path("/usr/lib/xen-4.17/bin/xl")

# The shim's fake domains (id, name, state, pages, cpu ns, vcpus), as DomainInfo.
FAKE = [
    (0, "Domain-0", dict(running=True), 192000, 11794300000000, 4),
    (1, "pvh-guest", dict(blocked=True), 262144, 12340000000, 2),
    (2, "paused-one", dict(paused=True), 65536, 300000000, 1),
    (3, "crashed", dict(shutdown=True, reason=ShutdownReason.CRASH), 65536, 1000000000, 1),
    (4, "a-really-long-domain-name-that-exceeds-forty-chars", dict(shutdown=True, dying=True,
                                                                 reason=ShutdownReason.POWEROFF), 1024, 0, 1),
]


def info(domid, name, state, pages, ns, vcpus) -> DomainInfo:
    return DomainInfo(
        domid=domid, name=name, uuid="", hvm=False, legacy_pvh=False,
        running=state.get("running", False), blocked=state.get("blocked", False),
        paused=state.get("paused", False), shutdown=state.get("shutdown", False),
        shutdown_reason=state.get("reason"), dying=state.get("dying", False),
        crashed=state.get("reason") is ShutdownReason.CRASH, tot_pages=pages, max_pages=pages,
        outstanding_pages=0, online_vcpus=vcpus, max_vcpus=vcpus, cpu_time_ns=ns,
    )


def test_list_matches_the_real_xl(tmp_path):
    shim_src = SHARED / "oracles" / "xl-dryrun" / "shim.c"
    require(shim_src.is_file() and XL.is_file(), f"needs ../shared and Debian's xl ({XEN_PACKAGES_HINT})")
    shim = tmp_path / "shim.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(shim_src), "-I/usr/include"], check=True)
    real = subprocess.run([str(XL), "list"], env=dict(os.environ, LD_PRELOAD=str(shim)),
                          capture_output=True, text=True, check=True).stdout
    ours = "\n".join([LIST_HEADER] + [list_line(info(*d)) for d in FAKE]) + "\n"
    assert ours == real
