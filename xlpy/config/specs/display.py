"""vfb= and vkb= entries: a PV guest's framebuffer and its keyboard/pointer.

Both are comma-separated `key=value` lists read with strtok (empty items
vanish, leading blanks are skipped). A vfb entry stops at the first item
without `=` and ignores keys it does not know; every vfb also brings a vkb.
A vkb entry refuses unknown keys and needs a backend-type.
"""

from __future__ import annotations

from xlpy.config.specs import SpecError, strtok_items, strtok_pairs
from xlpy.config.values import atoi, strtoul, strtoul_u32
from xlpy.domain.devices import DeviceVfb, DeviceVkb, VkbBackend

_VKB_NUMBERS = {  # kbdif.h field names; multi-touch-width must be tried before width
    "multi-touch-width": "multi_touch_width", "multi-touch-height": "multi_touch_height",
    "multi-touch-num-contacts": "multi_touch_num_contacts", "width": "width", "height": "height",
}
_VKB_FEATURES = {
    "feature-disable-keyboard": "feature_disable_keyboard", "feature-disable-pointer": "feature_disable_pointer",
    "feature-abs-pointer": "feature_abs_pointer", "feature-raw-pointer": "feature_raw_pointer",
    "feature-multi-touch": "feature_multi_touch",
}


_VFB_FLAGS = {"vnc": ("vnc", "enable"), "vncunused": ("vnc", "findunused"), "sdl": ("sdl", "enable"),
              "opengl": ("sdl", "opengl")}
_VFB_STRINGS = {"vnclisten": ("vnc", "listen"), "vncpasswd": ("vnc", "passwd"), "display": ("sdl", "display"),
                "xauthority": ("sdl", "xauthority"), "keymap": ("", "keymap")}


def parse_vfb(spec: str, devid: int) -> DeviceVfb:
    vfb = DeviceVfb(devid=devid)
    for key, value in strtok_pairs(spec):
        if key in _VFB_FLAGS:
            part, name = _VFB_FLAGS[key]
            setattr(getattr(vfb, part), name, atoi(value) != 0)
        elif key in _VFB_STRINGS:
            part, name = _VFB_STRINGS[key]
            setattr(getattr(vfb, part) if part else vfb, name, value)
        elif key == "vncdisplay":
            vfb.vnc.display = atoi(value)
    return vfb


def parse_vkb(spec: str, devid: int) -> DeviceVkb:
    vkb = DeviceVkb(devid=devid)
    for item in strtok_items(spec):
        key, sep, value = item.partition("=")
        if not sep:
            raise SpecError(f'Unknown string "{item}" in vkb spec')
        if key == "backend":
            vkb.backend_domname = value
        elif key == "backend-type":
            try:
                vkb.backend_type = VkbBackend(value.lower())
            except ValueError:
                raise SpecError(f'Unknown backend_type "{value}" in vkb spec') from None
        elif key == "unique-id":
            vkb.unique_id = value
        elif key in _VKB_FEATURES:
            setattr(vkb, _VKB_FEATURES[key], strtoul(value, 0)[0] != 0)
        elif key in _VKB_NUMBERS:
            setattr(vkb, _VKB_NUMBERS[key], strtoul_u32(value))
        else:
            raise SpecError(f'Unknown string "{item}" in vkb spec')
    if vkb.backend_type is VkbBackend.UNKNOWN:
        raise SpecError("backend-type should be set in vkb spec")
    if vkb.multi_touch_width or vkb.multi_touch_height or vkb.multi_touch_num_contacts:
        vkb.feature_multi_touch = True
    elif vkb.feature_multi_touch:
        raise SpecError("multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set for "
                        "multi touch in vkb spec")
    return vkb
