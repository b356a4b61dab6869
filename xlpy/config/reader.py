"""KeyReader: a config's settings read the way xl reads them.

xl ignores a key it cannot read as the type it wants (with a warning) and
exits on a value it does not know; a reader never raises: every finding is a
Diagnostic at the setting's line and column, and the builder decides.
"""

from __future__ import annotations


from xlpy.config.rules import rule
from xlpy.config.specs import SpecError
from xlpy.config.values import ConfigFile, ConfigRangeError, ConfigValueError, ListValue
from xlpy.diagnostics import Diagnostic, Severity
from xlpy.domain.config import (
    DomainConfig,
)
from xlpy.domain.host import Topology


class KeyReader:
    """What the builder's parts share: the config, the host, the request being
    built and the findings so far."""

    def __init__(self, cfg: ConfigFile, topology: Topology) -> None:
        self.cfg = cfg
        self.topology = topology
        self.dc = DomainConfig()
        self.diagnostics: list[Diagnostic] = list(cfg.notes)
        self.guest_type = "pv"

    def report(self, code: str, key_or_pos, message: str, severity: Severity | None = None) -> None:
        if hasattr(key_or_pos, "line"):
            line, column = key_or_pos.line, key_or_pos.column
        elif isinstance(key_or_pos, str):
            try:
                s = self.cfg.last(key_or_pos)
                line, column = s.line, s.column
            except KeyError:
                line = column = None
        else:
            line = column = None
        self.diagnostics.append(Diagnostic(
            code, severity or rule(code).severity, message, self.cfg.filename, line, column,
        ))

    def string(self, key: str) -> str | None:
        if key not in self.cfg:
            return None
        try:
            return self.cfg.get_string(key)
        except ConfigValueError as e:
            self.report("T106", key, f"{e.message}; xl ignores `{key}'")
            return None

    def number(self, key: str) -> int | None:
        if key not in self.cfg:
            return None
        try:
            return self.cfg.get_long(key)
        except ConfigRangeError as e:
            self.report("T110", key, f"{e.message}; xl ignores `{key}'", Severity.WARNING)
        except ConfigValueError as e:
            self.report("T104", key, f"{e.message}; xl ignores `{key}'")
        return None

    def flag(self, key: str) -> bool | None:
        value = self.number(key)
        return None if value is None else value != 0

    def named(self, key: str, choices, message: str = 'ERROR: invalid value "{}" for "{}"', code: str = "T108"):
        """A choice read by name: a libxl enum in any case (libxl's
        *_from_string), or a dict of the exact spellings xl compares with.
        An unknown name is reported as `code` with xl's `message` and gives None."""
        text = self.string(key)
        if text is None:
            return None
        if not isinstance(choices, dict):
            choices = {member.value: member for member in choices}
            text_key = text.lower()
        else:
            text_key = text
        if text_key in choices:
            return choices[text_key]
        self.report(code, key, message.format(text, key))
        return None

    def named_or_number(self, key: str, enum, numbers: dict, deprecated: bool):
        """A libxl enum given by name or, in the older form, by number."""
        if key not in self.cfg:
            return None
        try:
            number = self.cfg.get_long(key)
        except (ConfigValueError, KeyError):
            return self.named(key, enum)
        if deprecated:
            hint = f'e.g. {key}="{numbers[number].value}"' if number in numbers else ""
            self.report("T109", key, f'specifying "{key}" as an integer is deprecated; use the named variant {hint}')
        if number not in numbers:
            self.report("T108", key, f'ERROR: invalid value {number} for "{key}"')
            return None
        return numbers[number]

    def items(self, key: str) -> list:
        """The string items of a device list, as xl reads them (stopping at a nested list)."""
        if key not in self.cfg:
            return []
        try:
            values = self.cfg.get_list(key)
        except ConfigValueError as e:
            self.report("T105", key, f"{e.message}; xl ignores `{key}'")
            return []
        out = []
        for item in values:
            if isinstance(item, ListValue):
                self.report("D104", item, f"a list inside `{key}': xl stops reading `{key}' here")
                break
            out.append(item)
        return out

    def parse_items(self, key: str, code: str, parse, message: str = "{}") -> list:
        """Each item of the list `key` through parse(text, index); an item xl
        refuses becomes diagnostic `code` (its text put into `message`)."""
        parsed = []
        for index, item in enumerate(self.items(key)):
            try:
                parsed.append(parse(str(item), index))
            except SpecError as e:
                self.report(code, item, message.format(e))
        return parsed
