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
        return {"ok": False, "line": e.line, "message": e.message, "report": e.xl_report}
    return {"ok": True, **xlpy_view(cfg)}


def assert_same(data: bytes, expected: dict, source: str) -> None:
    """Same verdict as libxlutil; for a good file the same settings and
    getter results, for a bad one the very report xl prints."""
    if expected.get("crashed"):  # libxlutil aborts: xlpy refuses the file instead
        with pytest.raises(ConfigSyntaxError, match="NUL byte"):
            parse_bytes(data, source)
        return
    ours = xlpy_answer(data, source)
    assert ours["ok"] == expected["ok"], (data, ours, expected.get("error"))
    if expected["ok"]:
        theirs = oracle_view(expected)
        assert ours["settings"] == theirs["settings"]
        assert ours["effective"] == theirs["effective"]
    else:
        assert ours["report"] == expected["error"], data


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_file_matches_stored_libxlutil_answer(path):
    stored = json.loads(path.with_name(path.name[: -len(".cfg")] + ".xlu.json").read_text())
    assert_same(path.read_bytes(), stored, path.name)


def test_corpus_is_present(shared):
    assert len(CORPUS) > 100


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: f"{p.parent.name}/{p.name}")
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
    '"\\1 23"', '"\\1+2x"', '"\\8"', '"\\777"', '"A\\09"', "'\\a\\b\\f\\v\\r'", '"x\x00y"',
    '"\\\'"', "'\\\"'",
])
# Stray characters: alone before a blank, a newline or the end, or in a run.
STRAY = st.sampled_from(["!", "F", "\r", "\f", "\x00", "(1,", ")", ":", "-b", "\udce9", "\ufeff", "+", "$x"])
SEPARATORS = st.sampled_from(["\n", "\n", ";", "\n\n", " # comment\n", "\r\n", "", " ", ";;", "#\n"])
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
        kind = draw(st.integers(0, 14))
        if kind == 0:
            lines.append(draw(st.sampled_from(["# comment", "", "   ", "= 1", "a 1", "a =", "]", "(1, 2)"])))
        elif kind == 1:
            lines.append(draw(STRAY) + draw(st.sampled_from(["", " ", "\t", "\n"])))
        else:
            op = draw(st.sampled_from(["=", "=", "+=", "+="]))
            lines.append(draw(IDENTS) + draw(BLANKS) + op + draw(BLANKS) + draw(values()))
        lines.append(draw(SEPARATORS))
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# last comment", "a = 1", "b += [2]", "!", "F", "a = [1,"])))
    return "".join(lines)


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@pytest.mark.slow
@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_texts())
def test_generated_texts_match_libxlutil(text):
    data = encode(text)
    assert_same(data, parse_config(data, "cfg"), "cfg")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config_texts())
def test_a_few_generated_texts_match_libxlutil(text):
    data = encode(text)
    assert_same(data, parse_config(data, "cfg"), "cfg")


# Token soup: the pieces of the language in any order, bad bytes included.
PIECES = st.sampled_from([
    b"a", b"b", b"x.y_1", b"1", b"0x1f", b"08", b"=", b"+=", b"+", b",", b"[", b"]", b";", b"\n", b" ", b"\t",
    b"# c\n", b"#", b'"s"', b"'t'", b'"', b"'", b'"\\1"', b'"\\101"', b'"\\q"', b"\r", b"\x00", b"\xe9",
    b"\xc3\xa9", b"-", b"(", b"F", b"!",
])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=30).map(b"".join))
def test_token_soup_matches_libxlutil(data):
    assert_same(data, parse_config(data, "cfg"), "cfg")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40))
def test_arbitrary_ascii_matches_libxlutil(text):
    data = text.encode()
    assert_same(data, parse_config(data, "cfg"), "cfg")
