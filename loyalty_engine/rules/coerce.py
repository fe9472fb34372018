"""JavaScript's conversions, which JSON Logic inherits: truthiness, ToNumber, parseFloat, String."""

# Values are JSON values as Python holds them (None, bool, int, float, str, list or tuple, dict).
# Integers stay exact ints within 2**53 (JavaScript's safe range); beyond it they become floats, as
# every JavaScript number is. Strings compare and index by code point, as SQL does.

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

from loyalty_engine.rules.errors import LimitExceeded
from loyalty_engine.rules.limits import MAX_VALUE_DEPTH, SAFE_INTEGER, spend

NAN = math.nan
ARRAYS = (list, tuple)
NUMBERS = frozenset({int, float})

# JavaScript's WhiteSpace and LineTerminator code points (what Number(" 12\n") trims).
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_JS_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_DECIMAL = re.compile(r"[+-]?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE][+-]?\d+)?")
_INFINITY = re.compile(r"[+-]?Infinity")
_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")
_FLOAT_PREFIX = re.compile(r"[+-]?(?:Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_RADIXES = {"x": 16, "o": 8, "b": 2}


def truthy(value: Any) -> bool:
    """JSON Logic truthiness: JavaScript's, except that an empty array is false too."""
    cls = value.__class__
    if cls is bool:
        return value  # type: ignore[no-any-return]
    if cls is str or cls is list or cls is tuple or cls is int:
        return bool(value)
    if cls is float:
        return bool(value != 0.0 and value == value)  # NaN is false
    if value is None:
        return False
    if cls is dict:
        return True  # objects, even empty ones
    return truthy(plain(value))


def exact(number: int | float) -> int | float:
    """An integer result outside the safe range becomes a float, as in JavaScript."""
    if number.__class__ is int and not -SAFE_INTEGER <= number <= SAFE_INTEGER:
        try:
            return float(number)
        except OverflowError:  # beyond the largest double: JavaScript reads Infinity
            return math.inf if number > 0 else -math.inf
    return number


def to_number(value: Any) -> int | float:
    """JavaScript's Number(value)."""
    cls = value.__class__
    if cls is int or cls is float:
        return exact(value)
    if cls is bool:
        return int(value)
    if value is None:
        return 0
    if cls is str:
        return _string_to_number(value)
    if isinstance(value, (*ARRAYS, dict)):
        return _string_to_number(to_string(value))
    return to_number(plain(value))


def plain(value: Any) -> Any:
    """A subclass of a JSON type (a StrEnum, an IntEnum) as the plain type; else TypeError."""
    bases: tuple[type[Any], ...] = (bool, int, float, str, list, tuple, dict)
    for base in bases:
        if isinstance(value, base):
            return base(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _string_to_number(text: str) -> int | float:
    text = text.strip(_JS_SPACE)
    if not text:
        return 0
    match = _DECIMAL.fullmatch(text)
    if match:
        return _decimal(text, integral=match.group(2) is None and match.group(3) is None)
    if _INFINITY.fullmatch(text):
        return -math.inf if text[0] == "-" else math.inf
    radix = _RADIX.fullmatch(text)
    if radix:
        return exact(int(radix.group(1)[1:], _RADIXES[radix.group(1)[0].lower()]))
    return NAN


def _decimal(text: str, *, integral: bool) -> int | float:
    """A decimal literal already matched; small integers stay ints (never int() on 4300 digits)."""
    if integral and "e" not in text and "E" not in text and len(text) <= 16:
        number = int(text)
        return -0.0 if number == 0 and text[0] == "-" else exact(number)
    return float(text)


def parse_float(value: Any) -> int | float:
    """JavaScript's parseFloat(value): the longest numeric prefix of the text, or NaN."""
    cls = value.__class__
    if cls is int or cls is float:
        return exact(value)
    text = value if cls is str else to_string(value)
    match = _FLOAT_PREFIX.match(text.lstrip(_JS_SPACE))
    if not match:
        return NAN
    found = match.group()
    if found.lstrip("+-") == "Infinity":
        return -math.inf if found[0] == "-" else math.inf
    integral = "." not in found and "e" not in found and "E" not in found
    return _decimal(found, integral=integral)


def to_primitive(value: Any) -> Any:
    """Arrays become their text ("1,2"), objects "[object Object]"; scalars stay."""
    if isinstance(value, (*ARRAYS, dict)):
        return to_string(value)
    return value


def to_string(value: Any, depth: int = 0) -> str:
    """JavaScript's String(value); arrays join their items with "," (null items as "")."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is int or cls is float:
        return number_to_string(value)
    if isinstance(value, ARRAYS):
        if depth >= MAX_VALUE_DEPTH:
            raise LimitExceeded(f"a value nested deeper than {MAX_VALUE_DEPTH} levels")
        spend(len(value))
        return ",".join("" if item is None else to_string(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return to_string(plain(value), depth)


def number_to_string(number: int | float) -> str:
    """JavaScript's Number.prototype.toString(): 1.0 is "1", 1e21 is "1e+21", 1e-7 is "1e-7"."""
    if number.__class__ is int and -(10**21) < number < 10**21:
        return str(number)
    number = float(exact(number))
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    _, digits, exponent = Decimal(repr(abs(number))).normalize().as_tuple()
    text = "".join(map(str, digits))
    k, n = len(text), len(text) + int(exponent)
    minus = "-" if number < 0 else ""
    if k <= n <= 21:
        return minus + text + "0" * (n - k)
    if 0 < n <= 21:
        return minus + text[:n] + "." + text[n:]
    if -6 < n <= 0:
        return minus + "0." + "0" * -n + text
    mantissa = text[0] + ("." + text[1:] if k > 1 else "")
    return f"{minus}{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


def kind_of(value: Any) -> str:
    """The JSON type of a value: null, boolean, number, string, array or object."""
    cls = value.__class__
    found = _KINDS.get(cls)
    return found if found is not None else kind_of(plain(value))


_KINDS: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}
