"""Segments: named conditions over customer facts, counted and listed in SQL, checked in Python at
event time; and the declared custom traits (their kinds) that both read alike."""

from loyalty_engine.segments.catalog import SegmentBook, SegmentCatalog
from loyalty_engine.segments.declarations import DeclaredTraits, declare_trait, list_declarations
from loyalty_engine.segments.models import CustomTraitDeclaration, Segment, TraitKind
from loyalty_engine.segments.service import (
    archive_segment,
    count_members,
    create_segment,
    get_segment,
    list_members,
    list_segments,
    preview_count,
    update_segment,
)

__all__ = [
    "CustomTraitDeclaration",
    "DeclaredTraits",
    "Segment",
    "SegmentBook",
    "SegmentCatalog",
    "TraitKind",
    "archive_segment",
    "count_members",
    "create_segment",
    "declare_trait",
    "get_segment",
    "list_declarations",
    "list_members",
    "list_segments",
    "preview_count",
    "update_segment",
]
