"""libxl IDL types in Python, printed exactly as libxl's ``*_gen_json`` prints them.

libxl describes its types in an IDL (libxl_types.idl) and generates a JSON
printer for each. `xl create -n` and `xl list -l` print that JSON, and scripts
read it, so xlpy's types reproduce its rules:

* fields print in IDL order, and only when they differ from the IDL default
  (unset strings, zero integers, default enums, unset defbools, empty arrays
  and bitmaps are left out);
* nested structs always print, even when empty;
* a keyed union prints as ``"<key>.<variant>": {...}`` and its key field is
  not printed on its own;
* enums print as lowercase strings, defbools as ``"True"``/``"False"``, C bools
  as ``true``/``false``, bitmaps as the sorted list of set bits;
* the text is yajl's "beautify" layout: four-space indent, ``"key": value``,
  an empty object or array as an opening line, an empty line and the closer.

Declare a type as a dataclass deriving from `Struct`; mark special fields with
`defbool()`, `bitmap()`, `union(key)` or `always()`.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from typing import Any


class Enum(str, enum.Enum):
    """A libxl enum; the value is the JSON spelling (lowercase)."""

    def __str__(self) -> str:
        return self.value


def defbool(default: bool | None = None) -> Any:
    """A libxl_defbool: None is "default" (left out), else "True"/"False"."""
    return dataclasses.field(default=default, metadata={"kind": "defbool"})


def bitmap() -> Any:
    """A libxl_bitmap: a set of bit numbers, printed sorted; empty is left out."""
    return dataclasses.field(default_factory=set, metadata={"kind": "bitmap"})


def union(key: str, default_factory: Any) -> Any:
    """A keyed union whose variant struct prints as ``"<key>.<variant>"``."""
    return dataclasses.field(default_factory=default_factory, metadata={"kind": "union", "key": key})


def always(default: Any = None, default_factory: Any = None) -> Any:
    """A scalar printed even at its default (libxl prints some, e.g. nic devid 0)."""
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata={"kind": "always"})
    return dataclasses.field(default=default, metadata={"kind": "always"})


class Struct:
    """Base for IDL structs (subclasses are dataclasses)."""

    #: For a keyed-union variant: its name, as in ``"type.pvh"``.
    variant: str = ""

    def to_json_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            kind = f.metadata.get("kind")
            value = getattr(self, f.name)
            if kind == "union":
                out[f"{f.metadata['key']}.{value.variant}"] = value.to_json_obj()
                continue
            if kind == "always":
                if value is not None:
                    out[f.name] = _json_value(value)
                continue
            if isinstance(value, Struct):
                out[f.name] = value.to_json_obj()
                continue
            if kind == "defbool":
                if value is not None:
                    out[f.name] = "True" if value else "False"
                continue
            if kind == "bitmap":
                if value:
                    out[f.name] = sorted(value)
                continue
            if value is None or (isinstance(value, (list, tuple, set, frozenset, dict)) and not value):
                continue
            if f.default is not dataclasses.MISSING and value == f.default and not isinstance(value, list):
                continue
            out[f.name] = _json_value(value)
        return out

    def to_json(self) -> str:
        """The object as libxl prints it, with the trailing newline."""
        return dumps(self.to_json_obj()) + "\n"

    @classmethod
    def from_json_obj(cls, obj: dict[str, Any]):
        """The inverse of to_json_obj: the struct libxl's JSON describes.
        A key the type does not declare is an error, so nothing is dropped."""
        if not isinstance(obj, dict):
            raise ValueError(f"{cls.__name__}: expected an object, got {type(obj).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unions = {f.metadata["key"]: f for f in fields.values() if f.metadata.get("kind") == "union"}
        values: dict[str, Any] = {}
        for key, value in obj.items():
            union_key, _, variant = key.partition(".")
            if variant and union_key in unions:
                f = unions[union_key]
                values[f.name] = _union_variant(f, variant).from_json_obj(value)
            elif key in fields:
                values[key] = _from_json_value(hints[key], fields[key].metadata.get("kind"), value)
            else:
                raise ValueError(f"{cls.__name__} has no field {key!r}")
        return cls(**values)


def _union_variant(f: dataclasses.Field, variant: str) -> type[Struct]:
    """The struct of a keyed union's variant: declared beside its default."""
    module = sys.modules[f.default_factory.__module__]  # type: ignore[union-attr]
    for candidate in vars(module).values():
        if isinstance(candidate, type) and issubclass(candidate, Struct) and candidate.variant == variant:
            return candidate
    raise ValueError(f"unknown variant {f.metadata['key']}.{variant}")


def _from_json_value(hint: Any, kind: str | None, value: Any) -> Any:
    if kind == "defbool":
        if value not in ("True", "False"):
            raise ValueError(f"expected \"True\" or \"False\", got {value!r}")
        return value == "True"
    if kind == "bitmap":
        return set(value)
    if isinstance(hint, types.UnionType):  # X | None
        hint = next(arg for arg in hint.__args__ if arg is not type(None))
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return [_from_json_value(item, None, v) for v in value]
    if isinstance(hint, type) and issubclass(hint, Struct):
        return hint.from_json_obj(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_json_obj()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(s: str) -> str:
    """A JSON string as yajl writes it: UTF-8 kept, control bytes as \\u00XX."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(value: Any, indent: int = 0) -> str:
    """JSON in yajl's beautify layout (no trailing newline)."""
    pad = " " * indent
    inner = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{\n\n" + pad + "}"
        items = ",\n".join(f"{inner}{_quote(k)}: {dumps(v, indent + 4)}" for k, v in value.items())
        return "{\n" + items + "\n" + pad + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[\n\n" + pad + "]"
        items = ",\n".join(inner + dumps(v, indent + 4) for v in value)
        return "[\n" + items + "\n" + pad + "]"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return _quote(value)
    return str(value)
