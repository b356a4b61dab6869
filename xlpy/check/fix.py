"""--fix: rewrite the deprecated `pvh=1` as `type="pvh"`, keeping everything
else of the file (comments, layout, other settings) byte for byte."""

from __future__ import annotations

import re

_PVH_LINE = re.compile(r"^(?P<indent>[ \t]*)pvh[ \t]*=[ \t]*(?P<value>[^;#\n]*?)(?P<rest>[ \t]*(?:[;#].*)?)$", re.M)


def fix_legacy_pvh(text: str) -> tuple[str, int]:
    """The fixed text and how many settings were rewritten."""
    from xlpy.config import ConfigError, parse

    try:
        cfg = parse(text)
    except ConfigError:
        return text, 0
    if "pvh" not in cfg:
        return text, 0
    try:
        enabled = cfg.get_defbool("pvh")
    except ValueError:
        return text, 0
    has_type = "type" in cfg or "builder" in cfg
    changed = 0

    def replace(m: re.Match) -> str:
        nonlocal changed
        if m.group("value").strip().strip("\"'") in ("", "0") and not enabled:
            return m.group(0)
        changed += 1
        if has_type:  # type= already says what the guest is; the old key only confuses
            return f"{m.group('indent')}# pvh=1 removed: type= says the guest type{m.group('rest')}"
        return f'{m.group("indent")}type = "pvh"{m.group("rest")}'

    return _PVH_LINE.sub(replace, text, count=1) if enabled else text, changed
