"""A guest's consoles and display, as xl hands them over: `console` puts the
terminal on a text console through the backend's client (Xen's xenconsole
on a real host), `vncviewer` runs a VNC viewer on the address the device
model published; create and restore do either with -c and -V.

On the model there is no terminal to attach: `console` prints the model's
account of the guest, and no VNC server publishes an address.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import click

from xlpy.cli.common import fail
from xlpy.cli.session import open_toolstack, resolve


@click.command("console")
@click.option("-t", "kind", type=click.Choice(["pv", "serial", "vuart"]),
              help="The console's type (default: the guest's primary console, serial for HVM, else pv).")
@click.option("-n", "num", type=int, default=0, help="The console's number (with -t).")
@click.argument("domain")
@click.pass_obj
def console(g, kind, num, domain) -> None:
    """Attach to the guest's console: [-t pv|serial|vuart] [-n NUM] <Domain>"""
    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    if kind is None:  # as xl: the primary console, -n ignored
        kind, num = toolstack.primary_console(domid)
    argv = toolstack.backend.console_client(domid, kind, num)
    if argv is None:
        sys.stdout.write(toolstack.backend.console(domid))
        return
    sys.stdout.flush()
    try:
        os.execv(argv[0], argv)
    except OSError as e:
        fail(f"Unable to attach console: {argv[0]}: {e.strerror}")


def start_console_client(toolstack, domid: int, kind: str, num: int) -> subprocess.Popen | None:
    """xl's console child for create -c: the backend's client on console
    `num` of `kind`, returning once it holds the console (its 0 byte on the
    notify pipe), so a guest unpaused after this loses none of its first
    words. None when the client could not be started (said on stderr)."""
    ready, notify = os.pipe()
    try:
        argv = toolstack.backend.console_client(domid, kind, num, notify_fd=notify)
        try:
            child = subprocess.Popen(argv, pass_fds=(notify,))
        except OSError as e:
            click.echo(f"xlpy: unable to exec console client: {argv[0]}: {e.strerror}", err=True)
            return None
        os.close(notify)
        notify = -1
        # As xl, a client that fails to say it is ready costs only its first lines.
        said = os.read(ready, 1)
        if not said:
            click.echo("Got EOF from xenconsole notification fd", err=True)
        elif said != b"\0":
            click.echo(f"Got unexpected response from xenconsole: {said[0]:#x}", err=True)
        return child
    finally:
        os.close(ready)
        if notify != -1:
            os.close(notify)


def report_child(what: str, child: subprocess.Popen) -> None:
    """xl's child_report: a child that did not exit 0 is said on stderr."""
    status = child.wait()
    if status > 0:
        click.echo(f"xlpy: {what} [{child.pid}] exited with error status {status}", err=True)
    elif status < 0:
        click.echo(f"xlpy: {what} [{child.pid}] died due to fatal signal {-status}", err=True)


@click.command("vncviewer")
@click.option("-a", "--autopass", "--vncviewer-autopass", "autopass", is_flag=True,
              help="Pass the VNC password to the viewer on its standard input.")
@click.argument("domain")
@click.pass_obj
def vncviewer(g, autopass, domain) -> None:
    """Attach a VNC viewer to the domain's display: [-a] <Domain>"""
    toolstack = open_toolstack(g)
    domid = resolve(toolstack, domain)
    viewer = vncviewer_argv(toolstack, domid, autopass)
    if viewer is None:
        fail(NO_VNC.format(domid=domid))
    argv, password = viewer
    if password is not None:
        os.dup2(_password_file(password), 0)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        fail(f"Unable to execute vncviewer: {argv[0]}: {e.strerror}")


NO_VNC = "Domain {domid}: Cannot get vnc-port (no VNC server was published for it)"


def vncviewer_argv(toolstack, domid: int, autopass: bool) -> tuple[list[str], str | None] | None:
    """libxl_vncviewer_exec's command ($VNCVIEWER or vncviewer, host:display)
    and, with `autopass`, the password the viewer reads from its stdin; None
    without a published VNC server."""
    home = f"/local/domain/{domid}/console"
    port = toolstack.backend.xs_read(f"{home}/vnc-port")
    if not port or not port.isdigit():
        return None
    listen = toolstack.backend.xs_read(f"{home}/vnc-listen") or "localhost"
    argv = [os.environ.get("VNCVIEWER") or "vncviewer", f"{listen}:{int(port) - 5900}"]
    password = toolstack.backend.xs_read(f"{home}/vnc-pass") if autopass else None
    return argv + (["-autopass"] if password else []), password or None


def start_vncviewer(toolstack, domid: int, autopass: bool) -> None:
    """create -V: the viewer in the background, as xl's vncviewer child; a
    failure to start it is said and leaves the domain as it is."""
    viewer = vncviewer_argv(toolstack, domid, autopass)
    if viewer is None:
        click.echo(NO_VNC.format(domid=domid), err=True)
        return
    argv, password = viewer
    stdin = _password_file(password) if password is not None else None
    try:
        subprocess.Popen(argv, stdin=stdin, start_new_session=True)
    except OSError as e:
        click.echo(f"Unable to execute vncviewer: {argv[0]}: {e.strerror}", err=True)
    finally:
        if stdin is not None:
            os.close(stdin)


def _password_file(password: str) -> int:
    """An unlinked file holding the password, read from its start, as libxl
    hands it to the viewer (never on the command line)."""
    fd, path = tempfile.mkstemp(prefix="vncautopass.")
    os.unlink(path)
    os.write(fd, password.encode())
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
