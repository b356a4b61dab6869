"""Backends: the hypervisor interface (an in-process model, or libxenctrl).

`get_backend(name)` finds one by name: the built-in `model` (default) and
`libxc` without scanning anything, others through the entry-point group
`xlpy.backends` (a callable returning a Backend). The name comes from the
argument, else XLPY_BACKEND, else `model`.
"""

from __future__ import annotations

import importlib
import os

from xlpy.backends.base import Backend, NotAvailable

BUILTIN = {
    "model": "xlpy.backends.model:ModelBackend",
    "libxc": "xlpy.backends.libxc:LibxcBackend",
}


def get_backend(name: str | None = None, **options) -> Backend:
    name = name or os.environ.get("XLPY_BACKEND") or "model"
    target = BUILTIN.get(name)
    if target is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group="xlpy.backends") if ep.name == name]
        if not found:
            known = ", ".join(sorted(BUILTIN))
            raise NotAvailable(f"no backend named `{name}' (built in: {known}; others come from "
                               "the `xlpy.backends' entry-point group)")
        return found[0].load()(**options)
    module, _, attr = target.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except ImportError as e:
        raise NotAvailable(f"the {name} backend cannot be loaded: {e}") from None
    return factory(**options)
