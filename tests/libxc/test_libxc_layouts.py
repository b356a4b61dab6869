"""The shim's ctypes structures match the installed Xen headers byte for
byte: a C program compiled against libxen-dev prints every size and offset."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

from conftest import XEN_PACKAGES_HINT, require
from xlpy.backends.libxc import migration
from xlpy.backends.libxc.structs import LAYOUTS, PREFIXES


def test_structures_match_the_installed_headers(tmp_path):
    require(Path("/usr/include/xenctrl.h").is_file(), f"Xen headers are not installed ({XEN_PACKAGES_HINT})")
    require(shutil.which("gcc") is not None, "gcc is not installed")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <xenctrl.h>", "#include <xenguest.h>",
             "#include <xenstore.h>", "#include <xen/hvm/save.h>",
             "#include <xen/hvm/hvm_info_table.h>", "#include <xen/hvm/hvm_vcpu.h>",
             "int main(void) {"]
    expected = {}
    for cls, (ctype, fields) in {**LAYOUTS, **migration.LAYOUTS}.items():
        if cls not in PREFIXES:
            lines.append(f'printf("{cls.__name__} size %zu\\n", sizeof({ctype}));')
            expected[f"{cls.__name__} size"] = ctypes.sizeof(cls)
        for py_name, c_name in fields.items():
            lines.append(f'printf("{cls.__name__}.{py_name} %zu\\n", offsetof({ctype}, {c_name}));')
            expected[f"{cls.__name__}.{py_name}"] = getattr(cls, py_name).offset
    lines += ["return 0;", "}"]
    source = tmp_path / "layouts.c"
    source.write_text("\n".join(lines) + "\n")
    binary = tmp_path / "layouts"
    subprocess.run(["gcc", "-D__XEN_TOOLS__", "-o", str(binary), str(source)], check=True)
    measured = dict(line.rsplit(" ", 1) for line in subprocess.run([str(binary)], capture_output=True,
                                                                     text=True, check=True).stdout.splitlines())
    assert {k: int(v) for k, v in measured.items()} == expected
