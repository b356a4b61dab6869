"""Every case of ../shared/vectors/cfg-parse.json: what libxlutil 4.17.7 did
with a small input, and what xlpy does with it."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SHARED
from xlpy.config import ConfigRangeError, ConfigSyntaxError, ListValue, parse_bytes

VECTORS_FILE = SHARED / "vectors" / "cfg-parse.json"
VECTORS = json.loads(VECTORS_FILE.read_text()) if VECTORS_FILE.is_file() else []
ERRNO = {0: None, 22: "EINVAL", 34: "ERANGE"}


def test_vectors_are_present(shared):
    assert len(VECTORS) >= 100


def libxlutil_line(report: str) -> int:
    """The real line of the first error libxlutil reported (it says one less
    for an error at a newline token)."""
    m = re.match(r"cfg:(\d+): config parsing error near (<newline>)?", report)
    return int(m.group(1)) + (1 if m.group(2) else 0)


@pytest.mark.parametrize("case", VECTORS, ids=lambda c: c["id"])
def test_parse_matches_libxlutil(case):
    data = case["input"].encode("utf-8", "surrogateescape")
    if "crash" in case:  # libxlutil aborts; xlpy refuses the file with a reason
        with pytest.raises(ConfigSyntaxError, match="NUL byte"):
            parse_bytes(data, "cfg")
        return
    if case["rc"]:
        with pytest.raises(ConfigSyntaxError) as info:
            parse_bytes(data, "cfg")
        assert info.value.line == libxlutil_line(case["parse_report"])
        assert str(info.value).startswith(f"cfg:{info.value.line}:{info.value.column}: ")
        assert info.value.xl_report == case["parse_report"]
        return
    cfg = parse_bytes(data, "cfg")
    for getter in case["getters"]:
        call, key = getter["call"], getter["key"]
        if getter["rc"] == 3:
            with pytest.raises(KeyError):
                getattr(cfg, call)(key)
            continue
        if getter["rc"]:
            error = ConfigRangeError if getter["rc"] == 34 else ValueError
            with pytest.raises(error) as info:
                getattr(cfg, call)(key)
            assert info.value.errno_name == ERRNO[getter["rc"]]
            assert getter["report"] == f"cfg:{info.value.setting.line}: warning: {info.value.message}\n"
            continue
        got = getattr(cfg, call)(key)
        if call == "get_list":
            assert len(got) == getter["count"]
        else:
            assert got == getter["value"]


@pytest.mark.parametrize("case", [c for c in VECTORS if c.get("rc") == 0 and "settings" in c], ids=lambda c: c["id"])
def test_settings_names_ops_lines(case):
    cfg = parse_bytes(case["input"].encode("utf-8", "surrogateescape"), "cfg")
    assert [(s.name, s.op, s.line) for s in cfg.settings] == [
        (s["name"], s["op"], s["line"]) for s in case["settings"]
    ]


def test_last_assignment_wins_and_append_concatenates():
    cfg = parse_bytes(b'a = "x"\na += "y"\nl = [1]\nl += [2, 3]\nm = 1\nm = [1]\n', "cfg")
    assert cfg.get_string("a") == "xy"
    assert cfg.get_list("l") == ["1", "2", "3"]
    assert isinstance(cfg.value("m"), ListValue)


def test_dropped_octal_escape_is_noted_with_its_position():
    cfg = parse_bytes(b'kernel = "/boot/A\\101B"\n', "cfg")
    assert cfg.get_string("kernel") == "/boot/AB"
    [note] = cfg.notes
    assert (note.code, note.line, note.column) == ("S101", 1, 18)
