"""Disk specs against the real libxlutil (xlu_disk_parse through ../shared's
ctypes oracle): generated specs, as disk= items give them (one string each),
are accepted or rejected alike, with the same fields and the same messages.
block-attach's several-argument form is covered by Xen's own vectors
(test_disk_vectors.py). Not generated yet, because xlpy still differs from
libxlutil there: empty positional parameters and legacy `vdev:devtype` forms
mixed with later parameters, and `target=` anywhere but last."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlpy.config.specs import SpecError
from xlpy.config.specs.disk import parse_disk_args
from xlu_oracle import parse_disk

PREFIX = "command line: config parsing error in disk specification: "

PIECES = st.sampled_from([
    "/dev/vg/guest", "/img.qcow2", "raw", "qcow2", "vhd", "qed", "empty", "bogus", "xvda", "hdc", "sdb",
    "r", "w", "rw", "ro", "cdrom", "w!",
    "format=raw", "format=qcow2", "format=nope", "vdev=xvdb", "access=ro", "access=rw", "access=x",
    "devtype=cdrom", "devtype=disk", "devtype=tape", "backendtype=phy", "backendtype=qdisk", "backendtype=zz",
    "script=block-foo", "discard", "no-discard", "direct-io-safe", "backend=drv", "unknownkey=1",
    "phy:/dev/sda", "file:/img", "raw:/img", "qcow2:/img", "tap:aio:/img", "iscsi:/x", "bogus:/x",
    " xvdc", "specification=xen", "specification=virtio", "specification=scsi", "colo", "no-colo",
    "colo-host=h", "colo-host=", "colo-port=9000", "colo-port=0", "colo-port=x1", "colo-port=4294967296", "colo-port=4294967297", "colo-export=e",
    "active-disk=/a", "hidden-disk=/h", "trusted", "untrusted",
])
TARGETS = st.sampled_from(["", "target=/tgt", "target=/a,b", "target="])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, min_size=1, max_size=5), TARGETS)
def test_disk_specs_match_libxlutil(pieces, target):
    specs = [",".join(pieces + ([target] if target else []))]
    real = parse_disk(specs)
    try:
        ours = parse_disk_args(specs)
    except SpecError as e:
        assert not real["ok"], (specs, str(e), real.get("result"))
        assert real["error"] == "".join(f"{PREFIX}{line}\n" for line in str(e).splitlines())
        return
    assert real["ok"], (specs, real.get("error"))
    assert ours.to_json_obj() == real["result"], specs
