"""The man pages render, name every subcommand, and shell completion works."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT, run_xlpy, xlpy_env
from xlpy.cli import COMMANDS


@pytest.mark.parametrize("page", ["xlpy.1", "xlpy.cfg.5"])
def test_man_page_renders_without_warnings(page):
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    r = subprocess.run(["man", "--warnings", "-l", str(ROOT / "man" / page)], capture_output=True, text=True,
                       env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin", "MAN_KEEP_STDERR": "1"})
    assert r.returncode == 0
    assert r.stderr == ""
    assert "SEE ALSO" in r.stdout


def test_every_subcommand_is_in_the_manual():
    text = (ROOT / "man" / "xlpy.1").read_text().replace("\\-", "-")
    missing = [name for name in COMMANDS if f"\\fB{name}\\fR" not in text and f"fB{name}" not in text]
    assert missing == []


def test_bash_completion_script_and_completions():
    script = run_xlpy(env=xlpy_env(_XLPY_COMPLETE="bash_source"))
    assert "complete" in script.stdout and "_XLPY_COMPLETE" in script.stdout
    words = run_xlpy(env=xlpy_env(_XLPY_COMPLETE="bash_complete", COMP_WORDS="xlpy vcpu", COMP_CWORD="1"))
    assert {"plain,vcpu-list", "plain,vcpu-set"} <= set(words.stdout.split())
