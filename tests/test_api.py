"""The Python API: the same toolstack as the CLI, with typed errors."""

from __future__ import annotations

import pytest

import xlpy.api as xl
from conftest import ROOT


@pytest.fixture
def host(state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    with xl.open() as h:
        yield h


def test_a_guest_life_from_python(host):
    guest = host.create("configs/pvh.cfg", overrides=["vcpus=3"])
    guest.wait_for("running", timeout=5)
    assert (guest.name, guest.vcpus, guest.memory_mib) == ("demo-pvh", 3, 256)
    assert [d.name for d in host.domains()] == ["Domain-0", "demo-pvh"]
    guest.pause()
    assert guest.state == "paused"
    guest.unpause()
    rebooted = guest.reboot(wait=True)
    assert rebooted.domid != guest.domid and rebooted.uuid == "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f"
    rebooted.shutdown(wait=True)
    assert rebooted.state == "gone"


def test_typed_errors(host, tmp_path):
    with pytest.raises(xl.DomainNotFound):
        host.lookup("nosuch")
    bad = tmp_path / "bad.cfg"
    bad.write_text('name = "x"\ntype = "pvhx"\nkernel = "k"\n')
    with pytest.raises(xl.ConfigError, match=r"bad.cfg:2:8: error T101 Invalid domain type pvhx"):
        host.create(bad)
    host.create("configs/pvh.cfg")
    with pytest.raises(xl.NameInUse):
        host.create("configs/pvh.cfg")
    with pytest.raises(xl.NotEnoughMemory):
        host.create("configs/pvh.cfg", overrides=['name="big"', 'uuid="0b7c41a2-5d1e-4c39-8f0e-000000000001"',
                                                "memory=100000", "maxmem=100000"])
    guest = host.lookup("demo-pvh")
    guest.pause()
    with pytest.raises(xl.WaitTimeout):
        guest.wait_for("shutdown", timeout=0.2)


def test_save_and_restore_from_python(host, tmp_path):
    guest = host.create("configs/pvh.cfg", overrides=["vcpus=3"])
    path = str(tmp_path / "guest.save")
    guest.save(path)
    assert guest.state == "gone"
    back = host.restore(path)
    assert (back.name, back.uuid, back.vcpus) == ("demo-pvh", "6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f", 3)
    back.save(path, leave_running=True)
    with pytest.raises(xl.NameInUse):
        host.restore(path)
    (tmp_path / "bad.save").write_bytes(b"not a save file" * 4)
    with pytest.raises(xl.Error, match="wrong magic number"):
        host.restore(str(tmp_path / "bad.save"))
    assert [d.name for d in host.domains()] == ["Domain-0", "demo-pvh"]


def test_rename_restart_within_the_same_minute_leaves_the_domain_as_xl_does(host, monkeypatch):
    """The preserved name has a minute's resolution: a second rename-restart
    in the same minute finds it taken, and, as xl, restarts nothing and leaves
    the dead domain in place, instead of failing the command that reaped it."""
    import xlpy.toolstack

    monkeypatch.setattr(xlpy.toolstack.time, "strftime", lambda fmt, *args: "-20261202T1200Z")
    first = host.create("configs/pvh.cfg", overrides=['on_poweroff="rename-restart"'])
    first.shutdown(wait=True)
    assert [(d.name, d.state) for d in host.domains()][1:] == [("demo-pvh-20261202T1200Z", "shutdown"),
                                                               ("demo-pvh", "running")]
    host.lookup("demo-pvh").shutdown(wait=True)
    assert [(d.name, d.state) for d in host.domains()][1:] == [("demo-pvh-20261202T1200Z", "shutdown"),
                                                               ("demo-pvh", "shutdown")]
