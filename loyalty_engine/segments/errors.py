"""The segments domain's errors: unknown or archived segments, invalid conditions, kind changes."""

from __future__ import annotations

from loyalty_engine.errors import Conflict, NotFound, ValidationFailed


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class SegmentKeyTaken(Conflict):
    code = "segment_key_taken"


class SegmentArchived(Conflict):
    """An archived segment cannot change (it is kept as it was, for history)."""

    code = "segment_archived"


class SegmentInUse(Conflict):
    """Rules are scoped to the segment: archiving it would switch them off silently."""

    code = "segment_in_use"


class SegmentOutdated(Conflict):
    """An archived segment's condition no longer translates (a trait it reads changed kind)."""

    code = "segment_outdated"


class InvalidSegment(ValidationFailed):
    """422: the condition (or another field) cannot be saved; every problem at its JSON path."""

    code = "invalid_segment"


class TraitKindInUse(Conflict):
    """Segments read the trait with its declared kind: changing the kind would change them."""

    code = "trait_kind_in_use"
