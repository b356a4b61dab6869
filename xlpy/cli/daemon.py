"""xl's domain monitoring daemon, for backends whose guests shut down by
themselves (a real host): once create or restore has returned, a process of
its own waits for the domain to die and carries out its on_* actions,
following it across restarts, with xl's lines in /var/log/xen/xl-<name>.log.

On the model a guest shuts down only when a command touches it, and that
command carries the actions out (Toolstack.reap), so no daemon is started.

    python -m xlpy.cli.daemon BACKEND DOMID    # what create starts
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

LOG_DIR = "/var/log/xen"  # xl's XEN_LOG_DIR
KEPT_LOGS = 10  # libxl_create_logfile keeps NAME.log.1 .. NAME.log.10
POLL_SECONDS = 0.2


def start_monitor_daemon(toolstack, domid: int) -> subprocess.Popen | None:
    """xl's do_daemonize: the monitor in a session of its own, its output
    appended to a fresh xl-<name>.log (older ones rotated as libxl does).
    The domain is handed to it at once, so no other command acts on its
    death meanwhile. A log that cannot be opened is said, and the domain is
    left to the next command that looks, as without a daemon (None)."""
    try:
        log = open_log(f"xl-{toolstack.info(domid).name}")
    except OSError as e:
        click.echo(f"failed to open logfile {e.filename}: {e.strerror}", err=True)
        return None
    with log:
        daemon = subprocess.Popen([sys.executable, "-m", "xlpy.cli.daemon", toolstack.backend.name, str(domid)],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
                                  start_new_session=True)
    toolstack.hand_monitor_to(domid, daemon.pid)
    return daemon


def open_log(name: str):
    """libxl_create_logfile: NAME.log, an existing one moved to NAME.log.1
    and those before it one further, the tenth dropped; opened to append."""
    path = os.path.join(LOG_DIR, f"{name}.log")
    os.makedirs(LOG_DIR, exist_ok=True)
    if os.path.exists(path):
        for n in range(KEPT_LOGS - 1, 0, -1):
            older = f"{path}.{n}"
            if os.path.exists(older):
                os.replace(older, f"{path}.{n + 1}")
        os.replace(path, f"{path}.1")
    return open(path, "a")


def main(argv: list[str]) -> int:
    from xlpy.backends import get_backend
    from xlpy.backends.base import BackendError
    from xlpy.toolstack import Toolstack, ToolstackError

    backend_name, domid = argv

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        return Toolstack(get_backend(backend_name)).monitor(int(domid), log=log, interval=POLL_SECONDS)
    except (ToolstackError, BackendError) as e:  # the domain is left for the next command to act on
        log(f"xlpy: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
