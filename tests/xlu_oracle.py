"""The real libxlutil (Debian's libxenmisc4.17), through the ctypes oracle
that ../shared/oracles/xlu provides, kept loaded in one worker process
(tests/xlu_worker.py) for the whole test session.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import SHARED, XEN_PACKAGES_HINT, require

ORACLE = SHARED / "oracles" / "xlu" / "xlu_oracle.py"
_worker: subprocess.Popen | None = None


def _available() -> None:
    """Skip (or, in CI, fail) when the oracle or libxlutil is missing."""
    require(ORACLE.is_file(), f"the libxlutil oracle is not at {ORACLE}")
    require(
        os.path.exists("/usr/lib/x86_64-linux-gnu/libxlutil.so.4.17")
        or os.path.exists("/usr/lib/aarch64-linux-gnu/libxlutil.so.4.17"),
        f"Debian's libxlutil 4.17 is not installed ({XEN_PACKAGES_HINT})",
    )


def _start() -> subprocess.Popen:
    global _worker
    worker = Path(__file__).with_name("xlu_worker.py")
    _worker = subprocess.Popen(
        [sys.executable, str(worker), str(ORACLE)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    return _worker


def _stop() -> None:
    if _worker is not None and _worker.poll() is None:
        _worker.stdin.close()
        _worker.wait(timeout=10)


atexit.register(_stop)


def _ask(request: dict) -> dict:
    _available()
    worker = _worker if _worker is not None and _worker.poll() is None else _start()
    try:
        worker.stdin.write(json.dumps(request) + "\n")
        worker.stdin.flush()
        answer = worker.stdout.readline()
    except BrokenPipeError:
        answer = ""
    if not answer:
        worker.wait(timeout=10)
        return {"ok": False, "crashed": True, "rc": worker.returncode}
    result = json.loads(answer)
    assert "oracle_exception" not in result, result
    return result


def parse_disk(specs: list[str]) -> dict:
    """libxlutil's xlu_disk_parse of the spec pieces, as the oracle's `disk` command."""
    return _ask({"cmd": "disk", "specs": specs})


def parse_pci(spec: str) -> dict:
    """libxlutil's xlu_pci_parse_spec_string of one spec, as the oracle's `pcispec` command."""
    return _ask({"cmd": "pcispec", "spec": spec})


def parse_rdm(spec: str) -> dict:
    """libxlutil's xlu_rdm_parse of one rdm= value, as the oracle's `rdm` command."""
    return _ask({"cmd": "rdm", "spec": spec})


def parse_config(text: str | bytes, source: str = "cfg") -> dict:
    """libxlutil's answer for config text, as the oracle's `cfg` command gives
    it; `{"ok": False, "crashed": True}` if libxlutil killed the worker."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    return _ask({"data": base64.b64encode(data).decode(), "source": source})


def xlpy_view(cfg) -> dict:
    """An xlpy ConfigFile in the oracle's shape, for a field-by-field comparison.

    libxlutil stores a `+=` setting with the value already appended and, for
    lists, moves the earlier items out of the setting it appended to; the
    view reproduces that storage so every setting can be compared.
    """
    from xlpy.config import ConfigRangeError, ListValue

    stored: list[dict] = []
    latest: dict[str, dict] = {}
    for s in cfg.settings:
        value = _plain(s.value)
        prev = latest.get(s.name)
        if s.op == "+=" and prev is not None:
            if isinstance(value, list):
                value = prev["value"] + value
                prev["value"] = []
            else:
                value = prev["value"] + value
        entry = {"name": s.name, "op": s.op, "lineno": s.line,
                 "type": "list" if isinstance(s.value, ListValue) else "string", "value": value}
        stored.append(entry)
        latest[s.name] = entry

    effective = {}
    for name in cfg.names():
        res = {}
        for getter in ("get_string", "get_long", "get_list"):
            try:
                got = getattr(cfg, getter)(name)
            except ConfigRangeError as e:
                res[getter] = {"rc": "ERANGE", "warning": _warning(cfg, e)}
            except ValueError as e:
                res[getter] = {"rc": "EINVAL", "warning": _warning(cfg, e)}
            else:
                if getter == "get_list":
                    items = [None if isinstance(v, list) else str(v) for v in got]
                    res[getter] = {"rc": "OK", "entries": len(got), "items": items}
                else:
                    res[getter] = {"rc": "OK", "value": got if getter == "get_long" else str(got)}
        effective[name] = res
    return {"settings": stored, "effective": effective}


def oracle_view(result: dict) -> dict:
    """The oracle's answer reduced to what xlpy_view gives."""
    settings = [{k: s[k] for k in ("name", "op", "lineno", "type", "value")} for s in result["settings"]]
    return {"settings": settings, "effective": result["effective"]}


def _plain(value):
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value)


def _warning(cfg, error) -> str:
    return f"{cfg.filename}:{error.setting.line}: warning: {error.message}\n"
