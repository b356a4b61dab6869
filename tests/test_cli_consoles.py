"""console, vncviewer, and create -c / -V on a backend with a console client,
as xl 4.17 hands the terminal over: Xen's xenconsole on the guest's primary
console (serial for HVM, pv otherwise), the guest kept paused until the
client says it holds the console; a VNC viewer on the address the device
model published. The model stands in for the host, its console client
replaced by a script that says what it was asked and when."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, XEN_PACKAGES_HINT, require, run_xlpy, xlpy_env
from xlpy.backends.libxc import PRIVATE_BIN_DIR, LibxcBackend
from xlpy.backends.model import ModelBackend

# The stand-in client: records its arguments and whether the guest was paused
# while it attached, tells the parent it is ready (as xenconsole does on
# --start-notify-fd), then exits with the status FAKE_CONSOLE_STATUS names.
FAKE_CONSOLE = textwrap.dedent("""\
    import json, os, sys, time
    from xlpy.api import open as open_host

    def state():
        with open_host("model") as host:
            return {d.domid: d.state for d in host.domains()}.get(int(sys.argv[1]))

    args = sys.argv[1:]
    record = {"argv": args, "state_before": state()}
    if "--start-notify-fd" in args and os.environ.get("FAKE_CONSOLE_NOTIFY", "1") == "1":
        fd = int(args[args.index("--start-notify-fd") + 1])
        os.write(fd, b"\\0")
        os.close(fd)
        deadline = time.monotonic() + 10
        while state() == "paused" and os.environ.get("FAKE_CONSOLE_WAIT_RUN") and time.monotonic() < deadline:
            time.sleep(0.05)
    record["state_after"] = state()
    print("FAKE CONSOLE " + json.dumps(record), flush=True)
    sys.exit(int(os.environ.get("FAKE_CONSOLE_STATUS", "0")))
""")

# xlpy with the model's console client replaced by the stand-in (or by CLIENT_BINARY when set).
RUNNER = textwrap.dedent("""\
    import os, sys
    from xlpy.backends.model import ModelBackend

    def console_client(self, domid, kind, num, notify_fd=None):
        binary = os.environ.get("CLIENT_BINARY")
        argv = [binary] if binary else [sys.executable, os.environ["FAKE_CONSOLE"]]
        argv += [str(domid), "--num", str(num), "--type", kind]
        return argv + (["--start-notify-fd", str(notify_fd)] if notify_fd is not None else [])

    ModelBackend.console_client = console_client
    from xlpy.cli import main
    main()
