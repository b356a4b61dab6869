"""cpuid= against the real xl: every flag name libxl knows (its own fields and
every feature in Xen's cpufeatureset.h), both forms, and libxl's error
handling (report, go on without the item)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conftest import ROOT, XEN_PACKAGES_HINT, require, run_xlpy

HEADER = Path("/usr/include/xen/arch-x86/cpufeatureset.h")
UUID = re.compile(r'"uuid": "[0-9a-f-]{36}"')
VALUES = ["1", "0", "k", "x", "s"]


def header_text() -> str:
    require(HEADER.is_file(), f"Xen's cpufeatureset.h is not installed ({XEN_PACKAGES_HINT})")
    return HEADER.read_text()


def compare_with_xl(real_xl, tmp_path, setting: str) -> str:
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(f'name = "g"\ntype = "hvm"\nmemory = 128\n{setting}\n')
    real, ours = real_xl(cfg), run_xlpy("create", "-n", cfg.name, cwd=tmp_path)
    assert real.returncode == ours.returncode == 0, (real.stderr, ours.stderr)
    assert UUID.sub("U", ours.stdout) == UUID.sub("U", real.stdout)
    return ours.stderr


def test_the_feature_table_is_generated_from_the_installed_header():
    sys.path.insert(0, str(ROOT / "tools"))
    from gen_cpuid_features import TARGET, features, module_text

    assert TARGET.read_text() == module_text(features(header_text()))


def test_feature_words_are_where_the_header_says():
    """Each featureset word's CPUID leaf/subleaf/register (or MSR) as the header's comments name them."""
    from xlpy.config.specs.cpuid import FEATURE_WORDS

    named = {}
    for m in re.finditer(r"(?:CPUID level (0x[0-9a-fA-F]+)(?::(\d+))?|MSR_\w+ (0x[0-9a-fA-F]+))"
                         r"\.e([abcd])x, word (\d+)", header_text()):
        leaf, subleaf, msr, register, word = m.groups()
        reg = "abcd".index(register)
        named[int(word)] = ("msr", int(msr, 16), reg) if msr else \
            (int(leaf, 16), int(subleaf) if subleaf else 0xFFFFFFFF, reg)
    assert named == dict(enumerate(FEATURE_WORDS))


def test_every_flag_name_matches_real_xl(real_xl, tmp_path):
    from xlpy.config.specs.cpuid import NAMED_FIELDS
    from xlpy.config.specs.cpuid_features import FEATURES

    names = list(NAMED_FIELDS) + list(FEATURES)
    flags = ",".join(f"{name}={VALUES[i % len(VALUES)]}" for i, name in enumerate(names))
    assert "T118" not in compare_with_xl(real_xl, tmp_path, f'cpuid = "host,{flags}"')


@pytest.mark.parametrize("flags", [
    "family=6,model=0x55,stepping=4", "family=0x1f", "family=300", "family=x", "model=k",
    "maxleaf=0xd", "maxleaf=-1", "procpkg=63", "apicidsize=17", "nc=7abc", "maxhvleaf=s",
    "itS-no=1", "its-no=1", "its-no=10", "its-no=s", "tsx-ctrl=k,its-no=0,tsx-ctrl=1",
    "tm=0,tm=1", "sse4.1=0,sse4_1=1,sse4-1=k",
])
def test_flag_values_match_real_xl(real_xl, tmp_path, flags):
    compare_with_xl(real_xl, tmp_path, f'cpuid = "host,{flags}"')


@pytest.mark.parametrize("setting", [
    'cpuid = "host"', 'cpuid = "host,,tm=0,"', 'cpuid = "hots,tm=0"', 'cpuid = ""',
    'cpuid = "host,tm,nosuchflag=1,tm=z,tm=,sse3=0"',
    'cpuid = [ "0x1:eax=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1,ecx=00000000000000000000000000000000",'
    ' "0x7,0:ebx=x", "1:eax=11111111111111111111111111111111" ]',
    'cpuid = [ "0x80000001:ecx=xxxxxxxxxxxxxxxxxxxxxxxxxxxx1111, edx=kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk" ]',
    'cpuid = [ "010:eax=10101010101010101010101010101010" ]',
    'cpuid = [ "x:eax=10101010101010101010101010101010", "4,z:eax=1", "4 eax=1", "4,1:efx=1", "4:eax" ]',
    'cpuid = [ "4,1:eax=10101010101010101010101010101010,", "5:ebxjunk=01010101010101010101010101010101" ]',
    'cpuid = [ ]',
])
def test_cpuid_settings_match_real_xl(real_xl, tmp_path, setting):
    compare_with_xl(real_xl, tmp_path, setting)


def test_unreadable_items_are_reported_with_libxl_error(real_xl, tmp_path):
    stderr = compare_with_xl(real_xl, tmp_path, 'cpuid = "host,tm,nosuchflag=1,tm=z"')
    assert 'while parsing CPUID flag "tm": error #1: missing "=" in key=value' in stderr
    assert "error #2: unknown CPUID flag name" in stderr
    assert "error #3: illegal CPUID value" in stderr
    assert stderr.count("guest.cfg:4:9: warning T118") == 3
