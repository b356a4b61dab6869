"""xl's monitoring daemon, where guests run alone: create hands the domain
to a process of its own that carries out its on_* actions, logging as xl
does to xl-<name>.log (libxl_create_logfile's rotation included). Driven on
the model told that its guests run alone, as the libxc backend's do; the
lab proves it on a real Xen host beside xl."""

from __future__ import annotations

import os
import re
import time

import pytest
from click.testing import CliRunner

from conftest import ROOT

# Paths absolute, as a daemon works from / (xl's daemon(0, 1) too).
CONFIG_TEXT = f'''name = "demo-pvh"
type = "pvh"
kernel = "{ROOT / "configs" / "kernels" / "demo-pvh.elf"}"
memory = 256
vcpus = 2
'''


@pytest.fixture
def alone(state_dir, tmp_path, monkeypatch):
    """The model with guests that run alone; the daemons' logs in a private
    directory, each daemon waited for at the end. Returns the log directory."""
    from xlpy.backends.model import ModelBackend
    from xlpy.cli import daemon

    monkeypatch.setattr(ModelBackend, "guests_run_alone", True)
    monkeypatch.setattr(daemon, "LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "guest.cfg").write_text(CONFIG_TEXT)
    yield tmp_path / "log"
    for pid in daemon_pids(tmp_path / "log"):
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def xlpy(*args: str) -> str:
    """The command's output, standard error included; it must succeed."""
    from xlpy.cli import cli

    result = CliRunner().invoke(cli, ["--backend", "model", *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def domids() -> dict[str, int]:
    from xlpy.backends import get_backend

    backend = get_backend("model")
    return {backend.xs_read(f"/local/domain/{d.domid}/name"): d.domid for d in backend.list_domains()}


def daemon_pids(log_dir) -> list[int]:
    logs = sorted(log_dir.glob("xl-*.log*")) if log_dir.exists() else []
    return sorted({int(pid) for log in logs for pid in re.findall(r"\[pid (\d+)\]", log.read_text())})


def wait_until(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not (found := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def exit_status(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_guest_that_reboots_is_restarted_by_the_daemon_create_left(alone):
    xlpy("create", "guest.cfg")
    first = domids()["demo-pvh"]
    log = alone / "xl-demo-pvh.log"
    assert wait_until(lambda: log.exists() and "to die" in log.read_text())
    xlpy("reboot", "demo-pvh")  # only asks the guest: no command acts on its death
    second = wait_until(lambda: (d := domids().get("demo-pvh")) not in (None, first) and d)
    assert second, log.read_text()
    [pid] = daemon_pids(alone)
    assert wait_until(lambda: f"(domid {second}) to die" in log.read_text())
    assert log.read_text().splitlines() == [
        f"Waiting for domain demo-pvh (domid {first}) to die [pid {pid}]",
        f"Domain {first} has shut down, reason code 1 0x1",
        "Action for shutdown reason code 1 is restart",
        f"Domain {first} needs to be cleaned up: destroying the domain",
        "Done. Rebooting now",
        f"Waiting for domain demo-pvh (domid {second}) to die [pid {pid}]",
    ]
    xlpy("destroy", "demo-pvh")  # the daemon follows the new domain, and lets go once it is gone
    assert exit_status(pid) == 0
    assert log.read_text().splitlines()[-1] == f"Domain {second} has been destroyed."


def test_a_guest_that_powers_off_is_destroyed_by_the_daemon(alone):
    xlpy("create", "guest.cfg")
    domid = domids()["demo-pvh"]
    log = alone / "xl-demo-pvh.log"
    assert wait_until(lambda: log.exists() and "to die" in log.read_text())
    xlpy("shutdown", "demo-pvh")
    [pid] = daemon_pids(alone)
    assert exit_status(pid) == 0
    assert log.read_text().splitlines()[1:] == [
        f"Domain {domid} has shut down, reason code 0 0x0",
        "Action for shutdown reason code 0 is destroy",
        f"Domain {domid} needs to be cleaned up: destroying the domain",
        "Done. Exiting now",
    ]
    assert "demo-pvh" not in domids()


def test_the_daemon_has_the_domain_from_the_moment_create_returns(alone):
    """No other command acts on the death meanwhile: the monitor node names
    the daemon's process before create returns."""
    from xlpy.backends import get_backend

    xlpy("create", "-p", "guest.cfg")
    domid = domids()["demo-pvh"]
    [pid] = wait_until(lambda: daemon_pids(alone))
    monitor = get_backend("model").xs_read(f"/libxl/{domid}/xlpy/monitor")
    assert monitor.startswith(f"fg:{pid}:"), monitor


def test_a_domain_whose_daemon_died_is_acted_on_by_the_next_command_which_leaves_a_new_daemon(alone):
    xlpy("create", "guest.cfg")
    first = domids()["demo-pvh"]
    [pid] = wait_until(lambda: daemon_pids(alone))
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    xlpy("reboot", "demo-pvh")  # the guest shuts down; nobody is there to act
    xlpy("list")  # ... until this command looks: it restarts the domain
    second = domids()["demo-pvh"]
    assert second != first
    log = alone / "xl-demo-pvh.log"  # the new daemon's, the dead one's now .log.1
    assert wait_until(lambda: log.read_text().startswith(f"Waiting for domain demo-pvh (domid {second}) to die"))
    assert (alone / "xl-demo-pvh.log.1").read_text().startswith(f"Waiting for domain demo-pvh (domid {first})")
    xlpy("shutdown", "demo-pvh")
    [new_pid] = {int(pid) for pid in re.findall(r"\[pid (\d+)\]", log.read_text())}
    assert exit_status(new_pid) == 0 and "demo-pvh" not in domids()


def test_a_log_that_cannot_be_opened_is_said_and_the_next_command_acts_instead(alone, monkeypatch):
    from xlpy.cli import daemon

    (alone.parent / "not-a-dir").write_text("")
    monkeypatch.setattr(daemon, "LOG_DIR", str(alone.parent / "not-a-dir" / "xen"))
    said = xlpy("create", "guest.cfg")
    assert f"failed to open logfile {alone.parent / 'not-a-dir' / 'xen'}: Not a directory" in said, said
    xlpy("shutdown", "demo-pvh")  # the guest powers off; with no daemon there, the command acts itself
    assert "demo-pvh" not in domids()


@pytest.mark.parametrize("option", ["-e", "-F"])
def test_create_e_and_F_start_no_daemon(alone, option):
    if option == "-F":  # the command itself is the monitor; a second terminal destroys the domain
        import threading

        threading.Timer(1.0, lambda: xlpy("destroy", "demo-pvh")).start()
    xlpy("create", option, "guest.cfg")
    assert not alone.exists() or not list(alone.iterdir())


def test_on_the_model_create_starts_no_daemon(state_dir, tmp_path, monkeypatch):
    from xlpy.cli import daemon

    monkeypatch.setattr(daemon, "LOG_DIR", str(tmp_path / "log"))
    xlpy("create", str(ROOT / "configs" / "pvh.cfg"))
    assert not (tmp_path / "log").exists()


def test_the_log_is_rotated_as_libxl_rotates_it(tmp_path, monkeypatch):
    """libxl_create_logfile: the existing NAME.log becomes NAME.log.1, each
    older one moves up by one, and NAME.log.10 is dropped."""
    from xlpy.cli import daemon

    monkeypatch.setattr(daemon, "LOG_DIR", str(tmp_path))
    (tmp_path / "xl-g.log").write_text("newest\n")
    for n in range(1, 11):
        (tmp_path / f"xl-g.log.{n}").write_text(f"old {n}\n")
    with daemon.open_log("xl-g") as log:
        log.write("fresh\n")
    assert (tmp_path / "xl-g.log").read_text() == "fresh\n"
    assert (tmp_path / "xl-g.log.1").read_text() == "newest\n"
    assert [(tmp_path / f"xl-g.log.{n}").read_text() for n in range(2, 11)] == [f"old {n}\n" for n in range(1, 10)]
    assert not (tmp_path / "xl-g.log.11").exists()
