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
    if reap:
        toolstack.reap()
    return toolstack


def resolve(toolstack, ident: str) -> int:
    from xlpy.toolstack import ToolstackError

    try:
        return toolstack.resolve(ident)
    except ToolstackError as e:
        fail(str(e))
