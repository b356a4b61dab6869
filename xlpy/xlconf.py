"""xl's global config, /etc/xen/xl.conf (xl.conf(5)), read as xl reads it:
libxlutil's language, unknown keys ignored. `XLPY_XL_CONF` names another file.

Only the settings xlpy honours are read: domid_policy.
"""

from __future__ import annotations

import os
import sys

from xlpy.backends.base import INVALID_DOMID, RANDOM_DOMID

XL_CONF = "/etc/xen/xl.conf"  # xl's XL_GLOBAL_CONFIG


class XlConfError(Exception):
    """The file is not in libxlutil's language (xl stops there too)."""


def path() -> str:
    return os.environ.get("XLPY_XL_CONF") or XL_CONF


def domid_policy(conf: str | None = None) -> int:
    """c_info.domid for a domain whose config asks for none: INVALID_DOMID
    ("xen", the default: Xen picks) or RANDOM_DOMID ("random"). Another
    value is reported as xl reports it (without a newline) and ignored; a
    missing file means the defaults (xl warns on every command; xlpy stays quiet)."""
    from xlpy.config import ConfigError
    from xlpy.config.parser import parse_bytes
    from xlpy.config.values import ConfigValueError

    conf = conf or path()
    try:
        with open(conf, "rb") as f:
            data = f.read()
    except OSError:
        return INVALID_DOMID
    try:
        cfg = parse_bytes(data, conf)
    except ConfigError as e:
        raise XlConfError(f"Failed to parse config file: {e}") from None
    if "domid_policy" not in cfg:
        return INVALID_DOMID
    try:
        value = cfg.get_string("domid_policy")
    except ConfigValueError as e:
        sys.stderr.write(f"{e}\n")  # libxlutil's warning; the default stays
        return INVALID_DOMID
    if value == "random":
        return RANDOM_DOMID
    if value != "xen":
        sys.stderr.write("invalid domid_policy option")
    return INVALID_DOMID
