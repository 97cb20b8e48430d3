"""CBSP and SBc-AP messages as JSON-ready values and back, for the CLI and scripts (no Qt, no database).

One generic converter walks a message dataclass by its type hints, so every message type of cbsp.py and
sbcap.py has a JSON shape without per-message code:
- the top level is an object whose "message" key names the message class ("WriteReplace",
  "WriteReplaceWarningRequest"); the other keys are the dataclass fields, by their Python names;
- enums are written by member name ("NORMAL", "PLMN_WIDE"); a field typed "enum or int" (a cause or
  warning type outside the enum) holds the number when there is no member for it;
- bytes are hex strings ("0a1b"), tuples are arrays, None is null, nested dataclasses are objects;
- where a field may hold one of several dataclasses (a CBSP cell identifier, an SBc-AP warning area),
  the object carries a "type" key naming the class ("CellGlobalId", "TrackingAreaList").
`to_json` leaves out nothing: optional fields appear as null or [] so the shape is visible; `from_json`
fills in defaults for fields that are left out. Bad input raises JsonShapeError naming the field path.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any

from omnidesk.cbc import cbsp, sbcap

__all__ = ["PROTOCOLS", "JsonShapeError", "message_classes", "protocol_of", "to_json", "from_json"]

PROTOCOLS = ("cbsp", "sbcap")
_PROTOCOL_NAMES = {"cbsp": "CBSP", "sbcap": "SBc-AP"}
_BASES = {"cbsp": (cbsp, cbsp.CbspMessage), "sbcap": (sbcap, sbcap.SbcapMessage)}
MESSAGE_KEY = "message"
TYPE_KEY = "type"


class JsonShapeError(ValueError):
    """JSON that is not a message of the protocol; `path` names the field at fault ("message" for the
    message name, "WriteReplace.cell_list.cells[1].lac" for a value)."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


@functools.cache
def message_classes(protocol: str) -> dict[str, type]:
    """Message class name -> class, for "cbsp" or "sbcap"."""
    module, base = _BASES[protocol]
    return {
        name: cls for name in module.__all__
        if isinstance(cls := getattr(module, name), type) and issubclass(cls, base) and cls is not base
        and dataclasses.is_dataclass(cls)
    }


def protocol_of(message: Any) -> str:
    for protocol, (_, base) in _BASES.items():
        if isinstance(message, base):
            return protocol
    raise TypeError(f"{type(message).__name__} is not a CBSP or SBc-AP message")


# ---------------------------------------------------------------------------------------------
# Type hints


@functools.cache
def _hints(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, type hint, required) for each constructor field of a dataclass."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls) if f.init
    )


