"""Milestone errors: invalid definitions, unknown or taken keys, changes to archived milestones."""

from __future__ import annotations

from loyalty_engine.errors import Conflict, NotFound, ValidationFailed


class InvalidMilestone(ValidationFailed):
    code = "invalid_milestone"


class MilestoneNotFound(NotFound):
    code = "milestone_not_found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no milestone {key!r}", details={"key": key})


class MilestoneKeyTaken(Conflict):
    code = "milestone_key_taken"

    def __init__(self, key: str) -> None:
        super().__init__(f"a milestone with key {key!r} exists", details={"key": key})


class MilestoneArchived(Conflict):
    code = "milestone_archived"

    def __init__(self, key: str) -> None:
        super().__init__(f"milestone {key!r} is archived", details={"key": key})
