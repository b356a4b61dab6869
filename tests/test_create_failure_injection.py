"""A failure at any step of create leaves no domain and no memory behind:
each backend call that create makes is made to fail in turn."""

from __future__ import annotations

import pytest

from conftest import ROOT
from xlpy.backends.base import BackendError
from xlpy.backends.model import ModelBackend
from xlpy.config import parse_file
from xlpy.config.build import build
from xlpy.toolstack import CreateFailed, Toolstack, ToolstackError

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


@pytest.mark.parametrize("step", ["build_image", "open_device_model_monitor", "start_device_model",
                                  "resume_device_model", "unpause_domain"])
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


def calls_in_order(backend, monkeypatch, names) -> list[str]:
    made = []
    for name in names:
        def recorded(*args, _name=name, _original=getattr(backend, name), **kwargs):
            made.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(backend, name, recorded)
    return made


def test_an_hvm_guest_created_paused_keeps_its_device_model_stopped_until_unpause(state_dir, monkeypatch):
    """libxl__domain_unpause: QEMU, started stopped, continues (QMP cont) and then the domain runs."""
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    toolstack = Toolstack(backend)
    made = calls_in_order(backend, monkeypatch, ["resume_device_model", "unpause_domain"])
    domid = toolstack.create(build(parse_file("configs/hvm.cfg"))[0], paused=True).domid
    state = f"/local/domain/0/device-model/{domid}/state"
    assert made == [] and backend.xs_list("/local/domain/0/device-model") == [str(domid)]
    assert backend.xs_read(state) is None  # QEMU writes "running" only once it runs
    assert backend.xs_read(f"/libxl/{domid}/dm-version") == "qemu_xen"  # what tells xl's unpause to cont QEMU
    assert "-S -mon chardev=libxl-cmd,mode=control" in backend.console(domid)
    toolstack.unpause(domid)
    assert made == ["resume_device_model", "unpause_domain"]
    assert backend.xs_read(state) == "running" and not backend.domain_info(domid).paused


def test_a_pv_guest_has_no_device_model_to_continue(state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    made = calls_in_order(backend, monkeypatch, ["resume_device_model", "unpause_domain"])
    domid = Toolstack(backend).create(build(parse_file("configs/pvh.cfg"))[0]).domid
    assert made == ["unpause_domain"]
    assert backend.xs_read(f"/libxl/{domid}/dm-version") == "qemu_xen"  # libxl writes it for every guest


def test_an_unpause_whose_device_model_refuses_is_one_line_and_leaves_the_domain_paused(state_dir, monkeypatch):
    monkeypatch.chdir(ROOT)
    backend = ModelBackend(state_dir)
    toolstack = Toolstack(backend)
    domid = toolstack.create(build(parse_file("configs/hvm.cfg"))[0], paused=True).domid

    def refused(domid):
        raise BackendError("QEMU refused cont: injected", "qmp cont")

    monkeypatch.setattr(backend, "resume_device_model", refused)
    with pytest.raises(ToolstackError, match=f"^cannot unpause domain {domid}: QEMU refused cont: injected$"):
        toolstack.unpause(domid)
    assert backend.domain_info(domid).paused


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
