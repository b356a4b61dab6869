"""The device spec mini-languages of xl (disk, vif, channel, cpu lists, ...)."""


class SpecError(ValueError):
    """A device spec xl would refuse; the message is xl's where xl has one."""


def strtok_items(spec: str) -> list[str]:
    """The items of a comma-separated spec as xl's strtok loops see them:
    empty items vanish and leading blanks are skipped."""
    return [item.lstrip(" ") for item in spec.split(",") if item]


def split_string_list(text: str, delimiter: str) -> list[str]:
    """xl's split_string_into_string_list: strtok's tokens. xl crashes
    (strdup of NULL) when there are none, so that is an error here."""
    pieces = [piece for piece in text.split(delimiter) if piece]
    if not pieces:
        raise SpecError(f"`{text}' has no {delimiter}-separated items (xl crashes on it)")
    return pieces


def strtok_pairs(spec: str):
    """(key, value) of each `key=value` item, stopping at the first item
    without `=`, as xl's loops that break there read them."""
    for item in strtok_items(spec):
        key, sep, value = item.partition("=")
        if not sep:
            return
        yield key, value
