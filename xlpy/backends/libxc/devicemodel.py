"""An HVM guest's device model, QEMU, started in dom0 and stopped with the
domain, as libxl__spawn_local_dm and libxl__destroy_device_model do it.

QEMU runs in its own session so it outlives the xlpy command that started
it; its pid is kept in xenstore (image/device-model-pid), where any later
xlpy finds it to stop it. It says it is ready by writing "running" to
/local/domain/0/device-model/<domid>/state.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from xlpy.backends.base import BackendError, NotAvailable
from xlpy.domain.devicemodel import RUN_DIR, qmp_socket, resume_file, save_file, xenstore_dir

QEMU = "/usr/libexec/xen-qemu-system-i386"  # where Debian's libxl looks for qemu-system-xen's binary
START_TIMEOUT = 60.0  # LIBXL_DEVICE_MODEL_START_TIMEOUT
STOP_TIMEOUT = 10.0
LOG_DIR = "/var/log/xen"


def pid_path(domid: int) -> str:
    return f"/local/domain/{domid}/image/device-model-pid"


def start(backend, domid: int, args: list[str], name: str, timeout: float = START_TIMEOUT,
          pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Spawn QEMU for `domid` and wait until it runs; on failure it is stopped
    again. `pass_fds` stay open in QEMU under their numbers (a restore's saved
    device state, named in `args` as -incoming fd:N)."""
    if not os.access(QEMU, os.X_OK):
        raise NotAvailable(f"HVM guests need the device model {QEMU} (apt-get install qemu-system-xen)",
                           "spawn_local_dm")
    os.makedirs(RUN_DIR, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    backend.xs_write(xenstore_dir(domid), "")
    log_path = f"{LOG_DIR}/qemu-dm-{name or domid}.log"
    # xsa-180: QEMU limits what the guest can make it write to its log.
    env = {**os.environ, "XEN_QEMU_CONSOLE_LIMIT": os.environ.get("XEN_QEMU_CONSOLE_LIMIT", "1048576"),
           "XEN_DOMAIN_ID": str(domid)}
    with open(log_path, "ab") as log:
        process = subprocess.Popen([QEMU, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                   cwd="/", start_new_session=True, pass_fds=pass_fds)
    backend.xs_write(pid_path(domid), str(process.pid))
    deadline = time.monotonic() + timeout
    while backend.xs_read(f"{xenstore_dir(domid)}/state") != "running":
        status = process.poll()
        if status is not None:
            raise BackendError(f"the device model exited (status {status}) before running: "
                               f"{_last_line(log_path) or 'see ' + log_path}", "spawn_local_dm")
        if time.monotonic() > deadline:
            stop(backend, domid, process)
            raise BackendError(f"the device model did not report running within {timeout:g}s (see {log_path})",
                               "spawn_local_dm")
        time.sleep(0.1)
    return process


def save_state(domid: int) -> str:
    """libxl__qmp_suspend_save: QEMU stops its emulation and writes its
    device state to the file libxl names (libxl__device_model_savefile),
    which libxl opens and hands over (add-fd, then /dev/fdset/N); `live`
    false, as for a save rather than a migration. Returns the file; on
    failure it is removed and QEMU is left stopped, for the caller's resume."""
    from xlpy.backends.libxc.qmp import Qmp

    path = save_file(domid)
    with Qmp(qmp_socket(domid)) as qmp:
        qmp.execute("stop")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                fdset = qmp.execute("add-fd", fd=fd)["fdset-id"]
            finally:
                os.close(fd)
            qmp.execute("xen-save-devices-state", {"live": False, "filename": f"/dev/fdset/{fdset}"})
        except BaseException as e:
            _remove(path)
            if isinstance(e, (KeyError, TypeError)):
                raise BackendError("QEMU's answer to add-fd has no fdset-id", "qmp add-fd") from None
            raise
    return path


def set_logdirty(domid: int, enable: bool) -> None:
    """domain_suspend_switch_qemu_xen_logdirty: QEMU marks the guest pages
    it writes dirty for libxc, or stops (xen-set-global-dirty-log)."""
    from xlpy.backends.libxc.qmp import Qmp

    with Qmp(qmp_socket(domid)) as qmp:
        qmp.execute("xen-set-global-dirty-log", {"enable": enable})


def resume(domid: int) -> None:
    """libxl__dm_resume: QEMU carries on emulating (QMP cont)."""
    from xlpy.backends.libxc.qmp import Qmp

    with Qmp(qmp_socket(domid)) as qmp:
        qmp.execute("cont")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def stop(backend, domid: int, process: subprocess.Popen | None = None) -> None:
    """Stop the domain's QEMU, if it has one, and forget its xenstore state
    and the device state saved or restored for it (libxl removes both files
    as the domain goes)."""
    pid = _our_pid(backend.xs_read(pid_path(domid)), domid)
    if pid is not None:
        try:  # QEMU may exit on its own meanwhile: then there is nothing to stop
            os.kill(pid, signal.SIGHUP)  # QEMU's orderly exit, as libxl asks for it
            if not _wait_exit(pid, process, STOP_TIMEOUT):
                os.kill(pid, signal.SIGKILL)
                _wait_exit(pid, process, STOP_TIMEOUT)
        except ProcessLookupError:
            pass
    backend.xs_rm(xenstore_dir(domid))
    for path in (qmp_socket(domid), f"{RUN_DIR}/qmp-libxenstat-{domid}", save_file(domid), resume_file(domid)):
        _remove(path)


def _our_pid(text: str | None, domid: int) -> int | None:
    """The pid, if it is still QEMU serving this domain (pids get reused)."""
    if not text or not text.isdigit():
        return None
    try:
        with open(f"/proc/{text}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    serves = any(a == b"-xen-domid" and b == str(domid).encode() for a, b in zip(argv, argv[1:]))
    return int(text) if serves else None


def _wait_exit(pid: int, process: subprocess.Popen | None, timeout: float) -> bool:
    if process is not None:  # our own child: reap it, or it lingers as a zombie
        try:
            process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for whoever inherited it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
