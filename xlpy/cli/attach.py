"""Staying attached to a domain after create or restore: -F (xl's monitor in
the foreground) and -c (the guest console).

On a real host the console is Xen's xenconsole on the terminal, started
before the guest runs and left with Ctrl-]. On the model the console is the
model's account of the guest, streamed as it grows until the domain is gone;
there is no terminal to leave, and Ctrl-C stops following (the domain lives
on; its on_* actions fall back to the next toolstack that looks, as for any
domain without an attached monitor).
"""

from __future__ import annotations

import sys
import time

import click

POLL_SECONDS = 0.05


class ConsoleFollower:
    """Writes the new lines of one domain's console to stdout on each call.
    As xl, it stays with the first domain: a restarted one is not followed."""

    def __init__(self, toolstack, domid: int) -> None:
        self.toolstack, self.domid, self.shown = toolstack, domid, 0

    def __call__(self, domid: int) -> None:
        if domid != self.domid:
            return
        text = self.toolstack.backend.console(domid)
        if len(text) > self.shown:
            sys.stdout.write(text[self.shown:])
            sys.stdout.flush()
            self.shown = len(text)


def attach_after_create(toolstack, domid: int, paused: bool, console: bool, foreground: bool,
                        vncviewer: bool = False, autopass: bool = False, monitor: bool = True) -> None:
    """What xl's create and restore do once the domain is built, paused if
    `console` asked for it: the console attached before the guest runs (so
    none of its words are lost), the unpause unless -p, a VNC viewer with -V,
    the monitoring daemon where guests run alone (unless -e or -F), then
    staying with the domain for -c or -F; exits with xl's status when it
    stays."""
    from xlpy.cli.common import fail
    from xlpy.cli.consoles import start_console_client, start_vncviewer
    from xlpy.cli.daemon import start_monitor_daemon
    from xlpy.toolstack import ToolstackError

    client, follow = None, False
    if console:
        kind, num = toolstack.primary_console(domid)  # the guest's type: read once
        if toolstack.backend.console_client(domid, kind, num) is None:
            follow = True  # the model: its account of the guest
        else:
            client = start_console_client(toolstack, domid, kind, num)
        if not paused:
            try:
                toolstack.unpause(domid)
            except ToolstackError as e:
                if client is not None:
                    client.terminate()
                fail(f"xlpy: {e}")
    if vncviewer:
        start_vncviewer(toolstack, domid, autopass)
    daemon = None
    if monitor and not foreground and toolstack.guests_run_alone:
        daemon = start_monitor_daemon(toolstack, domid)
    if console or foreground:
        sys.exit(stay_attached(toolstack, domid, foreground, client, follow, reap=daemon is None))


def stay_attached(toolstack, domid: int, foreground: bool, client=None, follow: bool = False,
                  reap: bool = True) -> int:
    """Until the domain shuts down or goes (and, with a console client, until
    that lets go: Ctrl-] or the domain gone); -F carries out the on_* actions
    as it goes, and without it a shutdown is reaped here (`reap`) where no
    daemon does it. Returns the exit status xl gives once it lets go."""
    from xlpy.cli.consoles import report_child

    follower = ConsoleFollower(toolstack, domid) if follow else (lambda domid: None)
    try:
        status = 0
        if foreground:
            status = toolstack.monitor(domid, log=lambda line: click.echo(line, err=True),
                                       interval=POLL_SECONDS, on_poll=follower)
        else:
            while client is None or client.poll() is None:
                follower(domid)
                if _shut_down(toolstack, domid):
                    follower(domid)  # its last words, before a reap takes its console
                    if reap:
                        toolstack.reap()  # what xl's monitoring daemon does at this moment
                    break
                time.sleep(POLL_SECONDS)
        if client is not None:
            report_child("console child", client)
        return status
    except KeyboardInterrupt:
        return 130


def _shut_down(toolstack, domid: int) -> bool:
    """Whether the domain has shut down or gone."""
    from xlpy.backends.base import NoSuchDomain

    try:
        return toolstack.backend.domain_info(domid).shutdown
    except NoSuchDomain:
        return True
