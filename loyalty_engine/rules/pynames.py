"""The names generated code may use, and nothing else: the operator functions, its constants."""

# The generated module's globals are exactly `NAMESPACE` plus the condition's constants; its
# `__builtins__` is empty, so no name in the source can reach anything outside this table.

from __future__ import annotations

from typing import Any

from loyalty_engine.rules import access
from loyalty_engine.rules import operations as ops
from loyalty_engine.rules.coerce import NUMBERS, truthy

# Static types of generated expressions: what the value is known to be, or "any".
BOOL, NUM, STR, ANY = "bool", "num", "str", "any"
CHEAP = frozenset({"and", "or", "if", "?:", "!", "!!", "var"})
NEST = 10  # nodes nested in one expression before a helper function takes over

NAMESPACE: dict[str, Any] = {
    "_T": truthy,
    "_eq": ops.loose_eq,
    "_seq": ops.strict_eq,
    "_lt": ops.lt,
    "_le": ops.le,
    "_gt": ops.gt,
    "_ge": ops.ge,
    "_in": ops.contains,
    "_cat": ops.cat,
    "_substr": ops.substr,
    "_add": ops.add,
    "_mul": ops.mul,
    "_sub": ops.sub,
    "_div": ops.div,
    "_mod": ops.mod,
    "_min": ops.minimum,
    "_max": ops.maximum,
    "_merge": ops.merge,
    "_var": access.var,
    "_lookup": access.lookup,
    "_missing": access.missing,
    "_missing_some": access.missing_some,
    "_map": access.map_items,
    "_filter": access.filter_items,
    "_reduce": access.reduce_items,
    "_all": access.all_items,
    "_some": access.some_items,
    "_none": access.no_items,
    "_MISSING": ops.MISSING,
    "_EMPTY": {},  # what .get gives for a missing object on the way (never written to)
    "AttributeError": AttributeError,
    "_NUMS": NUMBERS,
    "str": str,
    "list": list,
    "__builtins__": {},  # the generated code needs none: nothing else is reachable from it
}
CALLS = {
    "cat": ("_cat", STR),
    "substr": ("_substr", STR),
    "+": ("_add", NUM),
    "*": ("_mul", NUM),
    "-": ("_sub", NUM),
    "/": ("_div", NUM),
    "%": ("_mod", NUM),
    "min": ("_min", NUM),
    "max": ("_max", NUM),
    "merge": ("_merge", ANY),
}
ORDER = {"<": ("_lt", "<"), "<=": ("_le", "<="), ">": ("_gt", ">"), ">=": ("_ge", ">=")}
ITEMS = {"map": "_map", "filter": "_filter", "all": "_all", "some": "_some", "none": "_none"}
