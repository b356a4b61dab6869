"""A QMP client for the device model's control socket, as libxl's
libxl__ev_qmp uses it: connect, read QEMU's greeting, enter command mode
(qmp_capabilities), then one command at a time, each answered by a
"return" or an "error" carrying the command's id. Events QEMU sends in
between are skipped. A file descriptor can travel with a command
(SCM_RIGHTS), as libxl hands QEMU the file for its device state (add-fd).
"""

from __future__ import annotations

import array
import json
import socket
import time

from xlpy.backends.base import BackendError

TIMEOUT = 60.0  # seconds for QEMU to answer a command; saving device state under emulation is slow


POLL = 0.1  # seconds between looks at whether QEMU still lives, while its greeting is awaited


class Qmp:
    def __init__(self, path: str, timeout: float = TIMEOUT, alive=None) -> None:
        """`alive()`, when given, is asked while QEMU's greeting is awaited:
        a QEMU just started may die before it greets (its socket, pre-opened
        by the toolstack, stays open without it)."""
        self.path, self._buffer, self._id = path, b"", 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
            greeting = self._message() if alive is None else self._greeting(timeout, alive)
            self.sock.settimeout(timeout)
            if "QMP" not in greeting:
                raise BackendError(f"{path} does not greet as QMP: {json.dumps(greeting)[:200]}", "qmp")
            self.execute("qmp_capabilities")
        except OSError as e:
            self.sock.close()
            raise BackendError(f"cannot talk to the device model over {path}: {e.strerror or e}", "qmp") from None
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *_exc) -> None:
        self.sock.close()

    def execute(self, command: str, arguments: dict | None = None, fd: int | None = None):
        """The command's "return" value; BackendError with QEMU's description for an "error"."""
        self._id += 1
        message = {"execute": command, "id": self._id, **({"arguments": arguments} if arguments else {})}
        data = json.dumps(message).encode() + b"\r\n"
        try:
            if fd is None:
                self.sock.sendall(data)
            else:
                sent = self.sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
                self.sock.sendall(data[sent:])
            while True:
                reply = self._message()
                if reply.get("id") != self._id:
                    continue  # an event, or the answer to nothing we asked
                if "error" in reply:
                    error = reply["error"]
                    raise BackendError(f"QEMU refused {command}: {error.get('desc', error)}", f"qmp {command}")
                return reply.get("return")
        except OSError as e:
            raise BackendError(f"QMP {command} on {self.path}: {e.strerror or e}", f"qmp {command}") from None

    def _greeting(self, timeout: float, alive) -> dict:
        deadline = time.monotonic() + timeout
        self.sock.settimeout(POLL)
        while True:
            try:
                return self._message()
            except TimeoutError:
                if not alive():
                    raise BackendError(f"QEMU exited before it greeted on {self.path}", "qmp") from None
                if time.monotonic() >= deadline:
                    raise

    def _message(self) -> dict:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BackendError(f"QEMU closed its QMP socket {self.path}", "qmp")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise BackendError(f"QEMU sent QMP a line that is not JSON: {line[:200]!r}", "qmp") from None
