"""xl's command-line settings: `xl create guest.cfg KEY=VALUE...`."""

from __future__ import annotations

import pytest

from xlpy.config import ConfigSyntaxError, parse, parse_file


def test_overrides_come_after_the_file_and_win(tmp_path):
    path = tmp_path / "g.cfg"
    path.write_text('name = "a"\nvcpus = 1\n')
    cfg = parse_file(path, ["name=\"x\"", "vcpus=4", "vcpus=2"])
    assert cfg.get_string("name") == "x"
    assert cfg.get_long("vcpus") == 2
    assert cfg.last("vcpus").line > 3


def test_append_works_across_the_boundary():
    cfg = parse('disk = ["a,,xvda"]\n', "g.cfg").with_overrides(['disk+=["b,,xvdb"]'])
    assert cfg.get_list("disk") == ["a,,xvda", "b,,xvdb"]


def test_a_file_without_final_newline_takes_overrides():
    assert parse("a = 1", "g.cfg").with_overrides(["b=2"]).get_long("b") == 2


def test_a_malformed_override_is_reported_as_such():
    with pytest.raises(ConfigSyntaxError) as info:
        parse("a = 1\n", "g.cfg").with_overrides(["memory="])
    assert str(info.value).startswith("command line:1:")
    assert "in setting `memory='" in str(info.value)


def test_a_malformed_override_carries_xls_own_report():
    # xl appends "\n", then each KEY=VALUE and "\n", then "\n" to the file
    # text and parses the whole (xl-reference 1.7); libxlutil's report for
    # that text is what xl prints.
    from xlu_oracle import parse_config

    text, overrides = 'name = "g"\nmemory = 512\nvcpus = 2', ["vcpus=4", "memory="]
    with pytest.raises(ConfigSyntaxError) as info:
        parse(text, "g.cfg").with_overrides(overrides)
    expected = parse_config(text + "\n" + "".join(f"{o}\n" for o in overrides) + "\n", "g.cfg")
    assert info.value.xl_report == expected["error"]
