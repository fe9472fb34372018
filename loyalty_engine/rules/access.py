"""Reading data: var paths, missing facts, and the operators that loop over an array's items.

Loops spend one budget step per item (see `limits`), so a loop over data is always bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from loyalty_engine.rules.coerce import ARRAYS, to_string, truthy
from loyalty_engine.rules.limits import spend
from loyalty_engine.rules.operations import MISSING, ge


def var_path(path: Any) -> tuple[str, ...] | None:
    """The segments of a computed var path; None reads the whole data."""
    if path is None or path == "":
        return None
    if path.__class__ is str:
        return tuple(path.split("."))
    if path.__class__ in (int, float, bool):
        return tuple(to_string(path).split("."))
    return tuple(to_string(path).split("."))


def lookup(data: Any, segments: Sequence[str], default: Any = None) -> Any:
    """Follow the segments through objects (by key), arrays and strings (by index), as
    json-logic-js does; what JavaScript would find on a prototype (`length`) is not found."""
    for segment in segments:
        if data is None:
            return default
        if data.__class__ is dict:
            data = data.get(segment, MISSING)
        elif isinstance(data, (*ARRAYS, str)):
            data = _item(data, segment)
        elif isinstance(data, dict):
            data = dict.get(data, segment, MISSING)
        else:
            return default
        if data is MISSING:
            return default
    return data


def _item(array: Sequence[Any] | str, segment: str) -> Any:
    if not segment.isdecimal() or not segment.isascii() or (segment != "0" and segment[0] == "0"):
        return MISSING
    index = int(segment) if len(segment) < 12 else len(array)
    return array[index] if index < len(array) else MISSING


def var(data: Any, path: Any = None, default: Any = None) -> Any:
    segments = var_path(path)
    return data if segments is None else lookup(data, segments, default)


def missing(data: Any, keys: Sequence[Any]) -> list[Any]:
    """The keys whose var is null or "" (the first operand, if an array, is the key list)."""
    if keys and isinstance(keys[0], ARRAYS):
        keys = keys[0]
    spend(len(keys))
    found = []
    for key in keys:
        if isinstance(key, ARRAYS):  # {"var": [path, default]}
            value = var(data, *key[:2]) if key else data
        else:
            value = var(data, key)
        if value is None or value == "":
            found.append(key)
    return found


def missing_some(data: Any, need: Any, options: Any) -> list[Any]:
    keys = list(options) if isinstance(options, ARRAYS) else [options]
    absent = missing(data, [keys])
    return [] if ge(len(keys) - len(absent), need) else absent


# --- operators that run their second operand per item ---

Body = Callable[[Any], Any]


def map_items(items: Any, body: Body) -> list[Any]:
    if not isinstance(items, ARRAYS):
        return []
    spend(len(items))
    return [body(item) for item in items]


def filter_items(items: Any, body: Body) -> list[Any]:
    if not isinstance(items, ARRAYS):
        return []
    spend(len(items))
    return [item for item in items if truthy(body(item))]


def reduce_items(items: Any, body: Body, initial: Any) -> Any:
    if not isinstance(items, ARRAYS):
        return initial
    spend(len(items))
    accumulator = initial
    for item in items:
        accumulator = body({"current": item, "accumulator": accumulator})
    return accumulator


def all_items(items: Any, body: Body) -> bool:
    """False for an empty array and for anything not an array (json-logic-js would walk a
    string's characters here, though filter/some/none treat a string as no items)."""
    if not isinstance(items, ARRAYS) or not items:
        return False
    spend(len(items))
    return all(truthy(body(item)) for item in items)


def some_items(items: Any, body: Body) -> bool:
    if not isinstance(items, ARRAYS):
        return False
    spend(len(items))
    return any(truthy(body(item)) for item in items)


def no_items(items: Any, body: Body) -> bool:
    return not some_items(items, body)
