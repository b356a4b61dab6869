"""Shared test helpers.

Tests that compare xlpy with the real Xen tools (libxlutil, xl, the headers)
need Debian's Xen packages and ../shared beside the checkout. On a developer's
machine without them such a test is skipped with the reason and the install
command; in CI (CI=true) the same absence is a failure, because CI installs
everything and a skip there would hide a broken comparison.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    """../shared beside the checkout; for a git worktree elsewhere, beside
    the main checkout it belongs to. XLPY_SHARED overrides both."""
    if "XLPY_SHARED" in os.environ:
        return Path(os.environ["XLPY_SHARED"])
    beside = ROOT.parent / "shared"
    git = ROOT / ".git"
    if not beside.is_dir() and git.is_file():  # "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(git.read_text().partition(":")[2].strip())
        if len(gitdir.parents) > 2:
            return gitdir.parents[2].parent / "shared"
    return beside


SHARED = _shared_dir()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

XEN_PACKAGES_HINT = "apt-get install libxen-dev libxenmisc4.17 xen-utils-4.17 xen-doc"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared() -> Path:
    require(SHARED.is_dir(), f"../shared is not beside the checkout (looked in {SHARED})")
    return SHARED


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """A private xlpy state directory, so no test touches the user's host."""
    path = tmp_path / "state"
    monkeypatch.setenv("XLPY_STATE_DIR", str(path))
    return path


def xlpy_env(**extra: str) -> dict[str, str]:
    """The environment for running this checkout's xlpy in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_xlpy(*args: str, input: str | None = None, env: dict[str, str] | None = None, cwd=None):
    """Run `xlpy ARGS...` from this checkout as a user would; returns CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "xlpy", *args],
        input=input,
        capture_output=True,
        text=True,
        env=env or xlpy_env(),
        cwd=cwd,
        timeout=120,
    )


XL = Path("/usr/lib/xen-4.17/bin/xl")


@pytest.fixture(scope="session")
def xl_shim(tmp_path_factory) -> Path:
    """../shared's shim, built: it answers the hypervisor calls xl makes first."""
    shim_src = SHARED / "oracles" / "xl-dryrun" / "shim.c"
    require(shim_src.is_file(), f"the xl dry-run shim is not at {shim_src}")
    require(XL.is_file(), f"Debian's xl 4.17 is not installed ({XEN_PACKAGES_HINT})")
    shim = tmp_path_factory.mktemp("xl") / "xl-shim.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(shim), str(shim_src), "-I/usr/include"], check=True)
    return shim


@pytest.fixture(scope="session")
def real_xl_cmd(xl_shim):
    """Run the real xl 4.17 (under the shim) with any arguments."""
    def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
        return subprocess.run([str(XL), *args], cwd=cwd, env=dict(os.environ, LD_PRELOAD=str(xl_shim)),
                              capture_output=True, text=True, timeout=60)

    return run


LIBXL_ARCHIVE = Path("/usr/lib/x86_64-linux-gnu/libxenlight.a")


def link_static_libxl(source: Path | str, program: Path) -> Path:
    """Build `source` (a path, or C text) against libxl's static archive, where
    libxl's internal functions are linkable; skips without libxen-dev."""
    require(LIBXL_ARCHIVE.is_file(), f"needs libxen-dev's static libxenlight.a ({XEN_PACKAGES_HINT})")
    if isinstance(source, str):
        text, source = source, program.with_suffix(".c")
        source.write_text(text)
    libs = ["-lxenctrl", "-lxenguest", "-lxenstore", "-lxentoollog", "-lxenevtchn", "-lxentoolcore", "-lxencall",
            "-lxenforeignmemory", "-lxendevicemodel", "-lxengnttab", "-lxenhypfs", "-l:libyajl.so.2", "-luuid",
            "-lutil", "-lpthread"]
    subprocess.run(["gcc", "-o", str(program), str(source), str(LIBXL_ARCHIVE), *libs], check=True,
                   capture_output=True)
    return program


@pytest.fixture(scope="session")
def real_xl(xl_shim):
    """The real xl 4.17 with its hypervisor calls answered by ../shared's shim."""
    shim = xl_shim

    def run(cfg: Path, host: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`host` sets the shim's host, e.g. {"SHIM_CPUS": "8", "SHIM_NODES": "2"} (default 4 CPUs, 1 node)."""
        env = dict(os.environ, LD_PRELOAD=str(shim), **(host or {}))
        return subprocess.run([str(XL), "-N", "create", cfg.name], cwd=cfg.parent, env=env,
                              capture_output=True, text=True, timeout=60)

    return run


@pytest.fixture
def xlpy(state_dir):
    """Run this checkout's xlpy on a private host; fails the test on a non-zero
    exit unless called with ok=False."""
    env = xlpy_env(XLPY_STATE_DIR=str(state_dir))

    def run(*args, ok=True):
        r = run_xlpy(*args, env=env, cwd=ROOT)
        if ok:
            assert r.returncode == 0, r.stderr
        return r

    return run


@pytest.fixture(scope="session")
def libxl_reprint(xl_shim, tmp_path_factory):
    """libxl's JSON parser and printer, run over a config."""
    require(Path("/usr/include/libxl.h").is_file(), f"needs libxl.h ({XEN_PACKAGES_HINT})")
    program = tmp_path_factory.mktemp("reprint") / "reprint"
    subprocess.run(["gcc", "-o", str(program), str(Path(__file__).parent / "libxl_reprint.c"),
                    "-lxenlight", "-lxentoollog"], check=True)

    def run(text: str) -> str:
        return subprocess.run([str(program)], input=text, capture_output=True, text=True, check=True,
                              env=dict(os.environ, LD_PRELOAD=str(xl_shim))).stdout

    return run
