"""A failure at any step of create leaves no domain and no memory behind:
each backend call that create makes is made to fail in turn."""

from __future__ import annotations

import pytest

from conftest import ROOT
from xlpy.backends.base import BackendError
from xlpy.backends.model import ModelBackend
from xlpy.config import parse_file
from xlpy.config.build import build
from xlpy.toolstack import CreateFailed, Toolstack

STEPS = ["set_max_vcpus", "set_max_memory", "populate_physmap", "build_image", "set_vcpu_context",
         "xs_write", "unpause_domain"]


@pytest.mark.parametrize("step", STEPS)
def test_failure_at_each_step_leaves_nothing(step, state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    free = backend.physinfo().free_pages
    original = getattr(backend, step)
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if step != "xs_write" or calls["n"] == 3:  # let a few xenstore writes through first
            raise BackendError(f"injected failure in {step}", step, 5)
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, step, failing)
    dc, _ = build(parse_file("configs/pvh.cfg"))
    with pytest.raises(CreateFailed, match=f"injected failure in {step}"):
        Toolstack(backend).create(dc)
    monkeypatch.undo()
    assert [d.domid for d in backend.list_domains()] == [0]
    assert backend.physinfo().free_pages == free
    assert backend.xs_list("/local/domain") == ["0"]
