"""The device model's part of an HVM save and restore, against a real QEMU
(the host's qemu-system-x86_64 with no machine, which speaks the same QMP
and has the same state commands as qemu-system-xen, without needing Xen):
what libxl sends to save QEMU's device state and to let QEMU carry on, and
QEMU loading that state from the descriptor a restore hands it."""

from __future__ import annotations

import os
import shutil
import subprocess
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
