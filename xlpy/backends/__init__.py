"""Backends: the hypervisor interface (an in-process model, or libxenctrl)."""
