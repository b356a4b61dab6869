"""Staying attached to a domain after create or restore: -F (xl's monitor in
the foreground) and -c (the guest console on stdout).

On a real host xl hands the console to xenconsole, which Ctrl-] leaves. On the
model the console is the model's account of the guest, streamed as it grows
until the domain is gone; there is no terminal to leave, and Ctrl-C stops
following (the domain lives on; its on_* actions fall back to the next
toolstack that looks, as for any domain without an attached monitor).
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


def stay_attached(toolstack, domid: int, console: bool, foreground: bool) -> int:
    """Returns the exit status xl gives once it lets go of the domain."""
    from xlpy.backends.base import NoSuchDomain

    follow = ConsoleFollower(toolstack, domid) if console else (lambda domid: None)
    try:
        if foreground:
            return toolstack.monitor(domid, log=lambda line: click.echo(line, err=True),
                                     interval=POLL_SECONDS, on_poll=follow)
        while True:  # the console alone: until the domain has gone
            follow(domid)
            try:
                info = toolstack.backend.domain_info(domid)
            except NoSuchDomain:
                return 0
            if info.shutdown:
                toolstack.reap()  # what xl's background monitor does at this moment
                if domid in {d.domid for d in toolstack.domains()}:
                    return 0  # preserved, or nobody monitors it: the console has nothing more to say
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        return 130
