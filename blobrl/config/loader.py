"""Build frozen dataclasses from plain YAML data by their type annotations.

The loader knows a small, closed set of annotation shapes: ``int``, ``float``, ``bool``, ``str``,
``Literal[...]``, unions of those (``int | Literal["auto"]``, ``X | None``), ``tuple[X, ...]`` /
``list[X]`` and nested dataclasses. Anything it is given that does not fit raises
:class:`ConfigError` naming the source file, the dotted key path
(``schedule.phases[2].simulations``) and the reason.

Range and cross-field rules live with the dataclasses: a ``__post_init__`` raises
:class:`InvalidField` (or, for dataclasses of other packages, a plain ``ValueError`` whose message
starts with the field name) and the loader prefixes the key path.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import yaml

T = TypeVar("T")

# Field metadata key: the field is a partial mapping of overrides for this dataclass.
OVERRIDES_OF = "overrides_of"
# Field metadata key: fields of the target dataclass that may not appear in the overrides.
OVERRIDES_EXCLUDE = "overrides_exclude"


class ConfigError(ValueError):
    """A config that cannot be used: names the file, the dotted key and the reason."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


class InvalidField(ValueError):
    """Raised by a dataclass's ``__post_init__``: ``key`` is relative to that dataclass."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}" if key else reason)


def join_key(prefix: str, key: str) -> str:
    """``join_key("schedule", "phases[2]")`` -> ``schedule.phases[2]``."""
    if not prefix:
        return key
    if not key:
        return prefix
    return prefix + key if key.startswith("[") else f"{prefix}.{key}"


# --- YAML -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def read_yaml(text: str, *, source: str) -> Any:
    """Parse YAML text; syntax errors become :class:`ConfigError`."""
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no objects
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"not valid YAML: {exc}") from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(source, "", "not a usable config: nested too deeply") from None


# --- building ---------------------------------------------------------------------------------


def build(cls: type[T], data: Any, *, source: str, key: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (a mapping), checking every key and type."""
    return _coerce(cls, data, source=source, key=key)


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin in (tuple, list):
        return "a list"
    return getattr(tp, "__name__", str(tp))


