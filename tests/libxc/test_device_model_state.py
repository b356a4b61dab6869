"""The device model's start and its part of an HVM save and restore, against
a real QEMU (the host's qemu-system-x86_64 with no machine, which speaks the
same QMP and has the same state commands as qemu-system-xen, without needing
Xen): what libxl sends to save QEMU's device state and to let QEMU carry on,
QEMU loading that state from the descriptor a restore hands it, and what a
started QEMU chose (serial ptys, the VNC address) published for xl's clients."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require
from xlpy.backends.base import BackendError
from xlpy.backends.libxc import devicemodel
from xlpy.backends.libxc.qmp import Qmp
from xlpy.domain import devicemodel as dm

QEMU = shutil.which("qemu-system-x86_64")
DOMID = 7
# What QEMU's Xen accelerator sets for the machines libxl starts: device state
# without the configuration section, global state or section footers.
AS_UNDER_XEN = ["-global", "migration.send-configuration=off", "-global", "migration.store-global-state=off",
                "-global", "migration.send-section-footer=off"]


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    run, lib = tmp_path / "run", tmp_path / "lib"
    run.mkdir(), lib.mkdir()
    monkeypatch.setattr(dm, "RUN_DIR", str(run))
    monkeypatch.setattr(dm, "LIB_DIR", str(lib))
    return run, lib


def qemu(extra: list[str] = (), pass_fds=()) -> subprocess.Popen:
    """QEMU with its QMP socket where libxl's is for domain DOMID."""
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    process = subprocess.Popen([QEMU, "-machine", "none", "-accel", "tcg", "-nodefaults", "-display", "none",
                                "-chardev", f"socket,id=libxl-cmd,path={dm.qmp_socket(DOMID)},server=on,wait=off",
                                "-mon", "chardev=libxl-cmd,mode=control", *AS_UNDER_XEN, *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=pass_fds)
    deadline = time.monotonic() + 30
    while not os.path.exists(dm.qmp_socket(DOMID)):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    return process


def status() -> str:
    with Qmp(dm.qmp_socket(DOMID)) as qmp:
        return qmp.execute("query-status")["status"]


@pytest.fixture
def running(dirs):
    process = qemu()
    yield process
    process.kill()
    process.wait()


def test_qemu_saves_its_state_paused_and_carries_on_when_resumed(running, dirs):
    devicemodel.set_logdirty(DOMID, True)  # accepted, as libxc's setup asks for it
    path = devicemodel.save_state(DOMID)
    assert path == f"{dirs[1]}/qemu-save.{DOMID}"
    data = Path(path).read_bytes()
    assert data[:8] == b"QEVM\0\0\0\3"  # QEMU's migration stream: its magic and version 3
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert status() == "paused"
    devicemodel.resume(DOMID)
    assert status() == "running"


def test_qemu_loads_the_state_from_the_descriptor_it_was_handed(running, dirs):
    saved = devicemodel.save_state(DOMID)
    running.kill(), running.wait()
    os.unlink(dm.qmp_socket(DOMID))
    fd = os.open(saved, os.O_RDONLY)
    try:
        restored = qemu(["-incoming", f"fd:{fd}"], pass_fds=(fd,))
    finally:
        os.close(fd)
    try:
        deadline = time.monotonic() + 30
        while status() == "inmigrate" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status() == "running"  # loaded, then started on its own (no -S)
    finally:
        restored.kill(), restored.wait()


def test_a_refused_command_is_one_line_and_the_state_file_goes(running, dirs, monkeypatch):
    with Qmp(dm.qmp_socket(DOMID)) as qmp:
        with pytest.raises(BackendError, match="^QEMU refused no-such-command: The command no-such-command has not"):
            qmp.execute("no-such-command")
    real = Qmp.execute

    def refuse_save(self, command, arguments=None, fd=None):
        if command == "xen-save-devices-state":
            command = "xen-save-devices-state-injected"
        return real(self, command, arguments, fd)

    monkeypatch.setattr(Qmp, "execute", refuse_save)
    with pytest.raises(BackendError, match="QEMU refused xen-save-devices-state-injected"):
        devicemodel.save_state(DOMID)
    assert list(dirs[1].iterdir()) == []


def test_no_qemu_is_one_line(dirs):
    with pytest.raises(BackendError, match="^cannot talk to the device model over .*qmp-libxl-7: "):
        devicemodel.resume(DOMID)


def test_stopping_the_device_model_removes_its_saved_state(dirs):
    class Backend:
        def xs_read(self, path):
            return None

        def xs_rm(self, path):
            self.removed = path

    for name in (f"qemu-save.{DOMID}", f"qemu-resume.{DOMID}", f"qemu-save.{DOMID + 1}"):
        (dirs[1] / name).write_bytes(b"QEVM")
    backend = Backend()
    devicemodel.stop(backend, DOMID)
    assert backend.removed == f"/local/domain/0/device-model/{DOMID}"
    assert [p.name for p in dirs[1].iterdir()] == [f"qemu-save.{DOMID + 1}"]  # another domain's stays


class Store:
    """The xenstore nodes the device model's start and stop touch."""

    def __init__(self):
        self.nodes = {}

    def xs_read(self, path):
        return self.nodes.get(path)

    def xs_write(self, path, value):
        self.nodes[path] = value

    def xs_rm(self, path):
        self.nodes = {k: v for k, v in self.nodes.items() if k != path and not k.startswith(path + "/")}


@pytest.fixture
def spawn(dirs, tmp_path, monkeypatch):
    """devicemodel.start of a given binary, on the QMP socket it pre-opens, as
    the toolstack hands them over; QEMUs it leaves are killed at the end."""
    monkeypatch.setattr(devicemodel, "LOG_DIR", str(tmp_path / "log"))
    stores = []

    def spawn(binary: str, args: list[str], timeout: float = 30, store=None, pass_fds=(), stopped=True,
              vnc_password=None):
        monkeypatch.setattr(devicemodel, "QEMU", binary)
        store = store or Store()
        stores.append(store)
        monitor = devicemodel.open_monitor(DOMID)
        args = ["-chardev", f"socket,id=libxl-cmd,fd={monitor},server=on,wait=off", *(["-S"] if stopped else []),
                "-mon", "chardev=libxl-cmd,mode=control", *args]
        try:
            return devicemodel.start(store, DOMID, args, "guest", timeout, (monitor, *pass_fds), vnc_password)
        finally:
            os.close(monitor)

    yield spawn
    for store in stores:  # the host's QEMU has no -xen-domid for stop() to know it by
        pid = store.nodes.get(devicemodel.pid_path(DOMID))
        if pid and devicemodel._alive(int(pid)):
            os.kill(int(pid), 9)


QEMU_NONE = ["-machine", "none", "-accel", "tcg", "-nodefaults", "-display", "none", *AS_UNDER_XEN]


def test_qemu_starts_stopped_on_the_pre_opened_socket_until_cont(spawn):
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    spawn(QEMU, QEMU_NONE)
    assert status() == "prelaunch"  # -S: nothing emulated until the domain is unpaused
    devicemodel.resume(DOMID)
    assert status() == "running"


def test_a_restored_qemu_is_ready_once_it_waits_paused_with_its_state(spawn, dirs):
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    spawn(QEMU, QEMU_NONE)
    saved = devicemodel.save_state(DOMID)
    fd = os.open(saved, os.O_RDONLY)
    try:
        spawn(QEMU, [*QEMU_NONE, "-incoming", f"fd:{fd}"], pass_fds=(fd,))  # the first is still there: a new socket
    finally:
        os.close(fd)
    assert status() == "paused"  # loaded, and not started on its own (-S)
    devicemodel.resume(DOMID)
    assert status() == "running"


def fake_qemu(tmp_path, body: str) -> str:
    """A device model that is not QEMU; its command line names the domain, so stop() knows it."""
    path = tmp_path / "fake-qemu"
    path.write_text(f"#!{sys.executable}\nimport sys, time\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_qemu_that_never_answers_qmp_is_one_line_and_stopped(spawn, tmp_path):
    store = Store()
    with pytest.raises(BackendError, match=r"^the device model did not answer QMP within 1s \(see .*qemu-dm-guest"
                                           r"\.log\)$"):
        spawn(fake_qemu(tmp_path, "time.sleep(60)"), ["-xen-domid", str(DOMID)], timeout=1, store=store)
    pid = int(store.nodes[devicemodel.pid_path(DOMID)])
    assert not devicemodel._alive(pid)  # stopped, not left behind
    assert dm.xenstore_dir(DOMID) not in store.nodes and not os.path.exists(dm.qmp_socket(DOMID))


def test_a_qemu_that_dies_before_answering_says_why_in_one_line(spawn, tmp_path):
    body = "print('qemu: -no-such-option: invalid option', file=sys.stderr); sys.exit(1)"
    start = time.monotonic()
    with pytest.raises(BackendError, match=r"^the device model exited \(status 1\) before running: "
                                           r"qemu: -no-such-option: invalid option$"):
        spawn(fake_qemu(tmp_path, body), ["-xen-domid", str(DOMID)])
    assert time.monotonic() - start < 10  # noticed as it died, not at the timeout


def test_a_qemu_not_stopped_is_refused_and_stopped(spawn):
    """Without -S QEMU runs at once: not the state libxl waits for."""
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    with pytest.raises(BackendError, match=r"^the device model did not start: QEMU's status is 'running', "
                                           r"not 'prelaunch' \(see "):
        spawn(QEMU, QEMU_NONE, stopped=False)


def test_a_refused_cont_is_one_line(running, monkeypatch):
    real = Qmp.execute

    def refuse_cont(self, command, arguments=None, fd=None):
        return real(self, "cont-injected" if command == "cont" else command, arguments, fd)

    monkeypatch.setattr(Qmp, "execute", refuse_cont)
    with pytest.raises(BackendError, match="^QEMU refused cont-injected: The command cont-injected has not been "
                                           "found$"):
        devicemodel.resume(DOMID)


# -- what QEMU chose, published as libxl's postconfig publishes it ------------------------------------

def test_serial_ports_on_a_pty_are_published_where_xenconsole_looks(spawn):
    """serial0 goes to /dev/null, serial1 to a pty: only serial/1/tty is written,
    and it names the terminal QEMU opened."""
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    store = Store()
    spawn(QEMU, [*QEMU_NONE, "-serial", "null", "-serial", "pty"], store=store)
    published = {k: v for k, v in store.nodes.items() if "/serial/" in k}
    assert list(published) == [f"/local/domain/{DOMID}/serial/1/tty"]
    tty = published[f"/local/domain/{DOMID}/serial/1/tty"]
    assert tty.startswith("/dev/pts/")
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)  # as xenconsole opens it
    try:
        assert os.isatty(fd)
    finally:
        os.close(fd)


def vnc_handshake(port: int) -> tuple[bytes, bytes]:
    """The server's RFB version and the security types it offers (RFB 3.8)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        version = sock.recv(12)
        sock.sendall(b"RFB 003.008\n")
        count = sock.recv(1)[0]
        return version, sock.recv(count)


def vnc_password_accepted(port: int, password: str) -> bool:
    """RFB's VNC authentication: the server's challenge DES-encrypted with the
    password (each key byte's bits reversed), answered by the server's result."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode()[:8].ljust(8, b"\0"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.recv(12)
        sock.sendall(b"RFB 003.008\n")
        sock.recv(sock.recv(1)[0])
        sock.sendall(bytes([2]))  # VNC authentication
        challenge = sock.recv(16)
        encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # three equal keys: single DES
        sock.sendall(encryptor.update(challenge) + encryptor.finalize())
        return int.from_bytes(sock.recv(4), "big") == 0


def test_the_vnc_address_is_published_and_the_password_set_over_qmp(spawn):
    """libxl never puts the password on QEMU's command line (ps would show it):
    QEMU starts with password=on and gets it through change-vnc-password."""
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    store = Store()
    spawn(QEMU, [*QEMU_NONE, "-vnc", "127.0.0.1:0,password=on,to=99"], store=store, vnc_password="s3cret")
    home = f"/local/domain/{DOMID}/console"
    assert store.nodes[f"{home}/vnc-listen"] == "127.0.0.1"
    port = int(store.nodes[f"{home}/vnc-port"])
    assert 5900 <= port <= 5999  # the first free display from :0, as to=99 lets QEMU choose
    version, types = vnc_handshake(port)
    assert version == b"RFB 003.008\n" and types == bytes([2])  # VNC authentication only
    assert vnc_password_accepted(port, "s3cret")
    assert not vnc_password_accepted(port, "guessed")
    assert store.nodes[f"{home}/vnc-pass"] == "s3cret"  # where vncviewer -autopass reads it


def test_without_vnc_nothing_is_published_and_no_password_sent(spawn, monkeypatch):
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    sent = []
    real = Qmp.execute

    def record(self, command, arguments=None, fd=None):
        sent.append(command)
        return real(self, command, arguments, fd)

    monkeypatch.setattr(Qmp, "execute", record)
    store = Store()
    spawn(QEMU, [*QEMU_NONE, "-vnc", "none"], store=store, vnc_password="unused")
    assert sent[-1] == "query-chardev"  # no query-vnc, no change-vnc-password: as libxl without VNC
    assert not any("/console/" in k or "/serial/" in k for k in store.nodes)


def test_a_refused_password_fails_the_start_and_stops_qemu(spawn, monkeypatch):
    require(QEMU is not None, "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    real = Qmp.execute

    def refuse(self, command, arguments=None, fd=None):
        return real(self, "change-vnc-password-injected" if command == "change-vnc-password" else command,
                    arguments, fd)

    monkeypatch.setattr(Qmp, "execute", refuse)
    store = Store()
    with pytest.raises(BackendError, match=r"^the device model did not start: QEMU refused "
                                           r"change-vnc-password-injected: .* \(see .*qemu-dm-guest\.log\)$"):
        spawn(QEMU, [*QEMU_NONE, "-vnc", "127.0.0.1:0,password=on,to=99"], store=store, vnc_password="s3cret")
    assert dm.xenstore_dir(DOMID) not in store.nodes  # stopped as any QEMU that failed to start
