"""Save files in xl's container: the header's bytes as xl.h lays them out, the
restore checks with xl's messages and exit codes (compared with the real xl
where it is installed), and round trips through the model."""

from __future__ import annotations

import json
import struct

import pytest

from conftest import ROOT
from xlpy.domain.config import DomainConfig
from xlpy.domain.idl import dumps

CONFIGS = ROOT / "configs"
# struct save_file_header (Xen 4.17 tools/xl/xl.h): char magic[32]; then four
# uint32_t in the writer's byte order: byteorder, mandatory_flags,
# optional_flags, optional_data_len. 48 bytes, no padding.
MAGIC = b"Xen saved domain, xl format\n \0 \r"  # 32 bytes exactly: no terminating NUL
JSON_FLAG, STREAM_V2_FLAG = 1, 2
IMAGE = b'xlpy model domain image v1\n{"vcpus_online": 2, "memory_kb": 262144, "max_memory_kb": 263168}\n'


def xl_file(config: bytes | None, mandatory=JSON_FLAG | STREAM_V2_FLAG, order="=", magic=MAGIC,
            image=IMAGE, optional=0) -> bytes:
    """A save file written by the rules of xl's format, independently of xlpy."""
    optdata = b"" if config is None else struct.pack(order + "I", len(config)) + config
    return magic + struct.pack(order + "4I", 0x01020304, mandatory, optional, len(optdata)) + optdata + image


def long_config(xlpy, domain: str) -> dict:
    return json.loads(xlpy("list", "-l", domain).stdout)[0]["config"]


def retrieved_pvh() -> dict:
    """configs/pvh.cfg's domain as libxl retrieves it (what list -l prints)."""
    return json.loads((ROOT / "tests" / "golden" / "list-l-pvh.json").read_text())[0]["config"]


def as_saved(config: dict) -> dict:
    """A retrieved config as xl save stores it: without the domid (0, the
    default, unless -D keeps it)."""
    config["c_info"].pop("domid", None)
    return config


def guests(xlpy) -> list[str]:
    return [line.split()[0] for line in xlpy("list").stdout.splitlines()[2:]]


