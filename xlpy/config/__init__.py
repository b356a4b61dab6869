"""xl config files: parsing (libxlutil's language) and building (xl.cfg(5) semantics).

    >>> from xlpy.config import parse
    >>> cfg = parse('name = "guest"\\nmemory = 512\\n')
    >>> cfg.get_long("memory")
    512

Names are imported on first use, so `import xlpy.config` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "parse": "xlpy.config.parser",
    "parse_bytes": "xlpy.config.parser",
    "parse_file": "xlpy.config.parser",
    "read_config_text": "xlpy.config.parser",
    "ConfigFile": "xlpy.config.values",
    "Setting": "xlpy.config.values",
    "Atom": "xlpy.config.values",
    "ListValue": "xlpy.config.values",
    "ConfigValueError": "xlpy.config.values",
    "ConfigRangeError": "xlpy.config.values",
    "ConfigError": "xlpy.config.errors",
    "ConfigSyntaxError": "xlpy.config.errors",
    "ConfigReadError": "xlpy.config.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from xlpy.config.errors import ConfigError, ConfigReadError, ConfigSyntaxError  # noqa: F401
    from xlpy.config.parser import parse, parse_bytes, parse_file, read_config_text  # noqa: F401
    from xlpy.config.values import (  # noqa: F401
        Atom, ConfigFile, ConfigRangeError, ConfigValueError, ListValue, Setting,
    )


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xlpy.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
