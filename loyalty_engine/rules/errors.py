"""The rules domain's errors: conditions (problems at JSON paths, limits) and rule changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loyalty_engine.errors import Conflict, LoyaltyError, NotFound, ValidationFailed


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a condition, where it is (`$.and[1].var`) and what to do instead."""

    path: str
    message: str
    type: str = "invalid"
    suggestion: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"path": self.path, "message": self.message, "type": self.type}
        return found if self.suggestion is None else {**found, "suggestion": self.suggestion}

    def __str__(self) -> str:
        hint = f"; {self.suggestion}" if self.suggestion else ""
        return f"{self.path}: {self.message}{hint}"


class ConditionInvalid(ValidationFailed):
    """422: a condition that cannot be saved or compiled, with every problem found at once."""

    code = "condition_invalid"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        first = str(self.problems[0]) if self.problems else "invalid condition"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(first + more, details=[p.as_dict() for p in self.problems])


class LimitExceeded(LoyaltyError):
    """A condition that would run too long or build too large a value on this data: refused."""

    status_code = 422
    code = "condition_limit_exceeded"


# --- rules and their versions (used by service.py) ---


class InvalidRule(ValidationFailed):
    code = "invalid_rule"


class RuleNotFound(NotFound):
    code = "rule_not_found"


class RuleVersionNotFound(NotFound):
    code = "rule_version_not_found"


class RuleKeyTaken(Conflict):
    code = "rule_key_taken"


class NothingToActivate(Conflict):
    code = "nothing_to_activate"
