"""The CLI root behaves as xl's does for command lookup."""

from conftest import run_xlpy


def test_unknown_subcommand_is_not_implemented_exit_1():
    r = run_xlpy("no-such-command")
    assert r.returncode == 1
    assert r.stderr.strip() == "command not implemented"


def test_help_lists_options_and_exits_0():
    r = run_xlpy("--help")
    assert r.returncode == 0
    assert "-N" in r.stdout and "--backend" in r.stdout
