"""What the event history keeps, read off the deployed config (docs/storage.md).

The history exists for the conditions that look back (``did``/``did_not`` anywhere, a counted
``when``, ``cancel_if`` re-checked when a wait ends) and for one internal reader (dispatch
finding the provider's id of a message whose send was interrupted, in engagement events). So
each event type is kept only if one of them reads it, only as long as the longest of them looks
back, and only with the properties they read:

- ``did``/``did_not``: the event, for its ``within`` (``HISTORY_DEFAULT_SECONDS`` without one),
  with the properties its ``where`` names (and, for a journey's ``same_journey``, the
  ``trigger`` and ``message_id`` that say which journey's message it was about);
- a counted ``when``: the event, for ``count.within``, with ``when.where``'s and ``count.same``'s;
- ``cancel_if``: the event, for the trigger's ``wait`` + 24 h, with its ``where``'s (and
  ``properties.message_id`` for ``same_message``);
- engagement events: ``message_id`` and ``provider_id``, for ``ENGAGEMENT_SECONDS``;
- ``product_viewed`` with the product's fields, for ``RECENT_SECONDS``, when a template shows
  ``recommendations`` (recently viewed products).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nudge.core.catalog import RECENT_FIELDS
from nudge.core.durations import seconds
from nudge.core.events import ENGAGEMENT_TYPES
from nudge.core.profile import HISTORY_DEFAULT_SECONDS, HistoryPolicy

RECENT_SECONDS = 30 * 86400  # how far back recommendations.recently_viewed looks
ENGAGEMENT_SECONDS = 2 * 86400  # dispatch resolves an interrupted send within minutes
_CANCEL_SLACK = 86400  # a wake that comes late still sees what cancelled its wait
_COMBINATORS = ("all", "any", "not")


class _Builder:
    def __init__(self) -> None:
        self.keep: dict[str, tuple[float, Any]] = {}

    def add(self, kind: str, window: float, paths: list[str]) -> None:
        """Keep events of ``kind`` for ``window`` seconds with these paths (from the event)."""
        old_window, tree = self.keep.get(kind, (0.0, {}))
        for path in paths:
            tree = _add_path(tree, path)
        self.keep[kind] = (max(old_window, window), tree)


def _add_path(tree: Any, path: str) -> Any:
    """``tree`` with the event path ``path`` added (``properties.a.b``; anything but a
    property keeps nothing more: the entry has its type and time anyway)."""
    if tree is True:
        return True
    parts = path.split(".")
    if parts[0] != "properties":
        return tree
    if len(parts) == 1:
        return True  # the whole properties
    out = dict(tree)
    node = out
    for i, part in enumerate(parts[1:], start=1):
        if i == len(parts) - 1:
            node[part] = True
            break
        child = node.get(part, {})
        if child is True:
            break
        node[part] = dict(child)
        node = node[part]
    return out


def condition_paths(spec: Any) -> list[str]:
    """The field paths an event condition reads (``all``/``any``/``not`` looked into)."""
    out: list[str] = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("all", "any") and isinstance(value, list):
                for item in value:
                    out += condition_paths(item)
            elif key == "not":
                out += condition_paths(value)
            elif isinstance(key, str):
                out.append(key)
    return out


def _history_tests(data: Any) -> Iterator[dict[str, Any]]:
    """Every ``did``/``did_not`` spec anywhere in a dumped config model."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("did", "did_not") and isinstance(value, dict) and "event" in value:
                yield value
            else:
                yield from _history_tests(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _history_tests(value)


def _within(spec: dict[str, Any]) -> float:
    try:
        return seconds(spec["within"]) if spec.get("within") else HISTORY_DEFAULT_SECONDS
    except (ValueError, TypeError):
        return HISTORY_DEFAULT_SECONDS


def history_policy(raw: Any) -> HistoryPolicy:
    """The ``HistoryPolicy`` of a read config (``nudge.config.load.RawConfig``)."""
    build = _Builder()
    models: list[Any] = [raw.segments, raw.content]
    models += [t for t, _ in raw.triggers] + [c for c, _ in raw.campaigns]
    for model in models:
        for spec in _history_tests(model.model_dump(exclude_none=True)):
            paths = condition_paths(spec.get("where"))
            if spec.get("same_journey"):  # a journey's own messages: engagement names them
                paths += ["properties.trigger", "properties.message_id"]
            build.add(str(spec["event"]), _within(spec), paths)
    for trigger, _src in raw.triggers:
        count = trigger.when.count
        if count is not None:
            paths = condition_paths(trigger.when.where) + ([count.same] if count.same else [])
            build.add(trigger.when.event, _seconds_or(count.within, 0.0), paths)
        wait = _seconds_or(trigger.wait, 0.0) + _CANCEL_SLACK
        for test in trigger.cancel_if:
            paths = condition_paths(test.where)
            if test.same_message:
                paths.append("properties.message_id")
            build.add(test.event, wait, paths)
    for kind in ENGAGEMENT_TYPES:
        build.add(kind, ENGAGEMENT_SECONDS, ["properties.message_id", "properties.provider_id"])
    texts = [t for t, _ in raw.templates.values()] + models[2:]
    if any("recommendations" in s for m in texts for s in _strings(m.model_dump())):
        # templates show recently viewed products (nudge.core.catalog.recently_viewed)
        fields = [f"properties.{f}" for f in RECENT_FIELDS]
        build.add("product_viewed", RECENT_SECONDS, fields)
    return HistoryPolicy(build.keep)


def _strings(data: Any) -> Iterator[str]:
    """Every string in a dumped config model (template texts, inline content)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list | tuple):
        for value in data:
            yield from _strings(value)


def _seconds_or(text: str | None, default: float) -> float:
    try:
        return seconds(text) if text else default
    except (ValueError, TypeError):
        return default
