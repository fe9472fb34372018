"""Rules: the JSON Logic condition language (parse, check, compile to Python and SQL, evaluate).

`rules/` is pure: no database session, no FastAPI. See `jsonlogic` for the one-call form.
"""

from loyalty_engine.rules import jsonlogic
from loyalty_engine.rules.check import check
from loyalty_engine.rules.conditions import valid_condition, valid_segment_condition
from loyalty_engine.rules.customer_facts import customer_facts, customer_resolver, epoch_seconds
from loyalty_engine.rules.errors import ConditionInvalid, LimitExceeded, Problem
from loyalty_engine.rules.evaluate import Evaluation, Step, evaluate, thaw
from loyalty_engine.rules.facts import (
    CUSTOMER_FACTS,
    CUSTOMER_TRAITS,
    EVENT_FACTS,
    NOW,
    Fact,
    FactSchema,
    Kind,
    rule_schema,
    segment_schema,
)
from loyalty_engine.rules.nodes import OPERATORS, Array, Literal, Node, Op, Var
from loyalty_engine.rules.parse import parse
from loyalty_engine.rules.pycompile import compile_python
from loyalty_engine.rules.sqlcompile import (
    SqlExpression,
    check_sql,
    compile_sql,
    compile_sql_filter,
    compile_sql_value,
)
from loyalty_engine.rules.sqlvalue import Resolver, SqlFact

__all__ = [
    "CUSTOMER_FACTS",
    "CUSTOMER_TRAITS",
    "EVENT_FACTS",
    "NOW",
    "OPERATORS",
    "Array",
    "ConditionInvalid",
    "Evaluation",
    "Fact",
    "FactSchema",
    "Kind",
    "LimitExceeded",
    "Literal",
    "Node",
    "Op",
    "Problem",
    "Resolver",
    "SqlExpression",
    "SqlFact",
    "Step",
    "Var",
    "check",
    "check_sql",
    "compile_python",
    "compile_sql",
    "compile_sql_filter",
    "compile_sql_value",
    "customer_facts",
    "customer_resolver",
    "epoch_seconds",
    "evaluate",
    "jsonlogic",
    "parse",
    "rule_schema",
    "segment_schema",
    "thaw",
    "valid_condition",
    "valid_segment_condition",
]
