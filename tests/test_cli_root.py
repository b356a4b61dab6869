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


def test_dry_run_is_refused_where_xl_refuses_it(xlpy, real_xl_cmd):
    xlpy("create", "-q", "configs/pvh.cfg")
    for args in (["destroy", "demo-pvh"], ["save", "demo-pvh", "/tmp/never.save"], ["list"], ["shutdown", "-a"]):
        r = xlpy("-N", *args, ok=False)
        real = real_xl_cmd("-N", *args)
        assert (r.returncode, r.stderr) == (real.returncode, real.stderr) == (
            1, "command does not implement -N (dryrun) option\n"), args
    assert xlpy("list").stdout.count("demo-pvh") == 1  # nothing was done
    assert xlpy("-N", "create", "-q", "configs/pvh.cfg").stdout.startswith("{\n")
