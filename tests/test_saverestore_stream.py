"""Save and restore on a backend that keeps a real guest's state (libxc):
libxl's migration stream v2 around libxc's stream, checked by Xen's own
stream verifier (verify-stream-v2) and its record definitions; the
suspend, save, resume and restore sequence as libxl runs it, over the
model with libxc's part stood in for; a failure at each step of save or
restore (the guest resumed, or no domain left); and the libxc bindings'
callbacks called through ctypes as libxenguest calls them."""

from __future__ import annotations

import ctypes as C
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, XEN_PACKAGES_HINT, require
from xlpy.backends.base import BackendError, ShutdownReason
from xlpy.backends.libxc import migration
from xlpy.backends.model import ModelBackend
from xlpy.config import parse_file
from xlpy.config.build import build
from xlpy.domain import stream
from xlpy.saverestore import open_save_file, read_image, restore_image, save_image
from xlpy.toolstack import Toolstack, ToolstackError

XEN_TOOLS = Path("/usr/lib/xen-4.17")
VERIFY = XEN_TOOLS / "bin" / "verify-stream-v2"
XEN_PYTHON = XEN_TOOLS / "lib" / "python"

# libxc's stream as docs/specs/libxc-migration-stream.pandoc lays it out, the
# least a verifier accepts: image header (big-endian), domain header, END.
LIBXC_IMAGE_HEADER = struct.pack("!QIIHHI", 0xFFFFFFFFFFFFFFFF, 0x58454E46, 3, 0, 0, 0)
LIBXC_PV_DOMAIN_HEADER = struct.pack("=IHHII", 1, 12, 0, 4, 17)
LIBXC_END = struct.pack("=II", 0, 0)


class StreamingModel(ModelBackend):
    """The model, with the three calls through which the libxc backend moves
    a guest's state; libxc's stream is stood in for by its headers, and the
    guest's state travels beside it, for the test to compare."""

    def __init__(self, state_dir, moved: dict) -> None:
        super().__init__(state_dir)
        self.moved = moved

    def save_domain_stream(self, domid: int, fd: int, suspend, device_model: bool = False) -> None:
        if device_model:  # libxc switches QEMU's dirty-page tracking on at its setup for an HVM guest
            self.moved.setdefault("qmp", []).append("xen-set-global-dirty-log")
        suspend()
        info = self.domain_info(domid)
        assert info.shutdown and info.shutdown_reason is ShutdownReason.SUSPEND  # xc_domain_save's own check
        self.moved["saved"] = info
        stream.write_all(fd, LIBXC_IMAGE_HEADER + LIBXC_PV_DOMAIN_HEADER + LIBXC_END)

    def restore_domain_stream(self, domid: int, fd: int, missing_cpuid=lambda: None) -> None:
        data = stream.read_exactly(fd, len(LIBXC_IMAGE_HEADER + LIBXC_PV_DOMAIN_HEADER + LIBXC_END), "libxc")
        assert data.endswith(LIBXC_END)
        # The model's guest runs what it booted: it boots the saved kernel again.
        image = self.build_image(domid, self.moved["kernel"], None, None, self.moved["mode"])
        self.set_vcpu_context(domid, 0, Toolstack._vcpu0_context(image))
        self.moved["restored"] = domid

    def resume_domain(self, domid: int) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE domains SET shutdown_reason = NULL WHERE domid = ?", (domid,))
        self.moved["resumed"] = domid

    # QEMU, stood in for: what the toolstack asks of it over QMP, and the device state it saves and loads.
    def save_device_model(self, domid: int) -> str:
        from xlpy.domain.devicemodel import save_file

        self.moved.setdefault("qmp", []).extend(["stop", "add-fd", "xen-save-devices-state"])
        Path(save_file(domid)).write_bytes(QEMU_STATE)
        return save_file(domid)

    def resume_device_model(self, domid: int) -> None:
        self.moved.setdefault("qmp", []).append("cont")

    def start_device_model(self, domid: int, args: list[str], pass_fds: tuple[int, ...] = (),
                           vnc_password: str | None = None) -> None:
        super().start_device_model(domid, args, pass_fds, vnc_password)
        monitor = next(int(a.split(",fd=")[1].split(",")[0]) for a in args if a.startswith("socket,id=libxl-cmd,"))
        assert pass_fds[0] == monitor and "-S" in args  # its QMP socket, pre-opened, and stopped until cont
        if "-incoming" in args:  # QEMU reads its state from the descriptor it was handed
            fd = int(args[args.index("-incoming") + 1].removeprefix("fd:"))
            assert pass_fds == (monitor, fd)
            self.moved["loaded"] = os.pread(fd, 1 << 20, 0)
        self.moved["qemu"] = args


