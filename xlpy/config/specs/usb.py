"""usbctrl= and usbdev= entries: USB controllers and the host devices on them.

Items are `key=value`, read with strtok; an item xl does not know, or one
without `=`, is an error.
"""

from __future__ import annotations

from xlpy.config.specs import SpecError, strtok_items
from xlpy.config.values import atoi, strtoul
from xlpy.domain.devices import DeviceUsbctrl, DeviceUsbdev, UsbctrlType


def parse_usbctrl(spec: str, devid: int) -> DeviceUsbctrl:
    ctrl = DeviceUsbctrl(devid=devid)
    for item in strtok_items(spec):
        key, sep, value = item.partition("=")
        if sep and key == "type":
            try:
                ctrl.type = UsbctrlType(value.lower())
            except ValueError:
                raise SpecError(f"Invalid usb controller type '{value}'") from None
        elif sep and key in ("version", "ports"):
            setattr(ctrl, key, atoi(value))
        else:
            raise SpecError(f"Unknown string `{item}' in usbctrl spec")
    return ctrl


def parse_usbdev(spec: str) -> DeviceUsbdev:
    dev = DeviceUsbdev()
    for item in strtok_items(spec):
        key, sep, value = item.partition("=")
        if sep and key == "type":
            if value.lower() != "hostdev":
                raise SpecError(f"Invalid usb device type: {value}")
            dev.hostdev = True
        elif sep and key in ("hostbus", "hostaddr"):
            setattr(dev, key, strtoul(value, 0)[0] & 0xFF)
        elif sep and key in ("controller", "port"):
            setattr(dev, "ctrl" if key == "controller" else "port", atoi(value))
        else:
            raise SpecError(f"Unknown string `{item}' in usbdev spec")
    return dev
