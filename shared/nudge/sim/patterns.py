"""EventBridge event patterns (rules on the bus, Lambda's stream filters), matched by moto's
implementation of the pattern language, on only the parts of an event a pattern names: moto
flattens the whole event first, and an outbox item's image is large while the filter reads two
attributes of it. The answer is the same: a pattern never looks at a field it does not name.

What a pattern names of an event is small and repeats (a rule reads ``source`` and
``detail-type``, the stream filter an item's ``kind``), so each pattern remembers its answer per
pruned event: a day of 100,000 events asks moto a few dozen times, not 100,000."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# answers kept per pattern; past this many distinct pruned events the memory starts afresh
_REMEMBERED = 4096


def prune(event: Any, pattern: Any) -> Any:
    """``event`` with only the fields ``pattern`` names (nested objects pruned likewise)."""
    if not isinstance(event, dict) or not isinstance(pattern, dict):
        return event
    for key in pattern:
        if key[:1] == "$":  # $or and friends: keep it all
            return event
    return {key: prune(event[key], sub) for key, sub in pattern.items() if key in event}


def matches(pattern: Any, event: dict[str, Any], shown: Callable[[Any], Any] | None = None) -> bool:
    """Does ``event`` match ``pattern`` (a moto ``EventPattern``)? ``shown`` turns the pruned
    event into the JSON the matcher sees (a stream record's times and binary values)."""
    pruned = prune(event, pattern.get_pattern())
    if shown is not None:
        pruned = shown(pruned)
    # the pruned event's repr is its key: prune keeps the pattern's order, and the values are
    # JSON's (or times and bytes), whose repr tells them apart
    key = repr(pruned)
    answers: dict[str, bool] | None = getattr(pattern, "_nudge_answers", None)
    if answers is None or len(answers) >= _REMEMBERED:
        answers = {}
        pattern._nudge_answers = answers  # the pattern's own memory, gone with it
    answer = answers.get(key)
    if answer is None:
        answer = answers[key] = bool(pattern.matches_event(pruned))
    return answer
