"""Save a domain to a file and restore it, in xl's save-file container.

The container (header, config) is xl's, byte for byte (xlpy.domain.savefile).
What follows it is the domain image: for xl, libxc's migration stream; for
xlpy, a record of the run-time state the model keeps (online vCPUs, memory
target and limit), behind its own magic line so that a foreign image is
refused before anything is created.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, BinaryIO

from xlpy.backends.base import PAGE_SIZE
from xlpy.domain.savefile import SaveHeader, header_for_json, write_header
from xlpy.toolstack import Toolstack, ToolstackError

if TYPE_CHECKING:
    from xlpy.domain.config import DomainConfig

IMAGE_MAGIC = b"xlpy model domain image v1\n"


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
    if config is None:  # as xl: the config libxl retrieves for the running domain
        from xlpy.retrieve import retrieve_config

        config = retrieve_config(toolstack, domid, info)
        if config is None:
            raise ToolstackError("unable to retrieve domain configuration")
        config.c_info.domid = domid if preserve_domid else 0
    config_json = config.to_json()
    header = header_for_json(config_json)
    state = {"vcpus_online": info.online_vcpus,
             "memory_kb": info.tot_pages * PAGE_SIZE // 1024,
             "max_memory_kb": info.max_pages * PAGE_SIZE // 1024}
    toolstack.pause(domid)
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            write_header(f, header)
            report(f"Saving to {path} new xl format (info {header.info()})")
            f.write(IMAGE_MAGIC + json.dumps(state).encode() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        toolstack.unpause(domid)  # as xl: a failed save resumes the domain
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    if leave_running:
        toolstack.unpause(domid)
    elif not leave_paused:
        toolstack.destroy(domid)
    return header


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


def read_image(src: BinaryIO, source: str) -> dict:
    """The model's image after the header; refused unless xlpy wrote it."""
    if src.read(len(IMAGE_MAGIC)) != IMAGE_MAGIC:
        raise ToolstackError(f"{source}: the domain image is not one xlpy saved "
                             "(xlpy restores the images it writes, not libxc streams)")
    try:
        state = json.loads(src.readline())
        return {key: int(state[key]) for key in ("vcpus_online", "memory_kb", "max_memory_kb")}
    except (ValueError, KeyError, TypeError):
        raise ToolstackError(f"{source}: the domain image is damaged") from None


def restore_image(toolstack: Toolstack, dc: DomainConfig, state: dict, config_text: str = "",
                  paused: bool = False, monitor: bool = True, foreground: bool = False) -> int:
    """Create the domain again from its config and saved state; on failure
    nothing of it is left."""
    domid = toolstack.create(dc, paused=True, config_text=config_text, monitor=monitor,
                             foreground=foreground).domid
    try:
        # Xen's limit as it was; the static maximum (xenstore) comes from the config.
        toolstack.backend.set_max_memory(domid, state["max_memory_kb"])
        toolstack.set_memory(domid, state["memory_kb"])
        toolstack.set_vcpus(domid, state["vcpus_online"])
    except BaseException:
        toolstack.destroy(domid)
        raise
    if not paused:
        toolstack.unpause(domid)
    return domid
