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

STEPS = ["set_max_vcpus", "set_max_memory", "set_hvm_param", "set_tsc_mode", "set_paging_pool", "apply_cpuid_policy",
         "populate_physmap", "build_image",
         "set_vcpu_context", "xs_write", "unpause_domain"]


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
    assert backend.xs_list("/libxl") == [] and backend.xs_list("/local/domain/0/backend/vbd") == []


@pytest.mark.parametrize("step", ["build_image", "start_device_model", "unpause_domain"])
def test_an_hvm_create_failing_after_its_device_model_leaves_nothing(step, state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)

    def failing(*args, **kwargs):
        raise BackendError(f"injected failure in {step}", step, 5)

    monkeypatch.setattr(backend, step, failing)
    dc, _ = build(parse_file("configs/hvm.cfg"))
    with pytest.raises(CreateFailed, match=f"injected failure in {step}"):
        Toolstack(backend).create(dc)
    assert [d.domid for d in backend.list_domains()] == [0]
    assert backend.xs_list("/local/domain") == ["0"]
    assert backend.xs_list("/local/domain/0/device-model") == []
    assert backend.xs_list("/libxl") == [] and backend.xs_list("/local/domain/0/backend/vkbd") == []


def test_an_hvm_guest_gets_firmware_platform_keys_and_its_device_model(state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    dc, _ = build(parse_file("configs/hvm.cfg"))
    toolstack = Toolstack(backend)
    domid = toolstack.create(dc).domid
    home = f"/local/domain/{domid}"
    assert backend.xs_read(f"{home}/hvmloader/bios") == "seabios"
    assert backend.xs_read(f"{home}/platform/acpi") == "1"
    assert backend.xs_read(f"{home}/memory/videoram") == "8192"
    assert backend.xs_read(f"{home}/memory/target") == str(1024 * 1024 - 8192)
    assert backend.xs_read(f"/local/domain/0/device-model/{domid}/state") == "running"
    console = backend.console(domid)
    assert "firmware hvmloader with seabios" in console and "-xen-domid 1" in console
    mac = toolstack.stored_config(domid).nics[0].mac  # chosen once: the PV device's and QEMU's NIC's
    assert mac and f"mac={mac}" in console


def test_an_hvm_config_the_device_model_cannot_serve_is_refused_before_any_domain(state_dir, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    cfg = tmp_path / "spice.cfg"
    cfg.write_text('name = "s"\ntype = "hvm"\nmemory = 128\nspice = 1\n')
    dc, _ = build(parse_file(str(cfg)))
    with pytest.raises(CreateFailed, match="SPICE"):
        Toolstack(backend).create(dc)
    assert [d.domid for d in backend.list_domains()] == [0]
