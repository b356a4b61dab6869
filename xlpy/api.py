"""xlpy's Python API: the toolstack without the shell.

    import xlpy.api as xl

    with xl.open() as host:                       # the model, or XLPY_BACKEND
        guest = host.create("configs/pvh.cfg", overrides=["vcpus=4"])
        guest.wait_for("running", timeout=10)
        print(guest.domid, guest.state, guest.vcpus)
        guest.shutdown(wait=True)
        for dom in host.domains():
            print(dom.name, dom.memory_mib)

Errors are typed: ConfigError (bad config, with file:line:column), DomainNotFound,
NameInUse, NotEnoughMemory, WaitTimeout, all subclasses of xlpy.api.Error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from xlpy.backends.base import DomainInfo
from xlpy.toolstack import (  # noqa: F401  (re-exported)
    CreateFailed, DomainNotFound, NameInUse, NotEnoughMemory, Toolstack, ToolstackError, WaitTimeout,
)

Error = ToolstackError


class ConfigError(ToolstackError):
    """The config is not valid; `diagnostics` has every finding."""

    def __init__(self, message: str, diagnostics=()) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics)


STATES = ("running", "paused", "shutdown", "crashed", "dying", "gone")


def state_of(info: DomainInfo | None) -> str:
    if info is None:
        return "gone"
    if info.dying:
        return "dying"
    if info.crashed:
        return "crashed"
    if info.shutdown:
        return "shutdown"
    if info.paused:
        return "paused"
    return "running"


@dataclass
class Domain:
    """A domain on the host; properties read its current state."""

    host: "Host"
    domid: int

    @property
    def info(self) -> DomainInfo:
        return self.host.toolstack.info(self.domid)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def uuid(self) -> str:
        return self.info.uuid

    @property
    def state(self) -> str:
        try:
            return state_of(self.info)
        except DomainNotFound:
            return "gone"

    @property
    def vcpus(self) -> int:
        return self.info.online_vcpus

    @property
    def memory_mib(self) -> int:
        return self.info.tot_pages * 4 // 1024

    def console(self) -> str:
        return self.host.toolstack.backend.console(self.domid)

    def pause(self) -> None:
        self.host.toolstack.pause(self.domid)

    def unpause(self) -> None:
        self.host.toolstack.unpause(self.domid)

    def destroy(self) -> None:
        self.host.toolstack.destroy(self.domid)

    def rename(self, name: str) -> None:
        self.host.toolstack.rename(self.domid, name)

    def save(self, path: str, leave_running: bool = False) -> None:
        """Save the domain to `path` in xl's save-file format, then destroy it
        (unless leave_running); Host.restore brings it back."""
        from xlpy.saverestore import save_image

        save_image(self.host.toolstack, self.domid, path, leave_running=leave_running)

    def set_vcpus(self, count: int) -> None:
        self.host.toolstack.set_vcpus(self.domid, count)

    def set_memory(self, mib: int) -> None:
        self.host.toolstack.set_memory(self.domid, mib * 1024)

    def shutdown(self, wait: bool = False, timeout: float = 60.0) -> None:
        """Ask the guest to power off; with wait, until its on_poweroff action is done."""
        self.host.toolstack.request_shutdown(self.domid, "poweroff")
        if wait:
            self.host.toolstack.wait_shutdown(self.domid, timeout)
            self.host.toolstack.reap()

    def reboot(self, wait: bool = False, timeout: float = 60.0) -> "Domain":
        """Ask the guest to reboot; with wait, the restarted domain (a new domid)."""
        name = self.name
        self.host.toolstack.request_shutdown(self.domid, "reboot")
        if not wait:
            return self
        self.host.toolstack.wait_shutdown(self.domid, timeout)
        self.host.toolstack.reap()
        return self.host.lookup(name)

    def wait_for(self, state: str, timeout: float = 30.0, interval: float = 0.05) -> None:
        """Until the domain is in `state` (one of STATES); WaitTimeout otherwise."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; one of {', '.join(STATES)}")
        deadline = time.monotonic() + timeout
        while self.state != state:
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"domain {self.domid} is {self.state}, not {state}, after {timeout:g}s")
            time.sleep(interval)
            self.host.toolstack.reap()


class Host:
    """A connection to one hypervisor host through a backend."""

    def __init__(self, backend: str | None = None) -> None:
        from xlpy.backends import get_backend

        self.toolstack = Toolstack(get_backend(backend))
        self.toolstack.reap()

    def __enter__(self) -> "Host":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        store = getattr(self.toolstack.backend, "store", None)
        if store is not None:
            store.db.close()

    def domains(self) -> list[Domain]:
        return [Domain(self, info.domid) for info in self.toolstack.domains()]

    def lookup(self, ident: str | int) -> Domain:
        domid = ident if isinstance(ident, int) else self.toolstack.resolve(ident)
        self.toolstack.info(domid)
        return Domain(self, domid)

    def create(self, config, overrides: list[str] | None = None, paused: bool = False) -> Domain:
        """Create from a config file path or a built DomainConfig."""
        from xlpy.domain.config import DomainConfig

        if isinstance(config, DomainConfig):
            dc, text = config, ""
        else:
            dc, text = self._built(config, overrides)
        return Domain(self, self.toolstack.create(dc, paused=paused, config_text=text).domid)

    def restore(self, path: str, config=None, paused: bool = False) -> Domain:
        """The domain saved in `path` (by Domain.save or `xlpy save`), created
        again; `config` (a file path) replaces the config the file carries."""
        from xlpy.domain.savefile import SaveFileError
        from xlpy.saverestore import open_save_file, read_image, restore_image, saved_config

        try:
            header, src = open_save_file(path)
        except SaveFileError as e:
            raise Error(str(e)) from None
        with src:
            if config is not None:
                dc, text = self._built(config)
            else:
                try:
                    dc, text = saved_config(header)
                except (SaveFileError, ValueError) as e:
                    raise ConfigError(f"{path}: {e}") from None
            state = read_image(src, path, self.toolstack.backend)
            return Domain(self, restore_image(self.toolstack, dc, state, config_text=text, paused=paused))

    def _built(self, path, overrides: list[str] | None = None):
        """A config file parsed and built for this host, and its text; ConfigError on errors."""
        from xlpy.config import ConfigError as SyntaxProblem
        from xlpy.config import parse_file
        from xlpy.config.build import build, has_errors
        from xlpy.domain.host import Topology

        try:
            cfg = parse_file(path, overrides)
        except SyntaxProblem as e:
            raise ConfigError(str(e)) from None
        physinfo = self.toolstack.backend.physinfo()
        dc, diagnostics = build(cfg, Topology(physinfo.nr_cpus, physinfo.nr_nodes))
        if has_errors(diagnostics):
            errors = [d for d in diagnostics if d.severity.name == "ERROR"]
            raise ConfigError(str(errors[0]), diagnostics)
        return dc, cfg.full_text


def open(backend: str | None = None) -> Host:  # noqa: A001  (reads like libvirt.open)
    return Host(backend)
