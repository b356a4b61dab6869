"""Network specs: xl-network-configuration(5), as xl 4.17's parse_nic_config
and libxlutil's rate parser read them."""

from __future__ import annotations

import re

from xlpy.config.specs import SpecError
from xlpy.config.values import strtol
from xlpy.domain.devices import DeviceNic, NicType

UINT32_MAX = 2**32 - 1
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}
_INTERVAL_UNITS = {"us": 1, "ms": 10**3, "s": 10**6, "": 10**6}
_RATE = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)([KMG]?)([bB])/s\Z")
_INTERVAL = re.compile(r"(0[xX][0-9a-fA-F]+|[0-9]+)(us|ms|s|)\Z")
_MAC_BYTE = re.compile(r"(0[xX])?[0-9a-fA-F]{1,2}\Z")


class VifError(SpecError):
    """A vif error that xl prints without the `config parsing error` prefix."""


def parse_rate(text: str) -> tuple[int, int]:
    """`RATE[@INTERVAL]` -> (bytes per interval, interval in microseconds)."""
    rate, _, interval = text.partition("@")
    if not rate:
        raise SpecError(f"no rate specified in `{text}'")
    m = _RATE.match(rate)
    if not m:
        raise SpecError(f"invalid rate in `{rate}'")
    number = strtol(m.group(1))
    if number == 0 or number > UINT32_MAX:
        raise SpecError(f"rate overflow in `{text}'")
    bytes_per_sec = number * _UNITS[m.group(2)] // (8 if m.group(3) == "b" else 1)
    if bytes_per_sec == 0 or bytes_per_sec > UINT32_MAX:
        raise SpecError(f"rate overflow in `{text}'")
    usecs = 50_000
    if "@" in text:
        m = _INTERVAL.match(interval)
        if not m:
            raise SpecError(f"invalid replenishment interval in `{interval}'")
        raw = strtol(m.group(1))
        usecs = raw * _INTERVAL_UNITS[m.group(2)]
        if raw == 0 or raw > UINT32_MAX or usecs > UINT32_MAX:
            raise SpecError(f"replenishment interval overflow in `{interval}'")
    return bytes_per_sec * usecs // 10**6, usecs


def parse_mac(text: str) -> str:
    parts = re.split(r"[:-]", text)
    if len(parts) < 6 or not all(_MAC_BYTE.match(p) for p in parts[:6]):
        raise VifError("Invalid parameter `mac'.")
    return ":".join(f"{int(p, 16):02x}" for p in parts[:6])


def parse_vif(spec: str, devid: int | None = None, warn=None) -> DeviceNic:
    """One vif= item (a comma-separated list of key=value); xl skips blanks
    before each key and empty items, and keeps trailing blanks in values."""
    pieces = [p.lstrip(" \t") for p in spec.split(",")]
    return parse_vif_args([p for p in pieces if p], devid, warn)


def parse_vif_args(pieces: list[str], devid: int | None = None, warn=None) -> DeviceNic:
    """`warn(message)` receives what xl prints as a warning and goes on."""
    warn = warn or (lambda message: None)
    nic = DeviceNic(devid=devid)
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if not sep:
            if key == "trusted":
                nic.trusted = True
                continue
            if key == "untrusted":
                nic.trusted = False
                continue
            if not key and len(pieces) > 1:
                continue
            raise VifError(f"unrecognized argument `{piece}'")
        if key == "mac":
            nic.mac = parse_mac(value)
        elif key == "bridge":
            nic.bridge = value
        elif key == "ip":
            nic.ip = value
        elif key == "script":
            nic.script = value
        elif key == "backend":
            nic.backend_domname = value
        elif key == "vifname":
            nic.ifname = value
        elif key == "model":
            nic.model = value
        elif key == "gatewaydev":
            nic.gatewaydev = value
        elif key == "netdev":
            warn("the netdev parameter is deprecated, please use gatewaydev instead")
            nic.gatewaydev = value
        elif key == "accel":
            warn("the accel parameter for vifs is currently not supported")
        elif key == "type":
            types = {"ioemu": NicType.VIF_IOEMU, "vif": NicType.VIF}
            if value not in types:
                raise VifError("Invalid parameter `type'.")
            nic.nictype = types[value]
        elif key == "rate":
            nic.rate_bytes_per_interval, nic.rate_interval_usecs = parse_rate(value)
        elif key in ("devid", "mtu"):
            number = strtol(value)
            if number is None:
                raise VifError(f'xl: failed to convert "{value}" to number')
            setattr(nic, key, number)
        # Other keys (accel, colo_*, ...) are accepted and ignored, as xl does.
    return nic
