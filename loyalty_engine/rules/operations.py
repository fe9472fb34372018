"""The operators of JSON Logic as plain functions over values, as json-logic-js defines them."""

# Both the compiled Python and the explain interpreter call these (and those of `access`), so the
# semantics live here once. Functions that build arrays or strings check their size; walks over
# values spend from the evaluation's budget (see `limits`).

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from loyalty_engine.rules.coerce import (
    ARRAYS,
    NAN,
    exact,
    kind_of,
    parse_float,
    to_number,
    to_primitive,
    to_string,
)
from loyalty_engine.rules.limits import check_length, spend, spend_text

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()

# --- equality and order ---


def loose_eq(a: Any, b: Any) -> bool:
    """JavaScript's `==`: numbers and strings meet as numbers, booleans as 0/1, null only null."""
    ka, kb = kind_of(a), kind_of(b)
    if ka == kb:
        return _same_kind_eq(ka, a, b)
    if ka == "null" or kb == "null":
        return False
    if ka == "boolean":
        return loose_eq(int(a), b)
    if kb == "boolean":
        return loose_eq(a, int(b))
    if ka == "number" and kb == "string":
        return bool(a == to_number(b))
    if ka == "string" and kb == "number":
        return bool(to_number(a) == b)
    if ka in ("array", "object") and kb in ("number", "string"):
        return loose_eq(to_primitive(a), b)
    if kb in ("array", "object") and ka in ("number", "string"):
        return loose_eq(a, to_primitive(b))
    return False


def strict_eq(a: Any, b: Any) -> bool:
    """JavaScript's `===`: the same type and value; arrays and objects only if the same one."""
    ka = kind_of(a)
    if ka != kind_of(b):
        return False
    return _same_kind_eq(ka, a, b)


def _same_kind_eq(kind: str, a: Any, b: Any) -> bool:
    if kind in ("array", "object"):
        return a is b
    if kind == "string":
        spend_text(a)
    return bool(a == b)


def _relate(a: Any, b: Any, holds: Callable[[Any, Any], Any]) -> bool:
    a, b = to_primitive(a), to_primitive(b)
    if a.__class__ is str and b.__class__ is str:
        spend_text(a)
        return bool(holds(a, b))
    return bool(holds(to_number(a), to_number(b)))  # NaN compares false


def lt(a: Any, b: Any, c: Any = MISSING) -> bool:
    if c is MISSING:
        return _relate(a, b, operator.lt)
    return _relate(a, b, operator.lt) and _relate(b, c, operator.lt)


def le(a: Any, b: Any, c: Any = MISSING) -> bool:
    if c is MISSING:
        return _relate(a, b, operator.le)
    return _relate(a, b, operator.le) and _relate(b, c, operator.le)


def gt(a: Any, b: Any) -> bool:
    return _relate(a, b, operator.gt)


def ge(a: Any, b: Any) -> bool:
    return _relate(a, b, operator.ge)


# --- arithmetic: `+` and `*` read operands with parseFloat, the others with Number ---


def add(*values: Any) -> int | float:
    total: int | float = 0
    for value in values:
        total = exact(total + parse_float(value))
    return total


def mul(first: Any, *values: Any) -> int | float:
    """`*`: json-logic-js returns a lone operand untouched ({"*": ["2"]} is "2"); here it is
    read as a number like the others, so `*` always gives a number."""
    product = parse_float(first)
    for value in values:
        product = exact(product * parse_float(value))
    return product


def sub(a: Any, b: Any = MISSING) -> int | float:
    if b is MISSING:
        return exact(-to_number(a))
    return exact(to_number(a) - to_number(b))


def div(a: Any, b: Any) -> int | float:
    x, y = to_number(a), to_number(b)
    if y == 0:
        if x != x or x == 0:
            return NAN
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    if x.__class__ is int and y.__class__ is int and x % y == 0:
        return exact(x // y)
    return x / y


def mod(a: Any, b: Any) -> int | float:
    """JavaScript's `%`: the remainder takes the sign of the dividend."""
    x, y = to_number(a), to_number(b)
    if y == 0 or x != x or y != y or math.isinf(x):
        return NAN
    if x.__class__ is int and y.__class__ is int:
        remainder = abs(x) % abs(y)
        return -remainder if x < 0 else remainder
    return math.fmod(x, y)


def minimum(*values: Any) -> int | float:
    numbers = [to_number(value) for value in values]
    return NAN if any(n != n for n in numbers) else min(numbers)


def maximum(*values: Any) -> int | float:
    numbers = [to_number(value) for value in values]
    return NAN if any(n != n for n in numbers) else max(numbers)


# --- strings and arrays ---


def cat(*values: Any) -> str:
    text = "".join("" if value is None else to_string(value) for value in values)
    check_length(text)
    spend_text(text)
    return text


def substr(source: Any, start: Any, length: Any = MISSING) -> str:
    """json-logic's substr: a negative length leaves that many characters off the end."""
    text = to_string(source)
    spend_text(text)
    begin = _integer(start)
    begin = max(len(text) + begin, 0) if begin < 0 else min(begin, len(text))
    rest = text[begin:]
    if length is MISSING:
        return rest
    count = to_number(length)
    if count < 0:
        return rest[: max(len(rest) + _integer(count), 0)]
    return rest[: _integer(count)]


def _integer(value: Any) -> int:
    """JavaScript's ToIntegerOrInfinity, with the infinities clamped to a large int."""
    number = to_number(value)
    if number != number:
        return 0
    if math.isinf(number):
        return 2**62 if number > 0 else -(2**62)
    return int(number)


def contains(needle: Any, haystack: Any) -> bool:
    """`in`: a substring of a string, or an item (compared with ===) of an array."""
    if haystack.__class__ is str:
        spend_text(haystack)
        return haystack != "" and to_string(needle) in haystack
    if isinstance(haystack, ARRAYS):
        spend(len(haystack))
        return any(strict_eq(needle, item) for item in haystack)
    if isinstance(haystack, str):
        return contains(needle, str.__str__(haystack))
    return False


def merge(*values: Any) -> list[Any]:
    merged: list[Any] = []
    for value in values:
        if isinstance(value, ARRAYS):
            merged.extend(value)
        else:
            merged.append(value)
    check_length(merged)
    spend(len(merged))
    return merged
