"""xlpy's parser against the real libxlutil: same accept/reject, same settings,
same getter results, over the corpus of real configs and generated texts."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED
from xlpy.config import ConfigSyntaxError, parse_bytes
from xlu_oracle import oracle_view, parse_config, xlpy_view

CORPUS = sorted(p for p in (SHARED / "corpus").glob("*/*.cfg")) if (SHARED / "corpus").is_dir() else []


def xlpy_answer(data: bytes, source: str) -> dict:
    try:
        cfg = parse_bytes(data, source)
    except ConfigSyntaxError as e:
        return {"ok": False, "line": e.line, "message": e.message}
    return {"ok": True, **xlpy_view(cfg)}


def assert_same(data: bytes, expected: dict, source: str) -> None:
    ours = xlpy_answer(data, source)
    assert ours["ok"] == expected["ok"], (data, ours, expected.get("error"))
    if expected["ok"]:
        theirs = oracle_view(expected)
        assert ours["settings"] == theirs["settings"]
        assert ours["effective"] == theirs["effective"]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_matches_stored_libxlutil_answer(path):
    stored = json.loads(path.with_name(path.name[: -len(".cfg")] + ".xlu.json").read_text())
    assert_same(path.read_bytes(), stored, path.name)


def test_corpus_is_present(shared):
    assert len(CORPUS) > 100


@pytest.mark.parametrize("path", CORPUS[::7], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_matches_live_libxlutil(path):
    data = path.read_bytes()
    assert_same(data, parse_config(data, path.name), path.name)


# -- generated texts -----------------------------------------------------------

IDENTS = st.sampled_from(["a", "b", "name", "memory", "disk", "vif.default.script", "x_1", "Name", "_a", "a-b", "1a"])
NUMBERS = st.sampled_from(["0", "1", "512", "010", "08", "0x1f", "0x1F", "0X10", "1e3", "0x", "12abc",
                           "99999999999999999999", "-1", "1.5"])
STRINGS = st.sampled_from([
    '"x"', "'y'", '""', '"a b # c"', '"x\\"y"', "'it\\'s'", '"\\n\\t\\\\"', '"A\\101B"', '"A\\1B"',
    '"\\x41"', '"A\\q"', '"café"', '"  12"', '"-1"', '"12 "', '"abc', "'unterminated", '"tab\there"',
])
SEPARATORS = st.sampled_from(["\n", "\n", ";", "\n\n", " # comment\n", "\r\n", "", " ", ";;"])
BLANKS = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def values(draw, depth=0):
    kind = draw(st.integers(0, 9 if depth < 3 else 6))
    if kind <= 3:
        return draw(NUMBERS)
    if kind <= 6:
        return draw(STRINGS)
    items = draw(st.lists(values(depth + 1), max_size=4))
    inner_sep = draw(st.sampled_from([", ", ",", ",\n", " ,", ",,", "\n, ", ", # c\n", " "]))
    trailing = draw(st.sampled_from(["", ",", ",\n", "\n", ",,"]))
    opener = draw(st.sampled_from(["[", "[\n", "[ "]))
    return opener + inner_sep.join(items) + trailing + "]"


@st.composite
def config_texts(draw):
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 12))
        if kind == 0:
            lines.append(draw(st.sampled_from(["# comment", "", "   ", "= 1", "a 1", "a =", "]", "(1, 2)"])))
        else:
            op = draw(st.sampled_from(["=", "=", "+=", "+="]))
            lines.append(draw(IDENTS) + draw(BLANKS) + op + draw(BLANKS) + draw(values()))
        lines.append(draw(SEPARATORS))
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# last comment", "a = 1", "b += [2]"])))
    return "".join(lines)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_texts())
def test_generated_texts_match_libxlutil(text):
    data = text.encode()
    assert_same(data, parse_config(data, "cfg"), "cfg")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", max_codepoint=0x7F), max_size=40))
def test_arbitrary_ascii_matches_libxlutil(text):
    data = text.encode()
    assert_same(data, parse_config(data, "cfg"), "cfg")
