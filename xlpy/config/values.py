"""Parsed xl config files: settings in file order and libxlutil's typed getters.

A value is an atom (`Atom`, a `str`: numbers stay text, as in libxlutil) or a
list (`ListValue`, a `list` of values). Both carry the line and column where
they start, so later stages can point at a single list item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from xlpy.diagnostics import Diagnostic


class Atom(str):
    """A number or string value, as the text libxlutil stores."""

    line: int
    column: int

    def __new__(cls, text: str, line: int = 0, column: int = 0) -> "Atom":
        atom = super().__new__(cls, text)
        atom.line = line
        atom.column = column
        return atom


class ListValue(list):
    """A bracketed list of values; `line`/`column` are those of its `[`."""

    line: int
    column: int

    def __init__(self, items=(), line: int = 0, column: int = 0) -> None:
        super().__init__(items)
        self.line = line
        self.column = column


Value = Union[Atom, ListValue]


@dataclass(frozen=True, slots=True)
class Setting:
    """One assignment as written: `name = value` or `name += value`.

    `line`/`column` are where the value starts (libxlutil records the value's
    line as the setting's line).
    """

    name: str
    op: str
    value: Value
    line: int
    column: int


class ConfigValueError(ValueError):
    """A getter found the key but libxlutil would reject its value (EINVAL)."""

    errno_name = "EINVAL"

    def __init__(self, filename: str, setting: Setting, message: str) -> None:
        super().__init__(f"{filename}:{setting.line}:{setting.column}: {message}")
        self.filename = filename
        self.setting = setting
        self.message = message


class ConfigRangeError(ConfigValueError):
    """A number beyond what libxlutil's strtol can hold (ERANGE)."""

    errno_name = "ERANGE"


LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

# C strtol(s, &end, 0) accepting the whole string: leading isspace(), sign,
# then hex (0x), octal (leading 0) or decimal digits, and nothing after.
_STRTOL = re.compile(r"[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\Z")


def strtol(text: str) -> int | None:
    """The number libxlutil's get_long reads from `text`, or None if invalid."""
    m = _STRTOL.match(text)
    if m is None:
        return None
    sign, digits = m.groups()
    if digits[:2] in ("0x", "0X"):
        number = int(digits[2:], 16)
    elif digits.startswith("0"):
        number = int(digits, 8)
    else:
        number = int(digits)
    return -number if sign == "-" else number


ULONG_RANGE = 2**64
_C_BLANKS = "[ \t\n\v\f\r]*"
_C_DIGITS = {8: "[0-7]", 10: "[0-9]", 16: "[0-9a-fA-F]"}


def strtoul(text: str, base: int = 10) -> tuple[int, int]:
    """C strtoul(text, &end, base) on a 64-bit machine: (value, characters
    read), 0 read meaning end == text. Blanks and a sign may lead, base 16
    may carry 0x, base 0 picks 16/8/10 from the prefix; a negative number
    wraps around, as in C."""
    m = re.match(f"{_C_BLANKS}([+-]?)", text)
    sign, pos = m.group(1), m.end()
    if base in (0, 16) and re.match("0[xX][0-9a-fA-F]", text[pos:]):
        base, pos = 16, pos + 2
    elif base == 0:
        base = 8 if text[pos:pos + 1] == "0" else 10
    digits = re.match(f"{_C_DIGITS[base]}+", text[pos:])
    if digits is None:
        return 0, 0
    value = int(digits.group(), base) % ULONG_RANGE
    return (ULONG_RANGE - value) % ULONG_RANGE if sign == "-" else value, pos + digits.end()


def strtoul_u32(text: str) -> int:
    """(uint32_t) strtoul(text, NULL, 0), as xl stores a number in a 32-bit field."""
    return strtoul(text, 0)[0] & 0xFFFFFFFF


def atoi(text: str) -> int:
    """glibc's atoi, (int) strtol(text, NULL, 10): the leading decimal number
    (0 if there is none), clamped to a 64-bit long, then cut to a 32-bit int."""
    m = re.match(f"{_C_BLANKS}([+-]?[0-9]+)", text)
    if m is None:
        return 0
    value = max(-2**63, min(int(m.group(1)), 2**63 - 1))
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


@dataclass
class ConfigFile:
    """A parsed config: every setting in file order, plus libxlutil's lookups.

    Lookups follow libxlutil: the last assignment of a name wins, and `+=`
    appends to the list or string assigned before it. `notes` are warnings,
    with positions, about libxlutil quirks the file relies on: a numeric
    escape xl drops (S101), a stray last character xl ignores (S102). Number
    tokens xl cannot read as numbers (`08`, `1e3`) stay plain atoms; the
    getters reject them as libxlutil does.
    """

    filename: str
    settings: list[Setting]
    notes: list[Diagnostic] = field(default_factory=list)
    text: str = ""
    #: Line number of the first command-line override (0 when there are none).
    overrides_from_line: int = 0
    _effective: dict[str, Value] = field(default_factory=dict, repr=False)
    #: xl's command-line KEY=VALUE settings parsed after the file, if any.
    overrides: list[str] = field(default_factory=list)

    @property
    def full_text(self) -> str:
        """The file with its command-line settings, as xl keeps it for a restart."""
        if not self.overrides:
            return self.text
        return self.text + "\n" + "".join(f"{o}\n" for o in self.overrides)

    # -- lookups ---------------------------------------------------------

    def __contains__(self, name: str) -> bool:
        return name in self._effective

    def names(self) -> list[str]:
        """Distinct setting names, in order of first appearance."""
        return list(dict.fromkeys(s.name for s in self.settings))

    def last(self, name: str) -> Setting:
        """The setting that decides `name` (its last assignment); KeyError if none."""
        for setting in reversed(self.settings):
            if setting.name == name:
                return setting
        raise KeyError(name)

    def value(self, name: str) -> Value:
        """The effective value of `name`, with `+=` applied; KeyError if absent."""
        return self._effective[name]

    def get_string(self, name: str) -> str:
        value = self._effective[name]
        if isinstance(value, ListValue):
            raise ConfigValueError(
                self.filename, self.last(name), f"parameter `{name}' is a list but should be a single value"
            )
        return str(value)

    def get_long(self, name: str) -> int:
        value = self._effective[name]
        setting = self.last(name)
        if isinstance(value, ListValue):
            raise ConfigValueError(
                self.filename, setting, f"parameter `{name}' is a list but should be a single value"
            )
        if setting.op == "+=":
            raise ConfigValueError(self.filename, setting, f"can't use += with numbers for parameter `{name}'")
        number = strtol(value)
        if number is None:
            raise ConfigValueError(self.filename, setting, f"parameter `{name}' is not a valid number")
        if not LONG_MIN <= number <= LONG_MAX:
            raise ConfigRangeError(
                self.filename,
                setting,
                f"parameter `{name}' could not be parsed as a number: Numerical result out of range",
            )
        return number

    def get_defbool(self, name: str) -> bool:
        return self.get_long(name) != 0

    def get_list(self, name: str) -> ListValue:
        value = self._effective[name]
        if not isinstance(value, ListValue):
            raise ConfigValueError(
                self.filename, self.last(name), f"parameter `{name}' is a single value but should be a list"
            )
        return value

    # -- command-line overrides -------------------------------------------

    def with_overrides(self, overrides: list[str]) -> "ConfigFile":
        """This config with xl's command-line `key=value` settings after it.

        As xl does, the overrides are appended to the file text (a newline,
        then one per line) and the whole is parsed again, so the last setting
        of a key wins and `+=` works across the boundary.
        """
        from xlpy.config.parser import parse_with_overrides

        return parse_with_overrides(self.text, self.filename, overrides)