def _alternatives(hint: Any) -> tuple[Any, ...] | None:
    """The members of a Union (typing.Union or X | Y), or None for any other hint."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _is_sequence(hint: Any) -> bool:
    return typing.get_origin(hint) in (tuple, list)


def _item_hint(hint: Any, index: int) -> Any:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list or (len(args) == 2 and args[1] is Ellipsis):
        return args[0]
    return args[index]


def _matches(value: Any, hint: Any) -> bool:
    """Whether a Python value is of the alternative `hint` (for picking a Union member when writing)."""
    if hint is type(None):
        return value is None
    if _is_sequence(hint):
        return isinstance(value, (tuple, list))
    if hint is int:
        return isinstance(value, int) and not isinstance(value, (bool, enum.Enum))
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    alternatives = _alternatives(hint)
    if alternatives is not None:
        return " or ".join(dict.fromkeys(_describe(a) for a in alternatives))
    if hint is type(None):
        return "null"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "a whole number"
    if hint is str:
        return "a string"
    if hint is bytes:
        return "a hex string"
    if _is_sequence(hint):
        return "an array"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return f"one of {', '.join(hint.__members__)}"
    if dataclasses.is_dataclass(hint):
        return f"an object ({hint.__name__})"
    return str(hint)


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Message -> JSON


def to_json(message: Any) -> dict[str, Any]:
    """A CBSP or SBc-AP message as a dict of JSON values, its class name under "message"."""
    protocol_of(message)  # refuses anything else
    return {MESSAGE_KEY: type(message).__name__, **_dataclass_to(message, type(message).__name__)}


def _dataclass_to(value: Any, path: str) -> dict[str, Any]:
    return {name: _to(getattr(value, name), hint, f"{path}.{name}") for name, hint, _ in _hints(type(value))}


def _to(value: Any, hint: Any, path: str) -> Any:
    alternatives = _alternatives(hint)
    if alternatives is not None:
        for alternative in alternatives:
            if _matches(value, alternative):
                out = _to(value, alternative, path)
                if dataclasses.is_dataclass(alternative) and sum(map(dataclasses.is_dataclass, alternatives)) > 1:
                    out = {TYPE_KEY: alternative.__name__, **out}
                return out
        raise TypeError(f"{path}: {type(value).__name__} is not {_describe(hint)}")
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if isinstance(value, (tuple, list)):
        return [_to(item, _item_hint(hint, i), f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value):
        return _dataclass_to(value, path)
    return value  # bool, int, str


# ---------------------------------------------------------------------------------------------
# JSON -> message


def from_json(data: Any, protocol: str) -> Any:
    """The message a dict (as `json.loads` gives it) describes. Raises JsonShapeError naming the field."""
    if protocol not in _BASES:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if not isinstance(data, dict):
        raise JsonShapeError(MESSAGE_KEY, f"expected an object with a \"{MESSAGE_KEY}\" key, not {_shown(data)}")
    classes = message_classes(protocol)
    name = data.get(MESSAGE_KEY)
    if name is None:
        raise JsonShapeError(MESSAGE_KEY, f"missing; it names the message: {', '.join(classes)}")
    cls = classes.get(name) if isinstance(name, str) else None
    if cls is None:
        raise JsonShapeError(MESSAGE_KEY, f"unknown {_PROTOCOL_NAMES[protocol]} message {_shown(name)}; "
                                          f"known: {', '.join(classes)}")
    return _dataclass_from({k: v for k, v in data.items() if k != MESSAGE_KEY}, cls, name)


def _dataclass_from(data: Any, cls: type, path: str, *, discriminated: bool = False) -> Any:
    if not isinstance(data, dict):
        raise JsonShapeError(path, f"expected {_describe(cls)}, not {_shown(data)}")
    fields = _hints(cls)
    known = {name for name, _, _ in fields} | ({TYPE_KEY} if discriminated else set())
    for key in data:
        if key not in known:
            raise JsonShapeError(f"{path}.{key}", f"unknown field of {cls.__name__}; "
                                                  f"its fields: {', '.join(n for n, _, _ in fields) or 'none'}")
    values = {}
    for name, hint, required in fields:
        if name in data:
            values[name] = _from(data[name], hint, f"{path}.{name}")
        elif required:
            raise JsonShapeError(f"{path}.{name}", f"missing ({_describe(hint)})")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # a constructor's own check
        raise JsonShapeError(path, str(exc)) from None


def _from(value: Any, hint: Any, path: str) -> Any:
    alternatives = _alternatives(hint)
    if alternatives is not None:
        return _union_from(value, hint, alternatives, path)
    if hint is type(None):
        if value is None:
            return None
    elif hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is bytes:
        if isinstance(value, str):
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise JsonShapeError(path, f"expected a hex string, not {_shown(value)}") from None
    elif isinstance(hint, type) and issubclass(hint, enum.Enum):
        if isinstance(value, str) and value in hint.__members__:
            return hint[value]
    elif _is_sequence(hint):
        if isinstance(value, list):
            args = typing.get_args(hint)
            if typing.get_origin(hint) is tuple and not (len(args) == 2 and args[1] is Ellipsis) and len(value) != len(args):
                raise JsonShapeError(path, f"expected an array of {len(args)} items, not {len(value)}")
            items = [_from(item, _item_hint(hint, i), f"{path}[{i}]") for i, item in enumerate(value)]
            return tuple(items) if typing.get_origin(hint) is tuple else items
    elif dataclasses.is_dataclass(hint):
        return _dataclass_from(value, hint, path)
    else:
        raise TypeError(f"{path}: no JSON shape for {hint!r}")  # a bug: a field type this module does not know
    raise JsonShapeError(path, f"expected {_describe(hint)}, not {_shown(value)}")


def _union_from(value: Any, hint: Any, alternatives: tuple[Any, ...], path: str) -> Any:
    enums = [a for a in alternatives if isinstance(a, type) and issubclass(a, enum.Enum)]
    classes = [a for a in alternatives if dataclasses.is_dataclass(a)]
    if value is None and type(None) in alternatives:
        return None
    if isinstance(value, str):
        for alternative in enums:
            if value in alternative.__members__:
                return alternative[value]
        for alternative in (bytes, str):
            if alternative in alternatives:
                return _from(value, alternative, path)
    if isinstance(value, int) and not isinstance(value, bool) and int in alternatives:
        for alternative in enums:  # a number the enum names becomes the member, as the decoder gives it
            if value in {m.value for m in alternative}:
                return alternative(value)
        return value
    if isinstance(value, bool) and bool in alternatives:
        return value
    if isinstance(value, list):
        for alternative in alternatives:
            if _is_sequence(alternative):
                return _from(value, alternative, path)
    if isinstance(value, dict) and classes:
        if len(classes) == 1:
            return _dataclass_from(value, classes[0], path)
        names = {cls.__name__: cls for cls in classes}
        kind = value.get(TYPE_KEY)
        if kind is None:
            raise JsonShapeError(f"{path}.{TYPE_KEY}", f"missing; one of {', '.join(names)}")
        if kind not in names:
            raise JsonShapeError(f"{path}.{TYPE_KEY}", f"expected one of {', '.join(names)}, not {_shown(kind)}")
        return _dataclass_from(value, names[kind], path, discriminated=True)
    raise JsonShapeError(path, f"expected {_describe(hint)}, not {_shown(value)}")


# ---------------------------------------------------------------------------------------------
# Single values (cells and areas of a warning's targets)


def value_to_json(value: Any, hint: Any, path: str = "value") -> Any:
    """Any value of the type `hint` (a dataclass, an enum, a union of them ...) as JSON values."""
    return _to(value, hint, path)


def value_from_json(data: Any, hint: Any, path: str = "value") -> Any:
    """The value of type `hint` that JSON data describes; JsonShapeError naming `path` otherwise."""
    return _from(data, hint, path)
