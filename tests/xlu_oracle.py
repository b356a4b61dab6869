"""The real libxlutil (Debian's libxenmisc4.17), loaded in-process through the
ctypes oracle that ../shared/oracles/xlu provides.

Callers must not feed it a NUL byte inside a quoted string: libxlutil aborts
on that (the oracle's own command line forks to survive it; tests that need
speed call it in-process instead and avoid that input).
"""

from __future__ import annotations

import importlib.util
import os

from conftest import SHARED, XEN_PACKAGES_HINT, require

_module = None


def oracle():
    """The oracle module (skips or, in CI, fails when libxlutil is missing)."""
    global _module
    if _module is None:
        path = SHARED / "oracles" / "xlu" / "xlu_oracle.py"
        require(path.is_file(), f"the libxlutil oracle is not at {path}")
        require(
            os.path.exists("/usr/lib/x86_64-linux-gnu/libxlutil.so.4.17")
            or os.path.exists("/usr/lib/aarch64-linux-gnu/libxlutil.so.4.17"),
            f"Debian's libxlutil 4.17 is not installed ({XEN_PACKAGES_HINT})",
        )
        spec = importlib.util.spec_from_file_location("xlu_oracle", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _module = module
    return _module


def parse_config(text: str | bytes, source: str = "cfg") -> dict:
    """libxlutil's answer for config text, as the oracle's `cfg` command gives it."""
    import tempfile

    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    module = oracle()
    # The oracle's Report writes to a per-call file that run_isolated normally makes.
    module._REPORT_FILE = tempfile.TemporaryFile()
    try:
        return module.cmd_cfg(data, source)
    finally:
        module._REPORT_FILE.close()


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
