"""PV devices on a real host, as libxl_device.c plugs and unplugs them.

Add: the frontend's nodes (the guest owns them, Domain-0 reads), the
backend's (Domain-0 owns them, the guest reads) and libxl's copy, in one
xenstore transaction; then the backend driver's InitWait, and the hotplug
script named in the backend (`block` loops a file and writes the
physical-device the driver waits for; `vif-bridge` puts netback's interface,
and an HVM guest's emulated twin's tap, on the bridge). Remove: offline and
Closing, Closed awaited, the script's remove, the nodes gone.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time

from xlpy.backends.base import BackendError, device_paths
from xlpy.backends.libxc import structs as S

INIT_TIMEOUT = 10  # seconds, LIBXL_INIT_TIMEOUT: the backend driver's InitWait
DESTROY_TIMEOUT = 10  # LIBXL_DESTROY_TIMEOUT: its Closed
HOTPLUG_TIMEOUT = 40  # LIBXL_HOTPLUG_TIMEOUT: the script's run
XENBUS_INIT_WAIT, XENBUS_CLOSING, XENBUS_CLOSED = 2, 5, 6
# Backends no kernel driver answers for: consoles (xenconsoled reads them) and
# QEMU's, which xlpy stops before a domain's devices go (libxl's QEMU_BACKEND).
NO_BACKEND_DRIVER = {"console", "vuart", "qdisk", "vfb", "qusb", "vkbd"}


def add(backend, domid: int, kind: str, devid: int, back: dict[str, str], front: dict[str, str],
        backend_kind: str | None = None, read_only_front: dict[str, str] | None = None) -> None:
    if back.get("type") == "phy":
        _check_phy_target(back.get("params", ""))
    front_path, back_path, libxl_path = device_paths(domid, kind, devid, backend_kind)
    guest_owned = [(domid, S.XS_PERM_NONE), (0, S.XS_PERM_READ)]
    dom0_owned = [(0, S.XS_PERM_NONE), (domid, S.XS_PERM_READ)]

    def write(transaction: int) -> None:
        for path in (libxl_path, front_path, back_path):
            backend.xs_rm(path, transaction)
        for path, nodes, perms in ((front_path, {"backend": back_path, **front}, guest_owned),
                                   (back_path, {"frontend": front_path, **back}, dom0_owned)):
            backend.xs_write(path, "", transaction)
            backend.xs_set_permissions(path, perms, transaction)
            for key, value in nodes.items():
                backend.xs_write(f"{path}/{key}", value, transaction)
        for key, value in (read_only_front or {}).items():
            backend.xs_write(f"{front_path}/{key}", value, transaction)
            backend.xs_set_permissions(f"{front_path}/{key}", dom0_owned, transaction)
        for key, value in {"frontend": front_path, "backend": back_path, **back}.items():
            backend.xs_write(f"{libxl_path}/{key}", value, transaction)

    backend.xs_transaction(write)
    script = back.get("script")
    if script is None:  # a backend in QEMU: it connects by itself
        return
    try:
        if not _wait_state(backend, back_path, {XENBUS_INIT_WAIT}, INIT_TIMEOUT):
            raise BackendError(f"unable to initialize device {back_path}: its backend driver did not answer "
                               f"within {INIT_TIMEOUT}s (is xen-blkback/xen-netback loaded?)", "add_device")
        _hotplug(backend, script, True, domid, kind, devid)
    except BaseException:
        try:
            remove(backend, domid, kind, devid, force=True)
        except BackendError:
            pass  # what the add met is the error to report
        raise


def remove(backend, domid: int, kind: str, devid: int, force: bool = False) -> None:
    front_path, back_path, libxl_path = device_paths(domid, kind, devid)
    back_path = backend.xs_read(f"{libxl_path}/backend") or back_path  # libxl's record says where
    if back_path.split("/")[5] in NO_BACKEND_DRIVER:  # nothing to wait for: the nodes go
        for path in (front_path, back_path, libxl_path):
            _path_cleanup(backend, path)
        return
    script = backend.xs_read(f"{back_path}/script")

    def offline(transaction: int) -> None:
        if force:  # the guest will not answer: the backend sees its frontend gone
            backend.xs_rm(front_path, transaction)
        state = backend.xs_read(f"{back_path}/state", transaction)
        if state is None:
            return
        backend.xs_write(f"{back_path}/online", "0", transaction)
        if int(state) != XENBUS_CLOSED:
            backend.xs_write(f"{back_path}/state", str(XENBUS_CLOSING), transaction)

    backend.xs_transaction(offline)
    closed = _wait_state(backend, back_path, {XENBUS_CLOSED}, DESTROY_TIMEOUT)
    if not closed and not force:  # libxl then forces it
        remove(backend, domid, kind, devid, force=True)
        return
    try:
        if script and backend.xs_read(f"{back_path}/state") is not None:
            _hotplug(backend, script, False, domid, kind, devid)
    finally:
        for path in (front_path, back_path, libxl_path):
            _path_cleanup(backend, path)


def _check_phy_target(path: str) -> None:
    """libxl__device_disk_set_backend's check, before anything is written:
    blkback takes a block device, or a regular file the block script loops."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise BackendError(f"failed to stat {path}: {e.strerror}", "stat", e.errno) from None
    if not (stat.S_ISBLK(mode) or stat.S_ISREG(mode)):
        raise BackendError(f"{path} is neither a block device nor a file", "stat")


