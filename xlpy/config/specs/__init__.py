"""The device spec mini-languages of xl (disk, vif, channel, cpu lists)."""


class SpecError(ValueError):
    """A device spec xl would refuse; the message is xl's where xl has one."""