def _same_shape(tp: Any, value: Any) -> bool:
    if isinstance(value, Mapping):
        return dataclasses.is_dataclass(tp)
    if isinstance(value, list | tuple):
        return typing.get_origin(tp) in (tuple, list)
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _coerce(tp: Any, value: Any, *, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build_dataclass(tp, value, source=source, key=key)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                raise ConfigError(source, key, f"{_show(value)} is too large") from None
    elif tp is str:
        if isinstance(value, str):
            return value
    elif tp is type(None):
        if value is None:
            return None
    elif origin is Literal:
        for allowed in typing.get_args(tp):
            if type(value) is type(allowed) and value == allowed:
                return value
    elif origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            try:
                return _coerce(member, value, source=source, key=key)
            except ConfigError:
                # A mapping or list that has the member's shape but fails inside it is the real
                # error; report it rather than the union.
                if _same_shape(member, value):
                    raise
        # fall through to the type error below
    elif origin in (tuple, list):
        args = typing.get_args(tp)
        if isinstance(value, list | tuple):
            if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
                raise TypeError(f"unsupported annotation {tp!r}: use tuple[X, ...]")
            item = args[0] if args else Any
            items = [
                _coerce(item, v, source=source, key=f"{key}[{i}]") for i, v in enumerate(value)
            ]
            return tuple(items) if origin is tuple else items
    else:
        raise TypeError(f"the config loader does not support the annotation {tp!r} at {key}")
    raise ConfigError(source, key, f"expected {_type_name(tp)}, got {_show(value)}")


def _build_dataclass(cls: Any, value: Any, *, source: str, key: str) -> Any:
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {_show(value)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in value if k not in fields]
    if unknown:
        bad = unknown[0]
        hint = _closest(str(bad), list(fields))
        reason = f"unknown key {bad!r}" + (f" (did you mean {hint!r}?)" if hint else "")
        reason += f"; allowed: {', '.join(fields)}"
        raise ConfigError(source, join_key(key, str(bad)), reason)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        sub = join_key(key, name)
        if name not in value:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(source, sub, "required key is missing")
            continue
        target = f.metadata.get(OVERRIDES_OF)
        if target is not None:
            kwargs[name] = build_overrides(
                target,
                value[name],
                exclude=f.metadata.get(OVERRIDES_EXCLUDE, ()),
                source=source,
                key=sub,
            )
        else:
            kwargs[name] = _coerce(hints[name], value[name], source=source, key=sub)
    try:
        built = cls(**kwargs)
    except InvalidField as exc:
        raise ConfigError(source, join_key(key, exc.key), exc.reason) from None
    except ConfigError:
        raise
    except (ValueError, TypeError) as exc:
        field, reason = _field_of_message(str(exc), fields)
        raise ConfigError(source, join_key(key, field), reason) from None
    _refuse_nan(kwargs, source=source, key=key)
    return built


def _refuse_nan(values: Mapping[str, Any], *, source: str, key: str) -> None:
    """NaN passes every range check (its comparisons are all false): refuse it in any float
    the record's own checks let through (they go first, for their own words)."""
    for name, value in values.items():
        listed = isinstance(value, tuple | list)
        for i, item in enumerate(value if listed else (value,)):
            if isinstance(item, float) and math.isnan(item):
                sub = join_key(key, name) + (f"[{i}]" if listed else "")
                raise ConfigError(source, sub, "expected a number, got .nan")


def build_overrides(
    cls: Any, value: Any, *, exclude: tuple[str, ...] = (), source: str, key: str
) -> types.MappingProxyType[str, Any]:
    """Check a partial mapping of ``cls``'s fields (keys and value types) and freeze it."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {_show(value)}")
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in exclude]
    out: dict[str, Any] = {}
    for name, v in value.items():
        sub = join_key(key, str(name))
        if name in exclude:
            raise ConfigError(source, sub, f"{name!r} is set by its own key, not as an override")
        if name not in allowed:
            hint = _closest(str(name), allowed)
            reason = f"unknown key {name!r}" + (f" (did you mean {hint!r}?)" if hint else "")
            raise ConfigError(source, sub, reason)
        out[name] = _coerce(hints[name], v, source=source, key=sub)
    try:
        dataclasses.replace(cls(), **out)  # the overrides alone must make a valid record
    except (ValueError, TypeError) as exc:
        field, reason = _field_of_message(str(exc), {n: None for n in allowed})
        raise ConfigError(source, join_key(key, field), reason) from None
    _refuse_nan(out, source=source, key=key)
    return types.MappingProxyType(out)


def _field_of_message(message: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """Find which field a foreign ``ValueError`` is about: its first word (less any
    ``section.`` prefix) when that names a field."""
    m = re.match(r"^(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*)", message)
    if m and m.group(1) in fields:
        return m.group(1), message
    return "", message


def _closest(word: str, options: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


# --- back to plain data -----------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings -> dicts, lists and scalars (JSON/YAML-able)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


# --- dotted-key overrides ---------------------------------------------------------------------

_PART = re.compile(r"([A-Za-z_]\w*)((?:\[\d+\])*)")


def apply_overrides(data: Any, overrides: Mapping[str, Any], *, source: str) -> Any:
    """Set ``overrides`` (dotted keys, ``a.b[2].c``) in a deep copy of plain ``data``.

    A string value is read as YAML (``"10"`` -> 10, ``"true"`` -> True) so that command-line text
    and typed values both work; the loader then checks it like any value of the file.
    """
    import copy

    data = copy.deepcopy(data) if data is not None else {}
    for dotted, raw in overrides.items():
        value = read_yaml(raw, source=f"override {dotted}") if isinstance(raw, str) else raw
        steps: list[str | int] = []
        for part in dotted.split("."):
            m = _PART.fullmatch(part)
            if m is None:
                raise ConfigError(
                    source, dotted, "not a dotted key (like schedule.phases[0].simulations)"
                )
            steps.append(m.group(1))
            steps += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
        node = data
        for i, step in enumerate(steps[:-1]):
            nxt = steps[i + 1]
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    raise ConfigError(source, dotted, f"no list item [{step}] to override")
                node = node[step]
            else:
                if not isinstance(node, dict):
                    raise ConfigError(source, dotted, "cannot override inside a non-mapping")
                if node.get(step) is None:
                    node[step] = [] if isinstance(nxt, int) else {}
                node = node[step]
        last = steps[-1]
        if isinstance(last, int):
            if not isinstance(node, list) or last >= len(node):
                raise ConfigError(source, dotted, f"no list item [{last}] to override")
            node[last] = value
        else:
            if not isinstance(node, dict):
                raise ConfigError(source, dotted, "cannot override inside a non-mapping")
            node[last] = value
    return data
