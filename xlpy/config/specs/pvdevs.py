"""vtpm=, p9= and pvcalls= entries: devices served by a backend domain.

Each entry is a comma-separated `key=value` list read with strtok; reading
stops at the first item without `=`. xl keeps p9's four values from one
entry to the next (its variables are declared outside the loop), so a later
share inherits what an earlier one set; xlpy does the same.
"""

from __future__ import annotations

import re

from xlpy.config.specs import SpecError, strtok_pairs
from xlpy.domain.devices import DeviceP9, DevicePvcallsif, DeviceVtpm

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")


def parse_vtpm(spec: str, devid: int) -> DeviceVtpm:
    vtpm = DeviceVtpm(devid=devid)
    got_backend = False
    for key, value in strtok_pairs(spec):
        if key == "backend":
            vtpm.backend_domname, got_backend = value, True
        elif key == "uuid":
            if not _UUID.match(value):
                raise SpecError(f"Failed to parse vtpm UUID: {value}")
            vtpm.uuid = value.lower()
        else:
            raise SpecError(f"Unknown string `{key}' in vtpm spec")
    if not got_backend:
        raise SpecError("vtpm spec missing required backend field!")
    return vtpm


class P9Reader:
    """p9= entries in order, carrying xl's values from one entry to the next."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def parse(self, spec: str, devid: int) -> DeviceP9:
        """`devid` is unused: xl leaves a 9pfs device's devid unset."""
        for key, value in strtok_pairs(spec):
            if key not in ("security_model", "path", "tag", "backend"):
                raise SpecError(f"Unknown string `{key}' in 9pfs spec")
            self.values[key] = value
        if not all(key in self.values for key in ("path", "security_model", "tag")):
            raise SpecError("9pfs spec missing required field!")
        v = self.values
        return DeviceP9(v.get("backend"), v["tag"], v["path"], v["security_model"])


def parse_pvcalls(spec: str, devid: int) -> DevicePvcallsif:
    device = DevicePvcallsif(devid=devid)
    for key, value in strtok_pairs(spec):
        if key != "backend":
            raise SpecError(f"Unknown string `{key}' in pvcalls spec")
        device.backend_domname = value
    return device
