"""An HVM guest's device model, QEMU, started in dom0 and stopped with the
domain, as libxl__spawn_local_dm and libxl__destroy_device_model do it.

QEMU runs in its own session so it outlives the xlpy command that started
it; its pid is kept in xenstore (image/device-model-pid), where any later
xlpy finds it to stop it. As libxl does when it pre-opens QEMU's QMP socket
(libxl__pre_open_qmp_socket), QEMU gets the listening socket and starts
stopped (-S); it is ready when QMP's query-status says so ("prelaunch", or
"paused" once a restore's device state is loaded), and it emulates from the
domain's unpause (QMP cont, libxl__dm_resume) on, which is also when it
writes "running" to /local/domain/0/device-model/<domid>/state. Once ready,
what QEMU chose is published where xl's clients look for it, as libxl's
device_model_postconfig_* steps do (serial ptys, the VNC server's address),
and QEMU is given the VNC password, which never goes on its command line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

from xlpy.backends.base import BackendError, NotAvailable
from xlpy.backends.libxc.qmp import Qmp
from xlpy.domain.devicemodel import RUN_DIR, qmp_socket, resume_file, save_file, xenstore_dir

QEMU = "/usr/libexec/xen-qemu-system-i386"  # where Debian's libxl looks for qemu-system-xen's binary
START_TIMEOUT = 60.0  # LIBXL_DEVICE_MODEL_START_TIMEOUT
STOP_TIMEOUT = 10.0
LOG_DIR = "/var/log/xen"


def pid_path(domid: int) -> str:
    return f"/local/domain/{domid}/image/device-model-pid"


def open_monitor(domid: int) -> int:
    """libxl__pre_open_qmp_socket: a socket listening at the domain's QMP
    path (any stale one removed first), whose descriptor QEMU inherits."""
    path = qmp_socket(domid)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _remove(path)
        sock.bind(path)
        sock.listen(1)
    except OSError as e:
        sock.close()
        raise BackendError(f"cannot open the device model's QMP socket {path}: {e.strerror or e}",
                           "pre_open_qmp_socket") from None
    return sock.detach()


def start(backend, domid: int, args: list[str], name: str, timeout: float | None = None,
          pass_fds: tuple[int, ...] = (), vnc_password: str | None = None) -> subprocess.Popen:
    """Spawn QEMU for `domid`, its QMP socket among `pass_fds` (open_monitor)
    and -S in `args`, wait until QMP says it is ready, stopped, and publish
    what it chose (_postconfig); on failure it is stopped again. `pass_fds`
    stay open in QEMU under their numbers (the monitor, a restore's saved
    device state named in `args` as -incoming fd:N)."""
    if not os.access(QEMU, os.X_OK):
        raise NotAvailable(f"HVM guests need the device model {QEMU} (apt-get install qemu-system-xen)",
                           "spawn_local_dm")
    timeout = START_TIMEOUT if timeout is None else timeout
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
    # libxl's device_model_qmp_cb: a restored QEMU has loaded its state and waits paused.
    expected = "paused" if "-incoming" in args else "prelaunch"
    started = time.monotonic()
    try:
        with Qmp(qmp_socket(domid), timeout, alive=lambda: process.poll() is None) as qmp:
            _wait_ready(qmp, expected, timeout)
            _postconfig(backend, domid, qmp, _vnc_enabled(args), vnc_password)
    except BackendError as e:
        try:
            code = process.wait(0.5)  # a QEMU that died: its own last word says why
        except subprocess.TimeoutExpired:
            code = None
        stop(backend, domid, process)
        if code is not None:
            raise BackendError(f"the device model exited (status {code}) before running: "
                               f"{_last_line(log_path) or 'see ' + log_path}", "spawn_local_dm") from None
        if time.monotonic() - started >= timeout:
            raise BackendError(f"the device model did not answer QMP within {timeout:g}s (see {log_path})",
                               "spawn_local_dm") from None
        raise BackendError(f"the device model did not start: {e.message} (see {log_path})", "spawn_local_dm") from None
    return process


def _wait_ready(qmp, expected: str, timeout: float) -> None:
    """Until QEMU's QMP query-status answers `expected`; "inmigrate" while a
    restore's device state is still loading."""
    deadline = time.monotonic() + timeout
    while True:
        reply = qmp.execute("query-status")
        status = reply.get("status") if isinstance(reply, dict) else None
        if status == expected:
            return
        if status != "inmigrate":
            raise BackendError(f"QEMU's status is {status!r}, not {expected!r}", "qmp query-status")
        if time.monotonic() >= deadline:
            raise BackendError(f"QEMU was still loading its saved state after {timeout:g}s", "qmp query-status")
        time.sleep(0.1)


def _vnc_enabled(args: list[str]) -> bool:
    return "-vnc" in args and args[args.index("-vnc") + 1] != "none"


def _postconfig(backend, domid: int, qmp, vnc: bool, vnc_password: str | None) -> None:
    """libxl's device_model_postconfig_chardev, _vnc and _vnc_passwd: each
    serial port QEMU put on a pty goes to /local/domain/<domid>/serial/<n>/tty
    (where xenconsole --type serial looks); with VNC on, the address QEMU
    listens at goes to console/vnc-listen and console/vnc-port (where
    vncviewer looks), and a configured password is set over QMP and kept in
    console/vnc-pass (which the guest may read, as under libxl)."""
    home = f"/local/domain/{domid}"
    chardevs = qmp.execute("query-chardev")
    if not isinstance(chardevs, list) or not all(
            isinstance(c, dict) and isinstance(c.get("label"), str) and isinstance(c.get("filename"), str)
            for c in chardevs):
        raise _unexpected("query-chardev", chardevs)
    for chardev in chardevs:
        label, filename = chardev["label"], chardev["filename"]
        if not label.startswith("serial"):
            continue
        port = label.removeprefix("serial")
        if not port.isdigit():
            raise BackendError(f"Invalid serial port number: {label}", "qmp query-chardev")
        if filename.startswith("pty:"):
            backend.xs_write(f"{home}/serial/{int(port)}/tty", filename.removeprefix("pty:"))
    if not vnc:
        return
    server = qmp.execute("query-vnc")
    if not isinstance(server, dict) or not isinstance(server.get("enabled"), bool):
        raise _unexpected("query-vnc", server)
    if server["enabled"]:
        host, service = server.get("host"), server.get("service")
        if not isinstance(host, str) or not isinstance(service, str):
            raise _unexpected("query-vnc", server)
        backend.xs_write(f"{home}/console/vnc-listen", host)
        backend.xs_write(f"{home}/console/vnc-port", service)
    if vnc_password:
        qmp.execute("change-vnc-password", {"password": vnc_password})
        backend.xs_write(f"{home}/console/vnc-pass", vnc_password)  # for vncviewer's -autopass


def _unexpected(command: str, answer) -> BackendError:
    return BackendError(f"unexpected answer to QMP {command}: {json.dumps(answer)[:200]}", f"qmp {command}")


def save_state(domid: int) -> str:
    """libxl__qmp_suspend_save: QEMU stops its emulation and writes its
    device state to the file libxl names (libxl__device_model_savefile),
    which libxl opens and hands over (add-fd, then /dev/fdset/N); `live`
    false, as for a save rather than a migration. Returns the file; on
    failure it is removed and QEMU is left stopped, for the caller's resume."""
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
    with Qmp(qmp_socket(domid)) as qmp:
        qmp.execute("xen-set-global-dirty-log", {"enable": enable})


def resume(domid: int) -> None:
    """libxl__dm_resume: QEMU carries on emulating (QMP cont)."""
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
