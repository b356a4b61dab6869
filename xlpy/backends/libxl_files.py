"""Files libxl keeps beside the hypervisor, in its formats and under its locks,
so that xl and xlpy share them: the flock'd lock files (libxl__lock_file) and
the history of recently used domids (<run dir>/domid-history).

The history has one line per destroyed domain, "<seconds> <domid>", the
seconds read from CLOCK_MONOTONIC when it was destroyed. A domid stays
"recent", and is not given to a new domain, for LIBXL_DOMID_REUSE_TIMEOUT
seconds (60; the environment variable of that name overrides it, as for
libxl). Each mark rewrites the file without its expired entries, under
<run dir>/domid-history.lock, into domid-history.new renamed over it, so a
reader needs no lock. xen-init-dom0 removes the file when the host boots.
"""

from __future__ import annotations

import errno as errnos
import fcntl
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path

from xlpy.backends.base import DOMID_FIRST_RESERVED, BackendError

REUSE_TIMEOUT = 60  # LIBXL_DOMID_REUSE_TIMEOUT
_ENTRY = re.compile(r"\s*(\d+)\s+(\d+)\s*\Z")
ULONG = 2**64


@contextmanager
def file_lock(path: Path):
    """libxl__lock_file: flock a file that the holder unlinks when done. A
    waiter may get the lock on a file already unlinked, so it checks that its
    file is still the one at the path, and tries again if not."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now, held = os.stat(path), os.fstat(fd)
            if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)


def reuse_timeout() -> int:
    """libxl__get_domid_reuse_timeout: (unsigned int) strtol(env, NULL, 0)."""
    from xlpy.config.values import strtoul_u32

    value = os.environ.get("LIBXL_DOMID_REUSE_TIMEOUT")
    return REUSE_TIMEOUT if value is None else strtoul_u32(value)


def monotonic_seconds() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1_000_000_000


class DomidHistory:
    """libxl's domid history in `directory` (its run dir, XEN_RUN_DIR)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "domid-history"

    def _recent(self, now: int) -> list[tuple[int, int]]:
        """libxl__read_recent over the file: the (seconds, domid) entries of
        guest domids at most the timeout old. The age is C's unsigned
        difference, so an entry from the future (an earlier boot) is old."""
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return []
        except OSError as e:
            raise BackendError(f"failed to open '{self.path}': {e.strerror}", "libxl__open_domid_history",
                               e.errno) from None
        timeout, kept = reuse_timeout(), []
        for line in text.splitlines():
            m = _ENTRY.match(line)
            if m is None:
                continue  # not a line libxl writes
            sec, domid = int(m.group(1)) % ULONG, int(m.group(2))
            if 0 < domid < DOMID_FIRST_RESERVED and (now - sec) % ULONG <= timeout:
                kept.append((sec, domid))
        return kept

    def is_recent(self, domid: int, now: int | None = None) -> bool:
        """libxl__is_domid_recent."""
        now = monotonic_seconds() if now is None else now
        return any(entry == domid for _, entry in self._recent(now))

    def recent(self, now: int | None = None) -> list[tuple[int, int]]:
        return self._recent(monotonic_seconds() if now is None else now)

    def mark(self, domid: int, now: int | None = None) -> None:
        """libxl__mark_domid_recent: under the lock, the entries still recent
        and then this one, written to domid-history.new and renamed over the
        history. A failure leaves the history as it was."""
        new = self.path.with_name("domid-history.new")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)  # xencommons makes it at boot
            with file_lock(self.path.with_name("domid-history.lock")):
                now = monotonic_seconds() if now is None else now
                lines = [f"{sec} {entry}\n" for sec, entry in self._recent(now)]
                with open(new, "w") as f:
                    f.write("".join(lines) + f"{now} {domid}\n")
                os.rename(new, self.path)
        except OSError as e:
            where = f" '{e.filename}'" if e.filename else ""
            raise BackendError(f"Domain {domid}:failed to record the domid as recently used{where}: "
                               f"{e.strerror or os.strerror(e.errno or errnos.EIO)}",
                               "libxl__mark_domid_recent", e.errno) from None

    def clear(self) -> None:
        """libxl_clear_domid_history, as xen-init-dom0 calls it at boot."""
        self.path.unlink(missing_ok=True)
