"""vdispl= and vsnd=: PV displays and sound cards served by a backend domain.

A vdispl entry is "backend=DOM, be-alloc=N, connectors=ID:WxH;ID:WxH". A
vsnd card is a list of entries, each naming what it configures first: "card"
(the card itself), "pcm" (starts a PCM device) or "stream" (starts a stream
of the latest PCM device, making one if there is none), then its key=value
items. Numbers are read with C's strtoul (base 0), which stops at the first
character it cannot use and gives 0 for none, as xl reads them.
"""

from __future__ import annotations

import re

from xlpy.config.specs import SpecError, split_string_list, strtok_items
from xlpy.config.values import strtoul, strtoul_u32
from xlpy.domain.devices import (
    PCM_FORMATS, ConnectorParam, DeviceVdispl, DeviceVsnd, VsndParams, VsndPcm, VsndStream, VsndStreamType,
)

# sscanf's "%ux%u": blanks and a sign may lead each number.
_RESOLUTION = re.compile(r"\s*([+-]?\d+)x\s*([+-]?\d+)")


def _connector(text: str) -> ConnectorParam:
    pieces = [piece for piece in text.split(":") if piece]
    match = _RESOLUTION.match(pieces[1]) if len(pieces) >= 2 else None
    if match is None:
        raise SpecError("Can't parse connector resolution")
    width, height = (int(number) & 0xFFFFFFFF for number in match.groups())
    return ConnectorParam(unique_id=pieces[0], width=width, height=height)


def parse_vdispl(spec: str, devid: int) -> DeviceVdispl:
    vdispl = DeviceVdispl(devid=devid)
    for token in strtok_items(spec):
        key, _, value = token.partition("=")
        if not token.startswith(f"{key}=") or key not in ("backend", "be-alloc", "connectors"):
            raise SpecError(f'Unknown string "{token}" in vdispl spec')
        if key == "backend":
            vdispl.backend_domname = value
        elif key == "be-alloc":
            vdispl.be_alloc = strtoul(value, 0)[0] != 0
        else:
            vdispl.connectors = [_connector(piece) for piece in split_string_list(value, ";")]
    if not vdispl.connectors:
        raise SpecError("At least one connector should be specified.")
    return vdispl


def _set_param(params: VsndParams, key: str, value: str) -> bool:
    """A key=value every level of a card takes; False if `key` is not one."""
    if key == "sample-rates":
        params.sample_rates = [strtoul_u32(rate) for rate in split_string_list(value, ";")]
    elif key == "sample-formats":
        formats = split_string_list(value, ";")
        for name in formats:
            if name.lower() not in PCM_FORMATS:
                raise SpecError(f"Invalid pcm format: {name}")
        params.sample_formats = [name.lower() for name in formats]
    elif key in ("channels-min", "channels-max", "buffer-size"):
        setattr(params, key.replace("-", "_"), strtoul_u32(value))
    else:
        return False
    return True


class VsndCard:
    """One vsnd= card, filled entry by entry."""

    def __init__(self, devid: int) -> None:
        self.device = DeviceVsnd(devid=devid)

    def add(self, entry: str) -> None:
        tokens = strtok_items(entry)
        if not tokens:
            return
        what, items = tokens[0], tokens[1:]
        device = self.device
        if what.lower() == "pcm":
            device.pcms.append(VsndPcm())
        elif what.lower() == "stream":
            if not device.pcms:
                device.pcms.append(VsndPcm())
            device.pcms[-1].streams.append(VsndStream())
        elif what.lower() != "card":
            raise SpecError(f"Invalid key: {what}")
        for token in items:
            key, sep, value = token.partition("=")
            if what.lower() == "card":
                self._card_item(key if sep else None, value, token)
            elif what.lower() == "pcm":
                self._pcm_item(key if sep else None, value, token)
            else:
                self._stream_item(key if sep else None, value, token)

    def _card_item(self, key, value: str, token: str) -> None:
        device = self.device
        if key is not None and _set_param(device.params, key, value):
            return
        if key == "backend":
            device.backend_domname = value
        elif key == "short-name":
            device.short_name = value
        elif key == "long-name":
            device.long_name = value
        else:
            raise SpecError(f"Invalid parameter: {token}")

    def _pcm_item(self, key, value: str, token: str) -> None:
        pcm = self.device.pcms[-1]
        if key is not None and _set_param(pcm.params, key, value):
            return
        if key != "name":
            raise SpecError(f"Invalid parameter: {token}")
        pcm.name = value

    def _stream_item(self, key, value: str, token: str) -> None:
        stream = self.device.pcms[-1].streams[-1]
        if key is not None and _set_param(stream.params, key, value):
            return
        if key == "unique-id":
            stream.unique_id = value
        elif key == "type":
            if value.lower() not in ("p", "c"):
                raise SpecError(f"Invalid stream type: {value}")
            stream.type = VsndStreamType(value.lower())
        else:
            raise SpecError(f"Invalid parameter: {token}")
