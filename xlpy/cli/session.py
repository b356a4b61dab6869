"""Opening the toolstack for a command: backend by name, errors in one line."""

from __future__ import annotations

from xlpy.cli.common import fail


def open_toolstack(g, reap: bool = True):
    from xlpy.backends import get_backend
    from xlpy.backends.base import BackendError
    from xlpy.toolstack import Toolstack

    try:
        toolstack = Toolstack(get_backend(g.backend))
    except BackendError as e:
        fail(f"xlpy: {e.message}")
    if toolstack.guests_run_alone:
        # A domain this command restarts gets the daemon create would have left.
        toolstack.on_reaped_restart = lambda domid: _start_monitor_daemon(toolstack, domid)
    if reap:
        toolstack.reap()
    return toolstack


def _start_monitor_daemon(toolstack, domid: int) -> None:
    from xlpy.cli.daemon import start_monitor_daemon  # only when needed: it imports subprocess

    start_monitor_daemon(toolstack, domid)


def resolve(toolstack, ident: str) -> int:
    from xlpy.toolstack import ToolstackError

    try:
        return toolstack.resolve(ident)
    except ToolstackError as e:
        fail(str(e))
