"""create -F (xl's monitor in the foreground) and create -c (the console on
stdout), driven as a user would from a second terminal. The log lines and
exit codes are those of xl 4.17's create_domain and handle_domain_death."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, xlpy_env


@pytest.fixture
def attached(state_dir):
    """Start `xlpy ARGS` in the background; returns the process once the
    domain it creates is running (or the process has exited)."""
    procs = []

    def start(*args):
        proc = subprocess.Popen([sys.executable, "-m", "xlpy", *args], cwd=ROOT, text=True,
                                env=xlpy_env(XLPY_STATE_DIR=str(state_dir)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            if domains(running=True).get("demo-pvh") is not None:
                return proc
            time.sleep(0.1)
        return proc

    def domains(running=False):
        from xlpy.api import open as open_host

        with open_host("model") as host:
            return {d.name: d.domid for d in host.domains() if not running or d.state == "running"}

    def wait_for(name, domid):
        deadline = time.monotonic() + 30
        while domains().get(name) != domid and time.monotonic() < deadline:
            time.sleep(0.05)
        return domains().get(name) == domid

    start.domains, start.wait_for = domains, wait_for
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def finish(proc, timeout=30):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, re.sub(r"\[pid \d+\]", "[pid N]", err)


def test_foreground_follows_a_reboot_and_exits_when_the_domain_is_destroyed(attached, xlpy):
    proc = attached("create", "-F", "-c", "configs/pvh.cfg")
    xlpy("reboot", "-w", "demo-pvh")
    assert attached.wait_for("demo-pvh", 2)  # restarted by the attached process
    xlpy("shutdown", "demo-pvh")
    code, out, err = finish(proc)
    assert code == 0
    assert out.endswith("guest: connected vif/0\nguest: shutting down (reboot)\n")  # the first domain's console
    assert err == ("Parsing config from configs/pvh.cfg\n"
                   "Waiting for domain demo-pvh (domid 1) to die [pid N]\n"
                   "Domain 1 has shut down, reason code 1 0x1\n"
                   "Action for shutdown reason code 1 is restart\n"
                   "Domain 1 needs to be cleaned up: destroying the domain\n"
                   "Done. Rebooting now\n"
                   "Waiting for domain demo-pvh (domid 2) to die [pid N]\n"
                   "Domain 2 has shut down, reason code 0 0x0\n"
                   "Action for shutdown reason code 0 is destroy\n"
                   "Domain 2 needs to be cleaned up: destroying the domain\n"
                   "Done. Exiting now\n")
    assert "demo-pvh" not in attached.domains()


def test_foreground_leaves_a_preserved_crash_and_exits(attached, xlpy):
    from xlpy.backends import get_backend
    from xlpy.backends.base import ShutdownReason

    proc = attached("create", "-q", "-F", "configs/pvh.cfg")
    get_backend("model").shutdown_domain(attached.domains()["demo-pvh"], ShutdownReason.CRASH)
    code, _, err = finish(proc)
    assert code == 0
    assert err.splitlines()[1:] == ["Domain 1 has shut down, reason code 3 0x3",
                                    "Action for shutdown reason code 3 is preserve", "Done. Exiting now"]
    assert xlpy("list", "demo-pvh").stdout.split()[-2] == "---sc-"  # on_crash="preserve": still there


def test_foreground_ends_when_someone_destroys_the_domain(attached, xlpy):
    proc = attached("create", "-q", "-F", "configs/pvh.cfg")
    xlpy("destroy", "demo-pvh")
    code, _, err = finish(proc)
    assert (code, err.splitlines()[-1]) == (0, "Domain 1 has been destroyed.")


def test_when_the_attached_process_dies_the_next_toolstack_acts(attached, xlpy):
    proc = attached("create", "-q", "-F", "configs/pvh.cfg")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    xlpy("shutdown", "-w", "demo-pvh")
    assert "demo-pvh" not in attached.domains()  # on_poweroff="destroy", done by the shutdown command


def test_console_streams_until_the_domain_is_gone_and_does_not_follow_a_restart(attached, xlpy):
    proc = attached("create", "-q", "-c", "configs/pvh.cfg")
    xlpy("reboot", "-w", "demo-pvh")
    code, out, err = finish(proc)
    assert (code, err) == (0, "")
    assert out.startswith("builder: configs/kernels/demo-pvh.elf (xlpy-demo), pvh32 entry 0x100000\n")
    # The reboot command restarts the domain itself; what the guest wrote just
    # before may be gone with it before this process looks again.
    assert "guest: connected vif/0\n" in out
    assert attached.domains()["demo-pvh"] == 2  # restarted, as xl's background monitor would


def test_e_means_nobody_waits_or_acts(xlpy):
    r = xlpy("create", "-q", "-F", "-e", "configs/pvh.cfg")
    assert (r.returncode, r.stderr) == (0, "")
    xlpy("shutdown", "-w", "demo-pvh")
    assert xlpy("list", "demo-pvh").stdout.split()[-2] == "---s--"  # shut down, no action taken


def test_a_failed_create_exits_as_xl(xlpy):
    r = xlpy("create", "-q", "-F", "configs/pvh.cfg", "memory=65536", "maxmem=65536", ok=False)
    assert r.returncode == 3
    assert r.stderr.startswith("xlpy: not enough memory to create 'demo-pvh'")
    assert "demo-pvh" not in xlpy("list").stdout


def test_restore_stays_attached_with_f_too(attached, xlpy, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    saved = tmp_path / "demo.save"
    xlpy("save", "demo-pvh", str(saved))
    proc = attached("restore", "-F", str(saved))
    xlpy("shutdown", "demo-pvh")
    code, _, err = finish(proc)
    assert code == 0
    assert err.splitlines()[-5:] == ["Waiting for domain demo-pvh (domid 2) to die [pid N]",
                                     "Domain 2 has shut down, reason code 0 0x0",
                                     "Action for shutdown reason code 0 is destroy",
                                     "Domain 2 needs to be cleaned up: destroying the domain",
                                     "Done. Exiting now"]


def test_monitoring_a_domain_already_gone_ends_at_once(state_dir):
    from xlpy.backends import get_backend
    from xlpy.toolstack import Toolstack

    lines = []
    assert Toolstack(get_backend("model")).monitor(42, lines.append) == 0
    assert lines == ["Domain 42 has been destroyed."]


def test_foreground_restart_uses_the_config_update(attached, xlpy):
    proc = attached("create", "-q", "-F", "configs/pvh.cfg")
    xlpy("config-update", "demo-pvh", "configs/pvh.cfg", "memory=320")
    xlpy("reboot", "-w", "demo-pvh")
    assert attached.wait_for("demo-pvh", 2)
    xlpy("destroy", "demo-pvh")
    code, _, err = finish(proc)
    assert code == 0
    assert ('Action for shutdown reason code 1 is restart\n"xl" configuration found, using it\n\n'
            "Domain 1 needs to be cleaned up: destroying the domain\n") in err


def test_coredump_actions_dump_first_then_act_as_xl_logs_it(attached, xlpy):
    """coredump-destroy: xl names the core after the config and goes on when
    the dump fails; the model keeps no guest memory, so it always fails here
    (the lab proves a real dump on Xen)."""
    proc = attached("create", "-F", "configs/pvh.cfg", 'on_poweroff="coredump-destroy"')
    xlpy("shutdown", "demo-pvh")
    code, _, err = finish(proc)
    assert code == 0
    assert err.splitlines()[2:] == ["Domain 1 has shut down, reason code 0 0x0",
                                    "Action for shutdown reason code 0 is coredump-destroy",
                                    "dumping core to /var/lib/xen/dump/demo-pvh",
                                    "core dump failed (rc=-3).",
                                    "Domain 1 needs to be cleaned up: destroying the domain",
                                    "Done. Exiting now"]
    assert "demo-pvh" not in attached.domains()