QEMU_STATE = b"QEVM\0\0\0\3 device state"  # QEMU's device state file starts with its migration magic


@pytest.fixture
def host(state_dir, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(ROOT)
    lib_dir = tmp_path_factory.mktemp("var-lib-xen")
    monkeypatch.setattr("xlpy.domain.devicemodel.LIB_DIR", str(lib_dir))
    moved: dict = {}
    backend = StreamingModel(state_dir, moved)
    return Toolstack(backend), moved


def create(toolstack, cfg="configs/pvh.cfg") -> int:
    dc, _ = build(parse_file(cfg))
    if isinstance(toolstack.backend, StreamingModel):
        toolstack.backend.moved.update(kernel=dc.b_info.kernel or "hvmloader", mode=dc.c_info.type.value)
    return toolstack.create(dc).domid


def restore(toolstack, path, paused=False) -> int:
    from xlpy.saverestore import saved_config

    header, src = open_save_file(str(path))
    with src:
        dc, text = saved_config(header)
        return restore_image(toolstack, dc, read_image(src, str(path), toolstack.backend), config_text=text,
                             paused=paused)


def verify(path) -> subprocess.CompletedProcess:
    require(VERIFY.is_file(), f"Xen's stream verifier is not installed ({XEN_PACKAGES_HINT})")
    return subprocess.run([sys.executable, str(VERIFY), "-f", "xl", "-v", "-i", str(path)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(XEN_PYTHON)), timeout=60)


# -- the stream's layout against Xen's definitions -------------------------------------------------


def xen_libxl():
    require((XEN_PYTHON / "xen" / "migration" / "libxl.py").is_file(),
            f"Xen's migration stream definitions are not installed ({XEN_PACKAGES_HINT})")
    sys.path.insert(0, str(XEN_PYTHON))
    try:
        from xen.migration import libxl
    finally:
        sys.path.remove(str(XEN_PYTHON))
    return libxl


def test_the_stream_header_and_record_types_are_xen_s():
    libxl = xen_libxl()
    ident, version, options = struct.unpack(libxl.HDR_FORMAT, stream.header())
    assert (ident, version, options) == (libxl.HDR_IDENT, libxl.HDR_VERSION, 0)
    assert stream.HEADER.size == struct.calcsize(libxl.HDR_FORMAT)
    assert stream.RECORD.size == struct.calcsize(libxl.RH_FORMAT)
    assert stream.EMULATOR.size == struct.calcsize(libxl.EMULATOR_HEADER_FORMAT)
    assert {value: name for value, name in stream.RECORD_NAMES.items()} == {
        value: name.upper().replace(" ", "_") for value, name in libxl.rec_type_to_str.items()}
    assert (stream.EMULATOR_UNKNOWN, stream.EMULATOR_QEMU_TRADITIONAL, stream.EMULATOR_QEMU_UPSTREAM) == (
        libxl.EMULATOR_ID_unknown, libxl.EMULATOR_ID_qemu_trad, libxl.EMULATOR_ID_qemu_upstream)


def test_records_are_padded_to_eight_bytes_and_read_back(tmp_path):
    body = b"12345"
    raw = stream.record(stream.EMULATOR_CONTEXT, body)
    assert raw == struct.pack("<II", 3, 5) + body + b"\0\0\0" and len(raw) % 8 == 0
    assert stream.record(stream.END) == bytes(8)
    path = tmp_path / "records"
    path.write_bytes(stream.header() + raw + stream.record(stream.END))
    fd = os.open(path, os.O_RDONLY)
    try:
        stream.read_header(fd)
        assert stream.read_record(fd) == (stream.EMULATOR_CONTEXT, body)
        assert stream.read_record(fd) == (stream.END, b"")
        with pytest.raises(stream.StreamError, match="ends inside its record header"):
            stream.read_record(fd)
    finally:
        os.close(fd)


def test_emulator_xenstore_data_is_packed_nul_terminated_pairs():
    """The spec: (key, value) tuples, each a packed pair of NUL-terminated octets."""
    pairs = [("physmap/1/start_addr", "f0000000"), ("physmap/1/name", "vram")]
    data = stream.xenstore_data(pairs)
    assert data == b"physmap/1/start_addr\0f0000000\0physmap/1/name\0vram\0"
    raw = stream.emulator_record(stream.EMULATOR_XENSTORE_DATA, stream.EMULATOR_QEMU_UPSTREAM, data)
    assert raw[:16] == struct.pack("<IIII", 2, 8 + len(data), 2, 0) and len(raw) % 8 == 0
    assert stream.parse_xenstore_data(data) == pairs
    with pytest.raises(stream.StreamError):
        stream.parse_xenstore_data(b"key\0value")


@pytest.mark.parametrize("raw, message", [
    (b"LibxlFmx" + bytes(8), "not a libxl migration stream"),
    (struct.pack(">QII", stream.IDENT, 1, 0), "version 1 is not supported"),
    (struct.pack(">QII", stream.IDENT, 2, 1), "big-endian"),
])
def test_a_bad_stream_header_is_refused(raw, message):
    with pytest.raises(stream.StreamError, match=message):
        stream.check_header(raw)


# -- save and restore, the way libxl sequences them ------------------------------------------------


def test_a_saved_file_is_what_xen_s_verifier_accepts(host, tmp_path):
    toolstack, moved = host
    domid = create(toolstack)
    lines = []
    save_image(toolstack, domid, str(tmp_path / "g.save"), report=lines.append)
    assert moved["saved"].domid == domid and "resumed" not in moved
    assert toolstack.backend.list_domains()[-1].domid == 0  # destroyed once saved, as xl does
    checked = verify(tmp_path / "g.save")
    assert checked.returncode == 0, checked.stderr
    # No device model, no emulator records: libxc's stream between LIBXC_CONTEXT and END.
    assert checked.stdout.splitlines() == [
        "Processed xl header", "Libxl Header: little endian", "Libxl Record: Libxc context, length 0",
        "Libxc Image Header: Version 3, little endian", "Domain Header: x86 PV from Xen 4.17",
        "Libxc Record: End, length 0", "Libxl Record: End, length 0"]
    assert lines == [f"Saving to {tmp_path / 'g.save'} new xl format (info 0x3/0x0/{lines[0].split('/')[-1]}"]


def test_a_saved_guest_is_restored_from_its_stream(host, tmp_path):
    toolstack, moved = host
    domid = create(toolstack)
    name = toolstack.info(domid).name
    save_image(toolstack, domid, str(tmp_path / "g.save"))
    new = restore(toolstack, tmp_path / "g.save")
    assert moved["restored"] == new
    info = toolstack.info(new)
    assert info.name == name and not info.paused and not info.shutdown
    save_image(toolstack, new, str(tmp_path / "p.save"))
    restored_paused = restore(toolstack, tmp_path / "p.save", paused=True)
    assert toolstack.info(restored_paused).paused


def test_save_c_and_p_resume_the_guest(host, tmp_path):
    toolstack, moved = host
    domid = create(toolstack)
    save_image(toolstack, domid, str(tmp_path / "c.save"), leave_running=True)
    info = toolstack.info(domid)
    assert moved["resumed"] == domid and not info.shutdown and not info.paused
    moved.clear()
    save_image(toolstack, domid, str(tmp_path / "p.save"), leave_paused=True)
    info = toolstack.info(domid)
    assert moved["resumed"] == domid and not info.shutdown and info.paused


def test_files_of_the_other_backend_are_refused_before_anything_is_created(host, state_dir, tmp_path):
    toolstack, _ = host
    model = Toolstack(ModelBackend(state_dir))
    model_file, stream_file = tmp_path / "model.save", tmp_path / "stream.save"
    save_image(model, create(model), str(model_file))
    save_image(toolstack, create(toolstack), str(stream_file))
    with pytest.raises(ToolstackError, match="the domain image is the model's, which a Xen host cannot restore"):
        restore(toolstack, model_file)
    with pytest.raises(ToolstackError, match=r"a Xen host's \(libxl migration stream\), which the model cannot"):
        restore(model, stream_file)
    assert [d.domid for d in toolstack.backend.list_domains()] == [0]


PHYSMAP = {"physmap/f0000000/start_addr": "f0000000", "physmap/f0000000/size": "800000",
           "physmap/f0000000/name": "vga.vram"}


def create_hvm(toolstack) -> int:
    """configs/hvm.cfg's guest, with a framebuffer QEMU has mapped (its physmap entries)."""
    domid = create(toolstack, "configs/hvm.cfg")
    assert toolstack.backend.moved.pop("qmp") == ["cont"]  # create's unpause: QEMU, started stopped, carries on
    for key, value in PHYSMAP.items():
        toolstack.backend.xs_write(f"/local/domain/0/device-model/{domid}/{key}", value)
    return domid


def lib_files() -> list[str]:
    from xlpy.domain import devicemodel

    return sorted(p.name for p in Path(devicemodel.LIB_DIR).iterdir())


def records(data: bytes) -> list[tuple[int, bytes]]:
    """The libxl records after libxc's stream (as the StreamingModel writes it), read by the spec's layout."""
    at = data.index(LIBXC_IMAGE_HEADER) + len(LIBXC_IMAGE_HEADER + LIBXC_PV_DOMAIN_HEADER + LIBXC_END)
    found = []
    while at < len(data):
        kind, length = struct.unpack_from("<II", data, at)
        found.append((kind, data[at + 8:at + 8 + length]))
        at += 8 + length + (-length % 8)
    return found


def test_an_hvm_guest_s_file_carries_its_device_model_records(host, tmp_path):
    toolstack, moved = host
    domid = create_hvm(toolstack)
    save_image(toolstack, domid, str(tmp_path / "h.save"))
    # libxl's order: dirty tracking on (libxc's setup), the guest suspends, QEMU stops and saves.
    assert moved["qmp"] == ["xen-set-global-dirty-log", "stop", "add-fd", "xen-save-devices-state"]
    # The spec: emulator_id (2, qemu-xen) and index (0), then the key/value pairs or QEMU's state.
    upstream = struct.pack("<II", 2, 0)
    pairs = b"".join(key.encode() + b"\0" + value.encode() + b"\0" for key, value in PHYSMAP.items())
    assert records((tmp_path / "h.save").read_bytes()) == [(2, upstream + pairs), (3, upstream + QEMU_STATE),
                                                            (0, b"")]


def test_without_physmap_entries_there_is_no_xenstore_record(host, tmp_path):
    """As libxl: an empty EMULATOR_XENSTORE_DATA record is not written at all."""
    toolstack, _ = host
    save_image(toolstack, create(toolstack, "configs/hvm.cfg"), str(tmp_path / "h.save"))
    # Xen's verifier (its check of xenstore data records compares bytes with str
    # under Python 3, so it is used here, where there is none).
    checked = verify(tmp_path / "h.save")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[-4:] == [
        "Libxc Record: End, length 0", f"Libxl Record: Emulator context, length {8 + len(QEMU_STATE)}",
        "  Index 0, type Qemu Upstream", "Libxl Record: End, length 0"]


def test_an_hvm_guest_is_restored_with_its_device_model_state(host, tmp_path):
    toolstack, moved = host
    save_image(toolstack, create_hvm(toolstack), str(tmp_path / "h.save"))
    assert lib_files() == ["qemu-save.1"]  # libxl leaves it to the domain's destroy; the model has no QEMU
    new = restore(toolstack, tmp_path / "h.save")
    base = f"/local/domain/0/device-model/{new}"
    assert {key: toolstack.backend.xs_read(f"{base}/{key}") for key in PHYSMAP} == PHYSMAP
    args = moved["qemu"]
    # -incoming fd:N where libxl puts it: after the NICs, before device_model_args and -machine.
    at = args.index("-incoming")
    assert max(i for i, a in enumerate(args) if a in ("-net", "-netdev")) < at < args.index("-machine")
    assert moved["loaded"] == QEMU_STATE
    assert f"qemu-resume.{new}" not in lib_files()  # removed once QEMU has it, as libxl does
    info = toolstack.info(new)
    assert not info.paused and not info.shutdown
    assert toolstack.backend.xs_read(f"/local/domain/{new}/memory/videoram") == "8192"
    assert moved["qmp"][-1] == "cont"  # QEMU, loaded and stopped (-S), carries on as the domain is unpaused


def test_an_hvm_guest_restored_paused_keeps_its_qemu_stopped_until_unpause(host, tmp_path, monkeypatch):
    toolstack, moved = host
    save_image(toolstack, create_hvm(toolstack), str(tmp_path / "h.save"))
    saved = list(moved["qmp"])
    new = restore(toolstack, tmp_path / "h.save", paused=True)
    assert "-S" in moved["qemu"] and moved["qmp"] == saved and toolstack.info(new).paused
    order = []
    monkeypatch.setattr(toolstack.backend, "unpause_domain",
                        lambda domid: order.append(("unpause", list(moved["qmp"]))))
    toolstack.unpause(new)
    assert order == [("unpause", saved + ["cont"])]  # libxl__domain_unpause: QEMU first, then the domain


@pytest.mark.parametrize("callback_irq, s_state, asked", [(0, 0, False), (1, 0, True), (1, 3, False)])
def test_an_hvm_guest_is_suspended_as_libxl_chooses(host, monkeypatch, callback_irq, s_state, asked):
    """With PV drivers (an event channel callback) and awake: through the
    control node; otherwise Xen suspends it (SHUTDOWN_suspend)."""
    from xlpy.domain.hvm import HVM_PARAM_ACPI_S_STATE, HVM_PARAM_CALLBACK_IRQ
    from xlpy.saverestore import suspend_guest

    toolstack, _ = host
    backend = toolstack.backend
    domid = create(toolstack, "configs/hvm.cfg")
    params = {HVM_PARAM_CALLBACK_IRQ: callback_irq, HVM_PARAM_ACPI_S_STATE: s_state}
    monkeypatch.setattr(backend, "get_hvm_param", lambda d, param: params[param])
    forced = []
    monkeypatch.setattr(backend, "shutdown_domain", lambda d, reason: forced.append(reason) or
                        ModelBackend.shutdown_domain(backend, d, reason))
    requests = []
    real_write = backend.xs_write
    monkeypatch.setattr(backend, "xs_write", lambda path, value: (requests.append(value) if path.endswith(
        "control/shutdown") else None) or real_write(path, value))
    suspend_guest(toolstack, domid, timeout=5, hvm=True)
    info = backend.domain_info(domid)
    assert info.shutdown and info.shutdown_reason is ShutdownReason.SUSPEND
    assert (requests == ["suspend"], forced == []) == (asked, asked)
    assert forced in ([], [ShutdownReason.SUSPEND])


def test_the_hvm_params_are_xen_s():
    from xlpy.domain.hvm import HVM_PARAM_ACPI_S_STATE, HVM_PARAM_CALLBACK_IRQ

    header = Path("/usr/include/xen/hvm/params.h")
    require(header.is_file(), f"Xen's public headers are not installed ({XEN_PACKAGES_HINT})")
    text = header.read_text()
    assert f"#define HVM_PARAM_CALLBACK_IRQ {HVM_PARAM_CALLBACK_IRQ}\n" in text
    assert f"#define HVM_PARAM_ACPI_S_STATE {HVM_PARAM_ACPI_S_STATE}\n" in text


# -- a failure at each step -------------------------------------------------------------------------


def fail_in(backend, monkeypatch, step: str, after: int = 0) -> None:
    original, calls = getattr(backend, step), {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise BackendError(f"injected failure in {step}", step, 5)
        return original(*args, **kwargs)

    monkeypatch.setattr(backend, step, failing)


def fail_after_suspend(backend, monkeypatch) -> None:
    """xc_domain_save fails while it copies memory, once the guest has suspended."""
    def half(domid, fd, suspend, device_model=False):
        suspend()
        raise BackendError("xc_domain_save failed: injected", "xc_domain_save")

    monkeypatch.setattr(backend, "save_domain_stream", half)


def save_fails_leaving_it_running(toolstack, domid: int, path, monkeypatch) -> None:
    with pytest.raises((ToolstackError, OSError)):
        save_image(toolstack, domid, str(path))
    monkeypatch.undo()
    info = toolstack.info(domid)
    assert not info.shutdown and not info.paused, info


def fail_end_record(monkeypatch) -> None:
    real_write = stream.write_all
    monkeypatch.setattr(stream, "write_all", lambda fd, data: (_ for _ in ()).throw(OSError(28, "No space"))
                        if data == stream.record(stream.END) else real_write(fd, data))


@pytest.mark.parametrize("step", ["before-suspend", "after-suspend", "suspend-request", "stream-end"])
def test_a_failed_save_resumes_the_guest_and_leaves_no_file(host, tmp_path, monkeypatch, step):
    toolstack, moved = host
    backend = toolstack.backend
    domid = create(toolstack)
    if step == "before-suspend":  # xc_domain_save fails before it asks for the suspend
        fail_in(backend, monkeypatch, "save_domain_stream")
    elif step == "suspend-request":  # the control node cannot be written
        fail_in(backend, monkeypatch, "xs_write")
    elif step == "after-suspend":  # xc_domain_save fails while it copies memory
        fail_after_suspend(backend, monkeypatch)
    else:  # the END record cannot be written
        fail_end_record(monkeypatch)
    save_fails_leaving_it_running(toolstack, domid, tmp_path / "g.save", monkeypatch)
    assert ("resumed" in moved) == (step in ("after-suspend", "stream-end"))
    assert not [p for p in tmp_path.iterdir() if p.name != "state"]


def test_a_guest_that_never_suspends_has_its_request_withdrawn(host, tmp_path, monkeypatch):
    toolstack, _ = host
    domid = create(toolstack)
    toolstack.pause(domid)  # a paused guest cannot answer
    import xlpy.saverestore as sr

    monkeypatch.setattr(sr, "SUSPEND_TIMEOUT", 0.2)
    with pytest.raises(ToolstackError, match="didn't acknowledge the suspend request within 0.2s"):
        sr.suspend_guest(toolstack, domid, timeout=0.2)
    assert toolstack.backend.xs_read(f"/local/domain/{domid}/control/shutdown") == ""


@pytest.mark.parametrize("step", ["suspend", "device-model", "libxc", "physmap", "stream-end"])
def test_a_failed_hvm_save_resumes_the_guest_and_its_qemu(host, tmp_path, monkeypatch, step):
    toolstack, moved = host
    backend = toolstack.backend
    domid = create_hvm(toolstack)
    if step == "suspend":  # the guest never suspends: QEMU is never stopped
        fail_in(backend, monkeypatch, "shutdown_domain")
    elif step == "device-model":  # QEMU stopped, then failed to save its state
        def stopped_then_failed(domid):
            moved.setdefault("qmp", []).append("stop")
            raise BackendError("QEMU refused xen-save-devices-state: injected", "qmp xen-save-devices-state")

        monkeypatch.setattr(backend, "save_device_model", stopped_then_failed)
    elif step == "libxc":  # xc_domain_save fails while it copies memory, after the suspend
        fail_after_suspend(backend, monkeypatch)
    elif step == "physmap":  # an entry of QEMU's physmap went missing
        backend.xs_rm(f"/local/domain/0/device-model/{domid}/physmap/f0000000/name")
    else:
        fail_end_record(monkeypatch)
    save_fails_leaving_it_running(toolstack, domid, tmp_path / "h.save", monkeypatch)
    qmp = moved.get("qmp", [])
    assert ("stop" in qmp) == (step != "suspend") and qmp[-1:] == (["cont"] if "stop" in qmp else qmp[-1:])
    assert ("resumed" in moved) == (step != "suspend")
    assert not [p for p in tmp_path.iterdir() if p.name != "state"]


def test_save_c_resumes_an_hvm_guest_s_qemu_before_the_guest(host, tmp_path, monkeypatch):
    toolstack, moved = host
    domid = create_hvm(toolstack)
    order = []
    monkeypatch.setattr(toolstack.backend, "resume_device_model", lambda d: order.append("cont"))
    monkeypatch.setattr(toolstack.backend, "resume_domain", lambda d: order.append("xc_domain_resume") or
                        StreamingModel.resume_domain(toolstack.backend, d))
    save_image(toolstack, domid, str(tmp_path / "c.save"), leave_running=True)
    assert order == ["cont", "xc_domain_resume"]
    assert not toolstack.info(domid).shutdown


HVM_RESTORE_STEPS = ["restore_domain_stream", "physmap", "start_device_model", "start_device_model-stopped",
                     "resume_device_model", "unpause_domain"]


@pytest.mark.parametrize("step", HVM_RESTORE_STEPS)
def test_a_failed_hvm_restore_leaves_no_domain_nor_qemu(host, tmp_path, monkeypatch, step):
    toolstack, moved = host
    backend = toolstack.backend
    save_image(toolstack, create_hvm(toolstack), str(tmp_path / "h.save"))
    if step == "physmap":  # QEMU's xenstore entries cannot be written back
        real_write = backend.xs_write
        monkeypatch.setattr(backend, "xs_write", lambda path, value: (_ for _ in ()).throw(
            BackendError("injected failure in xs_write", "xs_write")) if "/physmap/" in path else
            real_write(path, value))
    elif step == "start_device_model-stopped":  # the libxc backend stops a QEMU that failed: its state file goes
        def stopped(domid, args, pass_fds=(), vnc_password=None):
            from xlpy.domain.devicemodel import resume_file

            os.unlink(resume_file(domid))
            raise BackendError("injected failure: the device model exited", "spawn_local_dm")

        monkeypatch.setattr(backend, "start_device_model", stopped)
    else:
        fail_in(backend, monkeypatch, step)
    with pytest.raises(ToolstackError, match="^cannot create 'demo-hvm': injected failure"):
        restore(toolstack, tmp_path / "h.save")
    monkeypatch.undo()
    assert [d.domid for d in backend.list_domains()] == [0]
    assert backend.xs_list("/local/domain") == ["0"]
    assert backend.xs_list("/local/domain/0/device-model") == []
    if step.startswith(("start_device_model", "resume_device_model", "unpause_domain")):  # the toolstack's part;
        # a destroy removes the rest
        assert [name for name in lib_files() if name.startswith("qemu-resume")] == []


@pytest.mark.parametrize("tail, message", [
    (stream.record(stream.END), r"no device model state \(EMULATOR_CONTEXT\)"),
    (stream.record(stream.EMULATOR_CONTEXT, b"abc") + stream.record(stream.END), "too short"),
    (stream.emulator_record(stream.EMULATOR_XENSTORE_DATA, stream.EMULATOR_QEMU_UPSTREAM,
                            stream.xenstore_data([("/local/domain/0/x", "1")])), "not relative"),
])
def test_a_damaged_hvm_stream_leaves_no_domain(host, tmp_path, tail, message):
    toolstack, _ = host
    path = tmp_path / "h.save"
    save_image(toolstack, create(toolstack, "configs/hvm.cfg"), str(path))
    data = path.read_bytes()
    cut = data.index(stream.RECORD.pack(stream.EMULATOR_CONTEXT, 8 + len(QEMU_STATE)))
    path.write_bytes(data[:cut] + tail)
    with pytest.raises(ToolstackError, match=message):
        restore(toolstack, path)
    assert [d.domid for d in toolstack.backend.list_domains()] == [0]
    assert toolstack.backend.xs_list("/local/domain/0/device-model") == []


RESTORE_STEPS = ["set_max_vcpus", "set_max_memory", "set_hvm_param", "set_tsc_mode", "set_paging_pool",
                 "populate_physmap", "restore_domain_stream", "xs_write", "unpause_domain"]


@pytest.mark.parametrize("step", RESTORE_STEPS)
def test_a_failed_restore_leaves_no_domain(host, tmp_path, monkeypatch, step):
    toolstack, _ = host
    backend = toolstack.backend
    save_image(toolstack, create(toolstack), str(tmp_path / "g.save"))
    fail_in(backend, monkeypatch, step, after=2 if step == "xs_write" else 0)
    with pytest.raises(ToolstackError, match=f"injected failure in {step}"):
        restore(toolstack, tmp_path / "g.save")
    monkeypatch.undo()
    assert [d.domid for d in backend.list_domains()] == [0]
    assert backend.xs_list("/local/domain") == ["0"]


@pytest.mark.parametrize("tail, message", [
    (b"", "the stream ends inside its record header"),
    (stream.emulator_record(stream.EMULATOR_CONTEXT, stream.EMULATOR_QEMU_UPSTREAM, b"qemu"),
     "device model state"),
    (stream.record(stream.CHECKPOINT_END), "CHECKPOINT_END record, which a plain restore does not expect"),
])
def test_a_damaged_stream_leaves_no_domain(host, tmp_path, tail, message):
    toolstack, _ = host
    path = tmp_path / "g.save"
    save_image(toolstack, create(toolstack), str(path))
    data = path.read_bytes()
    assert data.endswith(stream.record(stream.END))
    path.write_bytes(data[:-8] + tail)
    with pytest.raises(ToolstackError, match=message):
        restore(toolstack, path)
    assert [d.domid for d in toolstack.backend.list_domains()] == [0]
    assert toolstack.backend.xs_list("/local/domain") == ["0"]


def test_restore_applies_no_cpuid_policy_of_its_own(host, tmp_path, monkeypatch):
    """As libxl__build_pre: the policy comes with the image, or through
    static_data_done when the stream lacks it."""
    toolstack, _ = host
    save_image(toolstack, create(toolstack), str(tmp_path / "g.save"))
    fail_in(toolstack.backend, monkeypatch, "apply_cpuid_policy")
    restore(toolstack, tmp_path / "g.save")


# -- the libxenguest bindings, called back as libxenguest calls them ----------------------------------


class FakeLib:
    """libxenguest's save, restore and resume, calling the callbacks they are given."""

    def __init__(self, save_rc=0, restore_missing=0) -> None:
        self.save_rc, self.restore_missing, self.calls = save_rc, restore_missing, []

    def xc_domain_save(self, xch, fd, domid, flags, callbacks, stream_type, recv_fd):
        self.calls.append(("save", domid, flags, stream_type, recv_fd))
        table = migration.SaveCallbacks.from_address(callbacks)
        assert table.switch_qemu_logdirty  # libxenguest asserts it for any HVM container (PVH too)
        if not table.suspend(table.data):
            return -1
        return self.save_rc

    def xc_domain_restore(self, xch, fd, domid, store_port, store_mfn, store_domid, console_port, console_mfn,
                          console_domid, stream_type, callbacks, send_back_fd):
        self.calls.append(("restore", domid, store_port, console_port))
        table = migration.RestoreCallbacks.from_address(callbacks)
        if table.static_data_done(self.restore_missing, table.data):
            return -1
        store_mfn._obj.value, console_mfn._obj.value = 0x1234, 0x1235
        return 0

    def xc_evtchn_alloc_unbound(self, xch, domid, remote):
        return 7 + remote

    def xc_domain_resume(self, xch, domid, fast):
        self.calls.append(("resume", domid, fast))
        return 0

    def xs_resume_domain(self, xsh, domid):
        self.calls.append(("xs_resume", domid))
        return True


class FakeBackend:
    xch = xsh = None

    def __init__(self, lib) -> None:
        self.lib, self.published = lib, None

    def _check(self, call, rc):
        if rc < 0:
            raise BackendError(f"{call} failed", call)
        return rc

    def last_error(self, errno=None):
        return "libxc's last error"

    def xs_read(self, path):
        return None

    def _publish_rings(self, domid, built):
        self.published = (domid, built)


def test_save_calls_the_suspend_callback_through_ctypes():
    lib = FakeLib()
    suspended = []
    migration.save(FakeBackend(lib), 5, 3, lambda: suspended.append(True))
    assert suspended == [True] and lib.calls == [("save", 5, 0, migration.XC_STREAM_PLAIN, -1)]


def test_a_suspend_that_fails_fails_the_save_with_its_own_error():
    def suspend():
        raise ToolstackError("domain 5 did not suspend within 60s")

    with pytest.raises(BackendError, match="did not suspend within 60s"):
        migration.save(FakeBackend(FakeLib()), 5, 3, suspend)
    with pytest.raises(BackendError, match="xc_domain_save failed: libxc's last error"):
        migration.save(FakeBackend(FakeLib(save_rc=-1)), 5, 3, lambda: None)


def test_restore_publishes_the_rings_libxc_restored():
    backend = FakeBackend(FakeLib())
    migration.restore(backend, 6, 3)
    domid, built = backend.published
    assert (domid, built.store_mfn, built.console_mfn, built.store_port, built.console_port) == (6, 0x1234, 0x1235,
                                                                                                 7, 7)
    asked = []
    backend = FakeBackend(FakeLib(restore_missing=migration.XGR_SDD_MISSING_CPUID))
    migration.restore(backend, 6, 3, missing_cpuid=lambda: asked.append(True))
    assert asked == [True]


def test_restore_fails_with_the_cpuid_callback_s_error():
    def missing():
        raise BackendError("xc_cpuid_apply_policy: injected", "xc_cpuid_apply_policy")

    backend = FakeBackend(FakeLib(restore_missing=migration.XGR_SDD_MISSING_CPUID))
    with pytest.raises(BackendError, match="xc_cpuid_apply_policy: injected"):
        migration.restore(backend, 6, 3, missing_cpuid=missing)
    assert backend.published is None


def test_resume_is_libxl_s_cooperative_resume():
    lib = FakeLib()
    migration.resume(FakeBackend(lib), 9)
    assert lib.calls == [("resume", 9, 1), ("xs_resume", 9)]


def test_the_bindings_take_the_callbacks_by_address():
    from xlpy.backends.libxc.lib import BINDINGS

    guest = BINDINGS["xenguest"]
    assert len(guest["xc_domain_save"][1]) == 7 and len(guest["xc_domain_restore"][1]) == 12
    assert guest["xc_domain_save"][1][4] is C.c_void_p and guest["xc_domain_restore"][1][10] is C.c_void_p
