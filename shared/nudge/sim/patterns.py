"""EventBridge event patterns (rules on the bus, Lambda's stream filters), matched by moto's
implementation of the pattern language, on only the parts of an event a pattern names: moto
flattens the whole event first, and an outbox item's image is large while the filter reads two
attributes of it. The answer is the same: a pattern never looks at a field it does not name."""

from __future__ import annotations

from typing import Any


def prune(event: Any, pattern: Any) -> Any:
    """``event`` with only the fields ``pattern`` names (nested objects pruned likewise)."""
    if not isinstance(event, dict) or not isinstance(pattern, dict):
        return event
    if any(key.startswith("$") for key in pattern):  # $or and friends: keep it all
        return event
    return {key: prune(event[key], sub) for key, sub in pattern.items() if key in event}


def matches(pattern: Any, event: dict[str, Any]) -> bool:
    """Does ``event`` match ``pattern`` (a moto ``EventPattern``)?"""
    return bool(pattern.matches_event(prune(event, pattern.get_pattern())))