def test_the_header_is_xl_s_struct_and_the_config_its_json(xlpy, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    stored = xlpy("list", "-l", "demo-pvh").stdout
    saved = tmp_path / "demo.save"
    r = xlpy("save", "demo-pvh", str(saved))
    data = saved.read_bytes()
    assert len(MAGIC) == 32 and data[:32] == MAGIC
    byteorder, mandatory, optional, optlen = struct.unpack_from("=4I", data, 32)
    assert (byteorder, mandatory, optional) == (0x01020304, JSON_FLAG | STREAM_V2_FLAG, 0)
    (config_len,) = struct.unpack_from("=I", data, 48)
    assert optlen == 4 + config_len
    config = data[52:52 + config_len]
    assert config.endswith(b"}\n\0")  # libxl's JSON text and its NUL, as xl stores it
    assert json.loads(config[:-1]) == as_saved(json.loads(stored)[0]["config"])
    assert data[48 + optlen:].startswith(b"xlpy model domain image v1\n")
    assert r.stderr == f"Saving to {saved} new xl format (info 0x3/0x0/{optlen})\n"
    assert guests(xlpy) == []


def test_the_real_xl_reads_the_config_xlpy_saved(xlpy, real_xl_cmd, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    saved = tmp_path / "demo.save"
    xlpy("save", "demo-pvh", str(saved))
    real = real_xl_cmd("restore", "-d", str(saved)).stderr
    ours = xlpy("restore", "-d", str(saved)).stderr
    # xl goes on to create the domain, which the shim does not answer.
    assert real.startswith(ours)
    assert ours.endswith(dumps(as_saved(retrieved_pvh())) + "\n")  # what libxl retrieves, as xl save stores it


def test_a_file_written_by_the_format_s_rules_round_trips(xlpy, tmp_path):
    config = (CONFIGS / "expected" / "pvh.json").read_bytes()  # what `xl create -n` prints
    saved = tmp_path / "by-hand.save"
    saved.write_bytes(xl_file(config + b"\0"))
    r = xlpy("restore", str(saved))
    assert r.stderr == (f"Loading new save file {saved} (new xl fmt info 0x3/0x0/{4 + len(config) + 1})\n"
                        " Savefile contains xl domain config in JSON format\n"
                        "Parsing config from <saved>\n")
    assert " 6a1c4b2e-1b7c-4d0e-9c1f-2a3b4c5d6e7f " in xlpy("list", "-v", "demo-pvh").stdout
    assert long_config(xlpy, "demo-pvh") == retrieved_pvh()
    assert xlpy("list", "demo-pvh").stdout.split()[-4:-2] == ["256", "2"]  # the image's memory and vCPUs


def test_a_text_config_without_the_json_flag_is_read_as_xl_cfg(xlpy, tmp_path):
    saved = tmp_path / "text.save"
    saved.write_bytes(xl_file((CONFIGS / "pvh.cfg").read_bytes(), mandatory=STREAM_V2_FLAG))
    r = xlpy("restore", str(saved))
    assert " Savefile contains xl domain config\n" in r.stderr
    assert long_config(xlpy, "demo-pvh") == retrieved_pvh()


def test_a_config_file_replaces_the_saved_one(xlpy, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    saved = tmp_path / "demo.save"
    xlpy("save", "demo-pvh", str(saved))
    other = tmp_path / "other.cfg"
    other.write_text((CONFIGS / "pvh.cfg").read_text() + 'name = "replaced"\n')
    r = xlpy("restore", str(other), str(saved))
    assert f"Parsing config from {other}\n" in r.stderr
    assert guests(xlpy) == ["replaced"]


def test_save_with_a_config_file_stores_that_config(xlpy, tmp_path):
    saved = tmp_path / "demo.save"
    other = tmp_path / "other.cfg"
    other.write_text((CONFIGS / "pvh.cfg").read_text() + 'name = "renamed"\n')
    xlpy("create", "-q", "configs/pvh.cfg")
    xlpy("save", "-c", "demo-pvh", str(saved), str(other))
    assert guests(xlpy) == ["demo-pvh"]  # -c: still running
    xlpy("destroy", "demo-pvh")
    xlpy("restore", str(saved))
    assert guests(xlpy) == ["renamed"]
    r = xlpy("save", "renamed", str(saved), str(tmp_path / "missing.cfg"), ok=False)
    assert (r.returncode, r.stderr) == (1, "unable to read overridden config file\n")


def test_a_restored_domain_restarts_from_its_saved_config(xlpy, tmp_path):
    saved = tmp_path / "by-hand.save"
    saved.write_bytes(xl_file((CONFIGS / "expected" / "pvh.json").read_bytes() + b"\0"))
    xlpy("restore", str(saved))
    xlpy("reboot", "-w", "demo-pvh")
    assert guests(xlpy) == ["demo-pvh"]
    assert xlpy("domid", "demo-pvh").stdout == "2\n"


# (file bytes, xl's stderr, with {f} for the file name). xl exits 1 for each.
BAD_FILES = {
    "wrong-magic": (xl_file(b"{}\0", magic=b"X" * 32),
                    "File has wrong magic number - corrupt or for a different tool?\n"),
    "other-byte-order": (xl_file(b"{}\0", order=">"), "File has wrong byte order\n"),
    "unknown-mandatory-flags": (xl_file(None, mandatory=0x10A),
                                "Loading new save file {f} (new xl fmt info 0x10a/0x0/0)\n"
                                "Savefile has mandatory flag(s) 0x108 which are not supported; need newer xl\n"),
    "no-config": (xl_file(None, mandatory=STREAM_V2_FLAG),
                  "Loading new save file {f} (new xl fmt info 0x2/0x0/0)\n"
                  "Config file not specified and none in save file\n"),
    "config-longer-than-optional-data": (
        MAGIC + struct.pack("=4I", 0x01020304, 3, 0, 8) + struct.pack("=I", 100) + b"{}\0\0",
        "Loading new save file {f} (new xl fmt info 0x3/0x0/8)\n"
        " Savefile contains xl domain config in JSON format\n"
        "Savefile truncated.\n"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_restore_refuses_a_bad_file_as_xl_does(xlpy, tmp_path, case):
    data, message = BAD_FILES[case]
    saved = tmp_path / f"{case}.save"
    saved.write_bytes(data)
    r = xlpy("restore", str(saved), ok=False)
    assert (r.returncode, r.stderr) == (1, message.format(f=saved))
    assert guests(xlpy) == []


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_the_real_xl_refuses_the_same_files_with_the_same_words(real_xl_cmd, tmp_path, case):
    data, message = BAD_FILES[case]
    saved = tmp_path / f"{case}.save"
    saved.write_bytes(data)
    r = real_xl_cmd("restore", str(saved))
    assert (r.returncode, r.stderr) == (1, message.format(f=saved))


def test_truncated_files_and_missing_files(xlpy, tmp_path):
    short = tmp_path / "short.save"
    short.write_bytes(MAGIC[:20])
    r = xlpy("restore", str(short), ok=False)
    assert (r.returncode, r.stderr) == (1, f"file/stream truncated reading header from {short}\n")
    short.write_bytes(xl_file(b"{}\0")[:50])
    r = xlpy("restore", str(short), ok=False)
    assert r.returncode == 1
    assert r.stderr.endswith(f"file/stream truncated reading optdata from {short}\n")
    r = xlpy("restore", str(tmp_path / "nosuch.save"), ok=False)
    assert (r.returncode, r.stderr) == (1, "Can't open restore file: No such file or directory\n")
    r = xlpy("restore", "nosuch.cfg", str(short), ok=False)
    assert r.returncode == 1
    full = tmp_path / "full.save"
    full.write_bytes(xl_file(b"{}\0"))
    r = xlpy("restore", "nosuch.cfg", str(full), ok=False)
    assert r.returncode == 1
    assert r.stderr.endswith("Failed to read config file: nosuch.cfg: No such file or directory\n")


def test_a_foreign_image_is_refused_before_anything_is_created(xlpy, tmp_path):
    saved = tmp_path / "libxc.save"
    saved.write_bytes(xl_file((CONFIGS / "expected" / "pvh.json").read_bytes() + b"\0",
                              image=b"\xff" * 64))
    r = xlpy("restore", str(saved), ok=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (f"xlpy: {saved}: the domain image is neither a libxl migration stream "
                                         "nor one the model saved")
    assert guests(xlpy) == []
    # A Xen host's file (what xl save writes) is named for what it is.
    saved.write_bytes(xl_file((CONFIGS / "expected" / "pvh.json").read_bytes() + b"\0",
                              image=struct.pack(">QII", 0x4C6962786C466D74, 2, 0) + bytes(16)))
    r = xlpy("restore", str(saved), ok=False)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (f"xlpy: {saved}: the domain image is a Xen host's (libxl migration "
                                         "stream), which the model cannot restore; restore it with --backend "
                                         "libxc on a Xen host")
    assert guests(xlpy) == []


def test_libxl_json_reads_back_into_the_same_config():
    for expected in sorted((CONFIGS / "expected").glob("*.json")):
        text = expected.read_text()
        assert DomainConfig.from_json_obj(json.loads(text)).to_json() == text, expected.name
    with pytest.raises(ValueError, match="BuildInfo has no field 'nosuch'"):
        DomainConfig.from_json_obj({"b_info": {"nosuch": 1}})


def test_a_failed_save_or_restore_loses_nothing(xlpy, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    r = xlpy("save", "demo-pvh", str(tmp_path / "no" / "such" / "dir.save"), ok=False)
    assert (r.returncode, r.stderr) == (1, f"Failed to open temp file {tmp_path}/no/such/dir.save for writing\n")
    assert xlpy("list", "demo-pvh").stdout.split()[-2] == "-b----"  # still running, not left paused
    saved = tmp_path / "demo.save"
    xlpy("save", "-c", "demo-pvh", str(saved))
    r = xlpy("restore", str(saved), ok=False)  # the name is taken by the running domain
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "xlpy: domain with name 'demo-pvh' already exists"
    assert guests(xlpy) == ["demo-pvh"]


def test_domain_0_cannot_be_saved_and_stays_running(xlpy, tmp_path):
    r = xlpy("save", "0", str(tmp_path / "dom0.save"), ok=False)
    assert (r.returncode, r.stderr) == (1, "domain 0 cannot be saved: it is the control domain\n")
    assert xlpy("list", "0").stdout.split()[-2] == "r-----"
    assert not (tmp_path / "dom0.save").exists()


def test_save_p_keeps_the_domain_paused_and_D_keeps_its_id(xlpy, tmp_path):
    xlpy("create", "-q", "configs/pvh.cfg")
    saved = tmp_path / "p.save"
    xlpy("save", "-p", "-D", "demo-pvh", str(saved))
    assert "p" in xlpy("list", "demo-pvh").stdout.split()[-2]
    assert '"domid": 1' in xlpy("restore", "-d", "-p", "-e", str(saved), ok=False).stderr


def test_a_config_given_to_restore_is_built_for_this_host(xlpy, state_dir, tmp_path):
    """As for create: cpus="nodes:1" names the host's second NUMA node, which exists here."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "host.yaml").write_text("nr_cpus: 8\nnr_nodes: 2\n")
    xlpy("create", "-q", "configs/pvh.cfg")
    saved = tmp_path / "n.save"
    xlpy("save", "demo-pvh", str(saved))
    cfg = tmp_path / "n.cfg"
    cfg.write_text((ROOT / "configs" / "pvh.cfg").read_text() + 'cpus = "nodes:1"\n')
    xlpy("restore", "-p", "-e", str(cfg), str(saved))
    vcpus = xlpy("vcpu-list", "demo-pvh").stdout.splitlines()[1:]
    assert vcpus and all(line.endswith("4-7 / all") for line in vcpus), vcpus  # hard: node 1's CPUs