def _hotplug(backend, script: str, adding: bool, domid: int, kind: str, devid: int) -> None:
    """Run the device's script as libxl does (its environment and arguments,
    no terminal), and fail with what the script left in hotplug-error."""
    base = f"backend/{kind}/{domid}/{devid}"
    env = {**os.environ, "script": script, "XENBUS_TYPE": kind, "XENBUS_PATH": base, "XENBUS_BASE_PATH": "backend"}
    for args, extra in _script_runs(backend, base, kind, domid, devid, adding):
        try:
            done = subprocess.run([script, *args], env={**env, **extra}, stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=HOTPLUG_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BackendError(f"hotplug script {script} {args[0]}: {e}", "hotplug") from None
        if done.returncode != 0:
            why = backend.xs_read(f"/local/domain/0/{base}/hotplug-error")
            if not why:
                lines = done.stderr.strip().splitlines()
                why = lines[-1] if lines else f"exit status {done.returncode}"
            raise BackendError(f"{script} {args[0]} failed: {why}", "hotplug")


def _script_runs(backend, base: str, kind: str, domid: int, devid: int,
                 adding: bool) -> list[tuple[list[str], dict[str, str]]]:
    """libxl__get_hotplug_script_info: (arguments, environment) of each run.
    A vbd's script runs once (add/remove); a vif's once for netback's
    interface (online/offline) and, for an emulated twin, again for QEMU's
    tap, both knowing the two names and the gateway device."""
    if kind != "vif":
        return [(["add" if adding else "remove"], {})]
    from xlpy.domain.xsdevice import nic_devname

    emulated = backend.xs_read(f"/local/domain/0/{base}/type") == "vif_ioemu"
    env = {"netdev": backend.xs_read(f"/local/domain/0/{base}/gatewaydev") or "",
           "vif": nic_devname(domid, devid),
           **({"INTERFACE": nic_devname(domid, devid, emulated=True)} if emulated else {})}
    runs = [(["online" if adding else "offline", "type_if=vif"], env)]
    if emulated:
        runs.append((["add" if adding else "remove", "type_if=tap"], env))
    return runs


def _path_cleanup(backend, path: str) -> None:
    """libxl__xs_path_cleanup: the node, then each parent left empty."""
    backend.xs_rm(path)
    parent = path.rsplit("/", 1)[0]
    while parent.count("/") > 3 and not backend.xs_list(parent):  # never a domain's home
        backend.xs_rm(parent)
        parent = parent.rsplit("/", 1)[0]


def _wait_state(backend, back_path: str, wanted: set[int], timeout: float) -> bool:
    """Poll the backend's state until it is one of `wanted` (True), or time out."""
    deadline = time.monotonic() + timeout
    while True:
        state = backend.xs_read(f"{back_path}/state")
        if state is not None and state.isdigit() and int(state) in wanted:
            return True
        if state is None or time.monotonic() >= deadline:
            return state is None and XENBUS_CLOSED in wanted
        time.sleep(0.05)

