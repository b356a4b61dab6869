"""Save a domain to a file and restore it, in xl's save-file container.

The container (header, config) is xl's, byte for byte (xlpy.domain.savefile).
What follows it is the domain image, which depends on the backend:

- on a real Xen host (libxc), what xl writes: libxl's migration stream v2
  (xlpy.domain.stream) around libxc's stream of the guest's memory and CPU
  state, taken after the guest has suspended itself, followed for an HVM
  guest by its device model's xenstore entries and QEMU's device state; a
  restore carries on where the guest was, and files move between xlpy and
  xl both ways;
- on the model, a record of the run-time state the model keeps (online
  vCPUs, memory target and limit), behind its own magic line.

A file of one kind is refused by the other backend before anything is created.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from xlpy.backends.base import PAGE_SIZE
from xlpy.domain.savefile import SaveHeader, header_for_json, write_header
from xlpy.toolstack import Toolstack, ToolstackError

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig

IMAGE_MAGIC = b"xlpy model domain image v1\n"


SUSPEND_TIMEOUT = 60.0  # libxl: a minute for the guest to acknowledge, then a minute to suspend
POLL = 0.05


def save_image(toolstack: Toolstack, domid: int, path: str, leave_running: bool = False,
               config: DomainConfig | None = None, report=lambda line: None, leave_paused: bool = False,
               preserve_domid: bool = False) -> SaveHeader:
    """Suspend a domain into `path`, then destroy it unless `leave_running`
    or `leave_paused` (xl save -c / -p). `config` replaces the domain's own in
    the file, as xl save's <ConfigFile> does; otherwise the retrieved config
    is stored, with the domain id if `preserve_domid` (-D), as xl stores it.
    `report` gets xl's line about the header."""
    if domid == 0:
        raise ToolstackError("domain 0 cannot be saved: it is the control domain")
    info = toolstack.info(domid)
    streams = hasattr(toolstack.backend, "save_domain_stream")
    hvm = streams and _has_device_model(toolstack, domid, info)
    if config is None:  # as xl: the config libxl retrieves for the running domain
        from xlpy.retrieve import retrieve_config

        config = retrieve_config(toolstack, domid, info)
        if config is None:
            raise ToolstackError("unable to retrieve domain configuration")
        config.c_info.domid = domid if preserve_domid else 0
    header = header_for_json(config.to_json())
    if streams:
        _save_stream(toolstack, domid, path, header, report, hvm)
        if leave_paused or leave_running:  # as xl: the domain carries on (-p: paused) from its suspend
            if leave_paused:
                toolstack.pause(domid)
            _resume(toolstack, domid, hvm)
        else:
            toolstack.destroy(domid)
        return header
    state = {"vcpus_online": info.online_vcpus,
             "memory_kb": info.tot_pages * PAGE_SIZE // 1024,
             "max_memory_kb": info.max_pages * PAGE_SIZE // 1024}
    toolstack.pause(domid)
    try:
        _write_file(path, header, report, lambda f: f.write(IMAGE_MAGIC + json.dumps(state).encode() + b"\n"))
    except BaseException:
        toolstack.unpause(domid)  # as xl: a failed save resumes the domain
        raise
    if leave_running:
        toolstack.unpause(domid)
    elif not leave_paused:
        toolstack.destroy(domid)
    return header


def _write_file(path: str, header: SaveHeader, report, write_image) -> None:
    """xl's container, then the image `write_image(file)` writes, into `path`
    by way of a temporary file that a failure removes."""
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            write_header(f, header)
            report(f"Saving to {path} new xl format (info {header.info()})")
            f.flush()
            write_image(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _has_device_model(toolstack: Toolstack, domid: int, info) -> bool:
    """An HVM guest (not PVH): QEMU holds part of its state. A guest in an
    HVM container whose type no toolstack recorded counts as HVM only when
    it has a device model's xenstore directory."""
    from xlpy.domain.config import DomainType
    from xlpy.domain.devicemodel import xenstore_dir

    if not info.hvm:
        return False
    recorded = toolstack.backend.xs_read(f"/libxl/{domid}/type")
    if recorded is not None:
        return recorded == DomainType.HVM.value
    return bool(toolstack.backend.xs_list(xenstore_dir(domid)))


def _save_stream(toolstack: Toolstack, domid: int, path: str, header: SaveHeader, report, hvm: bool) -> None:
    """libxl__domain_save: the stream header, LIBXC_CONTEXT, libxc's stream
    (the guest suspends when libxc asks, then an HVM guest's QEMU stops and
    writes its device state), for an HVM guest the emulator records (QEMU's
    xenstore entries, if any, and its device state), END. On failure the
    guest and its QEMU carry on and the file is removed."""
    from xlpy.backends.base import BackendError
    from xlpy.domain import stream

    backend = toolstack.backend
    saved: dict = {}

    def suspend() -> None:
        suspend_guest(toolstack, domid, hvm=hvm)
        if hvm:  # libxl__domain_suspend_device_model, once the guest has suspended
            saved["stopped"] = True  # QEMU may be stopped even if its save fails
            saved["file"] = backend.save_device_model(domid)

    def write_image(f) -> None:
        fd = f.fileno()
        stream.write_all(fd, stream.header() + stream.record(stream.LIBXC_CONTEXT))
        if hvm:
            backend.save_domain_stream(domid, fd, suspend, device_model=True)
            stream.write_all(fd, emulator_records(backend, domid, saved["file"]))
        else:
            backend.save_domain_stream(domid, fd, suspend)
        stream.write_all(fd, stream.record(stream.END))

    try:
        _write_file(path, header, report, write_image)
    except BaseException as e:
        _resume_if_suspended(toolstack, domid, saved.get("stopped", False))
        if isinstance(e, BackendError):
            raise ToolstackError(f"saving domain {domid}: {e.message}") from None
        raise


def emulator_records(backend, domid: int, state_file: str) -> bytes:
    """What libxl writes after libxc's stream for an HVM guest: the
    EMULATOR_XENSTORE_DATA record of QEMU's physmap entries (none when QEMU
    mapped nothing), then EMULATOR_CONTEXT with QEMU's saved device state;
    both for emulator qemu-xen, instance 0."""
    from xlpy.domain import stream
    from xlpy.domain.devicemodel import xenstore_dir

    base = xenstore_dir(domid)
    pairs = []
    for entry in backend.xs_list(f"{base}/physmap"):
        for sub in ("start_addr", "size", "name"):  # libxl__save_emulator_xenstore_data
            key = f"physmap/{entry}/{sub}"
            value = backend.xs_read(f"{base}/{key}")
            if value is None:
                raise ToolstackError(f"domain {domid}: the device model's xenstore entry {key} is missing")
            pairs.append((key, value))
    records = b""
    if pairs:
        records += stream.emulator_record(stream.EMULATOR_XENSTORE_DATA, stream.EMULATOR_QEMU_UPSTREAM,
                                          stream.xenstore_data(pairs))
    with open(state_file, "rb") as f:
        records += stream.emulator_record(stream.EMULATOR_CONTEXT, stream.EMULATOR_QEMU_UPSTREAM, f.read())
    return records


def suspend_guest(toolstack: Toolstack, domid: int, timeout: float = SUSPEND_TIMEOUT, hvm: bool = False) -> None:
    """libxl's suspend of a guest: an HVM guest without PV drivers (no
    event channel callback) or asleep in an ACPI state is suspended by Xen
    (SHUTDOWN_suspend), needing no answer; any other is asked through its
    control node (control/shutdown = "suspend") and must take the request
    (clear the node) or have it withdrawn. Then the domain must shut down
    with reason suspend."""
    from xlpy.backends.base import ShutdownReason
    from xlpy.domain.hvm import HVM_PARAM_ACPI_S_STATE, HVM_PARAM_CALLBACK_IRQ

    backend = toolstack.backend
    if hvm and (not backend.get_hvm_param(domid, HVM_PARAM_CALLBACK_IRQ)
                or backend.get_hvm_param(domid, HVM_PARAM_ACPI_S_STATE)):
        backend.shutdown_domain(domid, ShutdownReason.SUSPEND)
        _wait_suspended(toolstack, domid, timeout)
        return
    node = f"/local/domain/{domid}/control/shutdown"
    backend.xs_write(node, "suspend")
    deadline = time.monotonic() + timeout
    while backend.xs_read(node) == "suspend":
        if time.monotonic() >= deadline:
            backend.xs_write(node, "")
            raise ToolstackError(f"domain {domid} didn't acknowledge the suspend request within {timeout:g}s; "
                                 "request cancelled")
        time.sleep(POLL)
    _wait_suspended(toolstack, domid, timeout)


def _wait_suspended(toolstack: Toolstack, domid: int, timeout: float) -> None:
    from xlpy.backends.base import NoSuchDomain, ShutdownReason

    backend = toolstack.backend
    deadline = time.monotonic() + timeout
    while True:
        try:
            info = backend.domain_info(domid)
        except NoSuchDomain:
            raise ToolstackError(f"domain {domid} was destroyed while it was suspending") from None
        if info.shutdown:
            if info.shutdown_reason is not ShutdownReason.SUSPEND:
                code = -1 if info.shutdown_reason is None else int(info.shutdown_reason)
                raise ToolstackError(f"domain {domid} shut down with reason code {code} instead of suspending")
            return
        if time.monotonic() >= deadline:
            raise ToolstackError(f"domain {domid} did not suspend within {timeout:g}s")
        time.sleep(POLL)


def _resume(toolstack: Toolstack, domid: int, hvm: bool = False) -> None:
    """libxl__domain_resume: an HVM guest's QEMU carries on first, then the guest."""
    from xlpy.backends.base import BackendError

    try:
        if hvm:
            toolstack.backend.resume_device_model(domid)
        toolstack.backend.resume_domain(domid)
    except BackendError as e:
        raise ToolstackError(f"resuming domain {domid}: {e.message}") from None


def _resume_if_suspended(toolstack: Toolstack, domid: int, device_model_stopped: bool = False) -> None:
    """After a failed save: a QEMU that was stopped carries on, and a guest
    that suspended too (xl's "resuming domain"); a guest that never got so
    far is left as it is."""
    from xlpy.backends.base import BackendError, ShutdownReason

    backend = toolstack.backend
    try:
        if device_model_stopped:
            backend.resume_device_model(domid)
    except BackendError:
        pass  # the save's own error is the one to report; the guest is still resumed
    try:
        info = backend.domain_info(domid)
        if info.shutdown and info.shutdown_reason is ShutdownReason.SUSPEND:
            backend.resume_domain(domid)
    except BackendError:
        pass  # the save's own error is the one to report


def open_save_file(path: str, report=lambda line: None) -> tuple[SaveHeader, BinaryIO]:
    """The checked header of a save file, and the file positioned at its image.
    SaveFileError carries xl's message for anything wrong."""
    from xlpy.domain.savefile import SaveFileError, read_header

    try:
        src = open(path, "rb")
    except OSError as e:
        raise SaveFileError(f"Can't open restore file: {e.strerror}") from None
    try:
        return read_header(src, path, report), src
    except BaseException:
        src.close()
        raise


def saved_config(header: SaveHeader) -> tuple[DomainConfig, str]:
    """The config a save file carries and, when it is xl.cfg text, that text.
    ValueError for JSON xlpy cannot read; the config parser's errors for text."""
    from xlpy.domain.savefile import SaveFileError
    from xlpy.domain.stored import config_from_json

    if header.config is None:
        raise SaveFileError("Config file not specified and none in save file")
    text = header.config_text
    if header.config_is_json:
        return config_from_json(text), ""
    from xlpy.config import parse
    from xlpy.config.build import build, has_errors

    dc, diagnostics = build(parse(text, "<saved>"))
    if has_errors(diagnostics):
        raise ValueError(str(next(d for d in diagnostics if d.severity.name == "ERROR")))
    return dc, text


@dataclass
class StreamImage:
    """A libxl migration stream, its header checked; `fd` is at its first record."""

    fd: int
    source: str


def read_image(src: BinaryIO, source: str, backend) -> dict | StreamImage:
    """The image after the header: the model's state, or a libxl stream for
    a backend that restores streams. A file meant for the other backend, or
    neither's, is refused here, before anything is created."""
    from xlpy.domain import stream

    streams = hasattr(backend, "restore_domain_stream")
    start = src.read(len(IMAGE_MAGIC))
    if start.startswith(stream.HEADER.pack(stream.IDENT, 0, 0)[:8]):
        if not streams:
            raise ToolstackError(f"{source}: the domain image is a Xen host's (libxl migration stream), which "
                                 "the model cannot restore; restore it with --backend libxc on a Xen host")
        fd = src.fileno()
        os.lseek(fd, src.tell() - len(start), os.SEEK_SET)  # past what the buffered reader took
        try:
            stream.read_header(fd)
        except stream.StreamError as e:
            raise ToolstackError(f"{source}: {e}") from None
        return StreamImage(fd, source)
    if start == IMAGE_MAGIC and streams:
        raise ToolstackError(f"{source}: the domain image is the model's, which a Xen host cannot restore; "
                             "restore it with --backend model")
    if start != IMAGE_MAGIC:
        raise ToolstackError(f"{source}: the domain image is neither a libxl migration stream nor one the "
                             "model saved")
    try:
        state = json.loads(src.readline())
        return {key: int(state[key]) for key in ("vcpus_online", "memory_kb", "max_memory_kb")}
    except (ValueError, KeyError, TypeError):
        raise ToolstackError(f"{source}: the domain image is damaged") from None


def restore_image(toolstack: Toolstack, dc: DomainConfig, state: dict | StreamImage, config_text: str = "",
                  paused: bool = False, monitor: bool = True, foreground: bool = False) -> int:
    """Create the domain again from its config and saved state; on failure
    nothing of it is left."""
    if isinstance(state, StreamImage):
        return _restore_stream(toolstack, dc, state, config_text, paused, monitor, foreground)
    domid = toolstack.create(dc, paused=True, config_text=config_text, monitor=monitor,
                             foreground=foreground).domid
    try:
        # Xen's limit as it was; the static maximum (xenstore) comes from the config.
        toolstack.backend.set_max_memory(domid, state["max_memory_kb"])
        toolstack.backend.set_memory_target(domid, state["memory_kb"])
        toolstack.set_vcpus(domid, state["vcpus_online"])
    except BaseException:
        toolstack.destroy(domid)
        raise
    if not paused:
        toolstack.unpause(domid)
    return domid


def _restore_stream(toolstack: Toolstack, dc: DomainConfig, image: StreamImage, config_text: str,
                    paused: bool, monitor: bool, foreground: bool) -> int:
    """libxl's restore: the domain is created as for create up to its image,
    which libxc reads from the stream in place of the builder; the records
    after libxc's stream end it. An HVM guest's emulator records give its
    QEMU's xenstore entries back and leave QEMU's device state in the file
    its QEMU then loads (Toolstack._start_device_model)."""
    from xlpy.domain import stream
    from xlpy.domain.config import DomainType

    hvm = dc.c_info.type is DomainType.HVM

    def fill(domid: int, mode: str) -> None:
        kind, _ = stream.read_record(image.fd)
        if kind != stream.LIBXC_CONTEXT:
            raise stream.StreamError(f"the stream starts with a {_record_name(kind)} record, not LIBXC_CONTEXT")
        toolstack.backend.restore_domain_stream(domid, image.fd,
                                                lambda: toolstack._cpuid_policy(domid, dc, mode))
        device_state = False
        while True:
            kind, body = stream.read_record(image.fd)
            if kind == stream.END:
                if hvm and not device_state:
                    raise stream.StreamError("the stream holds no device model state (EMULATOR_CONTEXT), "
                                             "which an HVM guest's QEMU needs")
                return
            if kind in (stream.EMULATOR_XENSTORE_DATA, stream.EMULATOR_CONTEXT):
                if not hvm:
                    raise stream.StreamError(f"the stream holds device model state ({_record_name(kind)}), "
                                             "which a guest without device model cannot take")
                _restore_emulator_record(toolstack.backend, domid, kind, body)
                device_state = device_state or kind == stream.EMULATOR_CONTEXT
                continue
            if not kind & 0x80000000:  # an optional record may be skipped; a mandatory one may not
                raise stream.StreamError(f"the stream holds a {_record_name(kind)} record, which a plain "
                                         "restore does not expect")

    try:
        return toolstack.create(dc, paused=paused, config_text=config_text, monitor=monitor,
                                foreground=foreground, image=fill).domid
    except stream.StreamError as e:
        raise ToolstackError(f"{image.source}: {e}") from None


def _restore_emulator_record(backend, domid: int, kind: int, body: bytes) -> None:
    """libxl__restore_emulator_xenstore_data (relative keys, written under
    the device model's directory) or write_emulator_blob (QEMU's device
    state into the file its QEMU loads)."""
    from xlpy.domain import stream
    from xlpy.domain.devicemodel import resume_file, xenstore_dir

    if len(body) < stream.EMULATOR.size:
        raise stream.StreamError(f"the {_record_name(kind)} record is too short to hold its emulator header")
    data = body[stream.EMULATOR.size:]
    if kind == stream.EMULATOR_CONTEXT:
        path = resume_file(domid)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                stream.write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as e:
            raise ToolstackError(f"cannot write the device model's saved state {path}: {e.strerror}") from None
        return
    for key, value in stream.parse_xenstore_data(data):
        if not key or key.startswith("/"):
            raise stream.StreamError(f"the emulator xenstore record holds a key that is not relative: {key!r}")
        backend.xs_write(f"{xenstore_dir(domid)}/{key}", value)


def _record_name(kind: int) -> str:
    from xlpy.domain import stream

    return stream.RECORD_NAMES.get(kind, f"{kind:#x}")