""")


@pytest.fixture
def xlpy_with_client(state_dir, tmp_path):
    (tmp_path / "fake_console.py").write_text(FAKE_CONSOLE)
    (tmp_path / "runner.py").write_text(RUNNER)

    def run(*args, **env):
        return subprocess.run([sys.executable, str(tmp_path / "runner.py"), *args], cwd=ROOT, text=True,
                              capture_output=True, timeout=60,
                              env=xlpy_env(XLPY_STATE_DIR=str(state_dir), FAKE_CONSOLE=str(tmp_path / "fake_console.py"),
                                           **env))
    return run


def said(out: str) -> dict:
    [line] = [line for line in out.splitlines() if line.startswith("FAKE CONSOLE ")]
    return json.loads(line.removeprefix("FAKE CONSOLE "))


def test_console_hands_the_terminal_to_the_client_on_the_primary_console(xlpy, xlpy_with_client):
    xlpy("create", "configs/pvh.cfg")
    xlpy("create", "configs/hvm.cfg")
    pvh = xlpy_with_client("console", "demo-pvh")
    assert pvh.returncode == 0 and said(pvh.stdout)["argv"] == ["1", "--num", "0", "--type", "pv"]
    hvm = xlpy_with_client("console", "-n", "3", "demo-hvm")  # as xl: no -t, the primary console, -n unused
    assert said(hvm.stdout)["argv"] == ["2", "--num", "0", "--type", "serial"]
    chosen = xlpy_with_client("console", "-t", "pv", "-n", "1", "demo-hvm", FAKE_CONSOLE_STATUS="4")
    assert said(chosen.stdout)["argv"] == ["2", "--num", "1", "--type", "pv"]
    assert chosen.returncode == 4  # the client's own status: console is the client (exec)


def test_console_without_its_client_is_one_line(xlpy, xlpy_with_client):
    xlpy("create", "configs/pvh.cfg")
    result = xlpy_with_client("console", "demo-pvh", CLIENT_BINARY="/nonexistent/xenconsole")
    assert result.returncode == 1
    assert result.stderr == "Unable to attach console: /nonexistent/xenconsole: No such file or directory\n"


def test_create_c_runs_the_guest_only_once_the_client_holds_its_console(xlpy, xlpy_with_client):
    result = xlpy_with_client("create", "-c", "configs/pvh.cfg", FAKE_CONSOLE_WAIT_RUN="1")
    assert result.returncode == 0, result.stderr
    record = said(result.stdout)
    assert record["argv"][:5] == ["1", "--num", "0", "--type", "pv"] and record["argv"][5] == "--start-notify-fd"
    assert record["state_before"] == "paused"  # nothing the guest says is lost before the client is there
    assert record["state_after"] == "running"  # unpaused once the client said it was ready
    assert result.stderr == "Parsing config from configs/pvh.cfg\n"


def test_create_c_p_leaves_the_guest_paused(xlpy, xlpy_with_client):
    result = xlpy_with_client("create", "-c", "-p", "configs/pvh.cfg")
    assert result.returncode == 0, result.stderr
    assert said(result.stdout)["state_after"] == "paused"
    assert "--p-" in xlpy("list", "demo-pvh").stdout


def test_a_client_that_never_says_ready_costs_only_the_console(xlpy, xlpy_with_client):
    """xl's wording for the notify pipe's EOF and for its console child's status;
    the guest runs and create succeeds."""
    result = xlpy_with_client("create", "-c", "configs/pvh.cfg", FAKE_CONSOLE_NOTIFY="0", FAKE_CONSOLE_STATUS="1")
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert lines[1] == "Got EOF from xenconsole notification fd"
    assert lines[2].startswith("xlpy: console child [") and lines[2].endswith("] exited with error status 1")
    assert "r----" in xlpy("list", "demo-pvh").stdout or "-b---" in xlpy("list", "demo-pvh").stdout


def test_restore_c_attaches_before_the_guest_runs(xlpy, xlpy_with_client, tmp_path):
    xlpy("create", "configs/pvh.cfg")
    xlpy("save", "demo-pvh", str(tmp_path / "saved"))
    result = xlpy_with_client("restore", "-c", str(tmp_path / "saved"), FAKE_CONSOLE_WAIT_RUN="1")
    assert result.returncode == 0, result.stderr
    record = said(result.stdout)
    assert (record["state_before"], record["state_after"]) == ("paused", "running")


def test_the_libxc_client_is_xens_xenconsole_with_the_options_it_knows():
    """The command libxl_console_exec runs; the real xenconsole parses it and
    gets as far as looking for xenstore (no Xen here), where a wrong option
    or type would have stopped it with EINVAL."""
    argv = LibxcBackend.console_client(None, 5, "serial", 0, notify_fd=9)
    assert argv == [f"{PRIVATE_BIN_DIR}/xenconsole", "5", "--num", "0", "--type", "serial", "--start-notify-fd", "9"]
    require(Path(argv[0]).exists(), f"{argv[0]} is not installed ({XEN_PACKAGES_HINT})")
    for kind in ("pv", "serial", "vuart"):
        run = subprocess.run(LibxcBackend.console_client(None, 5, kind, 1), capture_output=True, text=True,
                             timeout=30)
        assert "Could not contact XenStore" in run.stderr, run.stderr
    bad = subprocess.run(LibxcBackend.console_client(None, 5, "bogus", 0), capture_output=True, text=True)
    assert bad.returncode == 22 and "Invalid type argument" in bad.stderr  # the check above can fail


def test_the_model_has_no_console_client_and_prints_its_account(xlpy):
    xlpy("create", "configs/pvh.cfg")
    assert ModelBackend.console_client(None, 1, "pv", 0) is None
    assert "guest: vCPU 0 entered" in xlpy("console", "demo-pvh").stdout


# -- vncviewer ---------------------------------------------------------------------------------------

FAKE_VIEWER = textwrap.dedent("""\
    import json, sys
    print("FAKE VIEWER " + json.dumps({"argv": sys.argv[1:], "stdin": sys.stdin.read()}), flush=True)
""")


@pytest.fixture
def viewer(tmp_path):
    path = tmp_path / "viewer"
    path.write_text(f"#!{sys.executable}\n" + FAKE_VIEWER)
    path.chmod(0o755)
    return str(path)


def viewed(out: str) -> dict:
    [line] = [line for line in out.splitlines() if line.startswith("FAKE VIEWER ")]
    return json.loads(line.removeprefix("FAKE VIEWER "))


def publish_vnc(state_dir, domid: int, password: str | None = None) -> None:
    """What the libxc backend's postconfig writes once QEMU listens."""
    backend = ModelBackend(state_dir)
    home = f"/local/domain/{domid}/console"
    backend.xs_write(f"{home}/vnc-listen", "127.0.0.1")
    backend.xs_write(f"{home}/vnc-port", "5903")
    if password:
        backend.xs_write(f"{home}/vnc-pass", password)


def vncviewer(state_dir, viewer, *args):
    return run_xlpy("vncviewer", *args, env=xlpy_env(XLPY_STATE_DIR=str(state_dir), VNCVIEWER=viewer), cwd=ROOT)


def test_vncviewer_runs_the_viewer_on_the_published_display(xlpy, state_dir, viewer):
    xlpy("create", "configs/hvm.cfg")
    publish_vnc(state_dir, 1, "s3cret")
    plain = vncviewer(state_dir, viewer, "demo-hvm")
    assert viewed(plain.stdout) == {"argv": ["127.0.0.1:3"], "stdin": ""}
    auto = vncviewer(state_dir, viewer, "--autopass", "demo-hvm")
    assert viewed(auto.stdout) == {"argv": ["127.0.0.1:3", "-autopass"], "stdin": "s3cret"}  # never on argv


def test_vncviewer_without_a_vnc_server_is_one_line(xlpy, state_dir, viewer):
    xlpy("create", "configs/pvh.cfg")
    result = vncviewer(state_dir, viewer, "demo-pvh")
    assert result.returncode == 1
    assert result.stderr == "Domain 1: Cannot get vnc-port (no VNC server was published for it)\n"
