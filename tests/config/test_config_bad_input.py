"""Bad input never escapes as a traceback: a one-line error with a position,
or exactly what libxlutil does with it."""

from __future__ import annotations

import os

import pytest

from xlpy.config import ConfigReadError, ConfigSyntaxError, parse, parse_bytes, parse_file


def test_invalid_utf8_inside_a_string_is_kept_as_bytes():
    # libxlutil is 8-bit clean: the byte reaches the value unchanged.
    cfg = parse_bytes(b'name = "caf\xe9"\n', "g.cfg")
    assert cfg.get_string("name").encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_invalid_utf8_outside_a_string_is_a_lexical_error():
    with pytest.raises(ConfigSyntaxError) as info:
        parse_bytes(b"n\xe9 = 1\n", "g.cfg")
    assert (info.value.line, info.value.column) == (1, 2)
    assert "`\\xe9'" in info.value.message  # the byte, shown printably


def test_nul_inside_a_string_is_refused_where_xl_would_abort():
    with pytest.raises(ConfigSyntaxError, match="NUL byte inside a quoted string"):
        parse_bytes(b'a = "x\x00y"\n', "g.cfg")


def test_nul_in_a_comment_is_fine():
    assert parse_bytes(b"# x\x00y\na = 1\n").get_long("a") == 1


def test_a_directory_is_a_read_error(tmp_path):
    with pytest.raises(ConfigReadError) as info:
        parse_file(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, not a config file"


def test_a_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(ConfigReadError, match="No such file or directory"):
        parse_file(tmp_path / "missing.cfg")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_is_a_read_error(tmp_path):
    path = tmp_path / "secret.cfg"
    path.write_text("a = 1\n")
    path.chmod(0)
    with pytest.raises(ConfigReadError, match="Permission denied"):
        parse_file(path)


def test_a_50_mb_file_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "huge.cfg"
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(ConfigReadError, match="larger than 16 MiB"):
        parse_file(path)


def test_10000_deep_lists_fail_as_libxlutil_does_without_recursion_error():
    depth = 10_000
    with pytest.raises(ConfigSyntaxError, match="nested more than 4996 deep") as info:
        parse("a = " + "[" * depth + "]" * depth + "\n")
    # The first bracket too many, as bison runs out of stack there.
    assert (info.value.line, info.value.column) == (1, 5 + 4996)


def test_4996_deep_lists_are_accepted_as_by_libxlutil():
    depth = 4996
    cfg = parse("a = " + "[" * depth + "]" * depth + "\n")
    assert len(cfg.get_list("a")) == 1


def test_unterminated_string_at_eof():
    with pytest.raises(ConfigSyntaxError) as info:
        parse('a = 1\nb = "abc', "g.cfg")
    assert str(info.value).startswith("g.cfg:2:5: lexical error near `\"abc'")


def test_crlf_line_endings_are_rejected_with_the_fix():
    with pytest.raises(ConfigSyntaxError, match="CRLF") as info:
        parse("a = 1\r\nb = 2\r\n", "g.cfg")
    assert (info.value.line, info.value.column) == (1, 6)
    assert len(info.value.errors) == 2


def test_every_error_is_listed_in_file_order():
    with pytest.raises(ConfigSyntaxError) as info:
        parse("a = 1\nb = \nc = 2\nd 4\ne = 5\n", "g.cfg")
    assert [(line, code) for line, _, code, _ in info.value.errors] == [(2, "S002"), (4, "S002")]



@pytest.mark.parametrize("text, column", [("a = b\n", 5), ("a = True\n", 5), ("disk = [xvda]\n", 9), ("a = [1, on]\n", 9)])
def test_an_unquoted_word_as_a_value_says_to_quote_it(text, column):
    with pytest.raises(ConfigSyntaxError) as info:
        parse(text, "g.cfg")
    assert (info.value.line, info.value.column) == (1, column)
    assert "a string value needs quotes" in info.value.message
