"""Diffs between two JSON documents (pure): what an audit entry shows."""

from __future__ import annotations

from typing import Any


def diff(before: Any, after: Any, path: str = "$") -> dict[str, dict[str, Any]]:
    """`{json path: {"before": ..., "after": ...}}` for every leaf that changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: dict[str, dict[str, Any]] = {}
        for key in sorted(set(before) | set(after), key=str):
            changes.update(diff(before.get(key), after.get(key), f"{path}.{key}"))
        return changes
    if before == after and type(before) is type(after):
        return {}
    return {path: {"before": before, "after": after}}
