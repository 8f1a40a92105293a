"""Typed conditions: every field path, operator and value in a condition checked against what can
reach it (``nudge.config.fields``), so a rule that could never match fails ``nudge validate``.

Runs after ``nudge.core.rules.compile_condition`` accepted the condition's structure; each
problem is ``(path inside the condition, message, at_key)``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from nudge.config.fields import Catalogue, PathError, Shape, resolve
from nudge.core.clock import parse_time
from nudge.core.dates import DATE_OPERATORS
from nudge.core.rules import COMBINATORS, HISTORY_TESTS

Path = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a condition, at ``path`` (relative to the condition)."""

    path: Path
    message: str
    at_key: bool = False


def value_kind(value: Any) -> str:
    """What a YAML value is, in the words of ``Shape.describe``."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _fits(shape: Shape, value: Any) -> bool:
    if value is None or shape.kind == "any":
        return True
    kind = shape.kind
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "time":
        if not isinstance(value, str):
            return False
        try:
            parse_time(value)
        except ValueError:
            return False
        return True
    if kind == "list":
        return isinstance(value, list)
    return isinstance(value, dict)


def _mismatch(op: str, value: Any, shape: Shape, field: str) -> str:
    message = f"{op}: {value!r} is {value_kind(value)}, but {field} is {shape.describe()}"
    if shape.kind == "number" and isinstance(value, str):
        try:
            float(value)
            return f"{message}; write the number without quotes: {op}: {value}"
        except ValueError:
            return f"{message}; write a number, like {op}: 150"
    if shape.kind == "time":
        return f'{message}; write a time with an offset, like "2027-02-10T21:30:00Z"'
    if shape.kind == "boolean":
        return f"{message}; write true or false without quotes"
    return message


class ConditionChecker:
    """Checks conditions against a catalogue; collects ``Problem``s."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.cat = catalogue
        self.problems: list[Problem] = []

    def fail(self, path: Path, message: str, *, at_key: bool = False) -> None:
        """Record a problem."""
        self.problems.append(Problem(path, message, at_key))

    # ------------------------------------------------------------------ names

    def event_name(self, path: Path, name: Any) -> bool:
        """Is ``name`` an event config may use? Reports it at ``path`` if not."""
        if not isinstance(name, str) or name in self.cat.events:
            return True
        close = self.cat.closest(name)
        hint = f"; did you mean {close!r}?" if close else ""
        self.fail(
            path,
            f"unknown event {name!r}{hint} (a custom event must be declared in settings.yaml: "
            f"custom_events: {{{name}: {{properties: {{...}}}}}})",
        )
        return False

    def domain_value(self, path: Path, shape: Shape, value: Any) -> None:
        """A value that names a segment, tier or trigger must name one that exists."""
        if shape.domain is None or not isinstance(value, str):
            return
        names = self.cat.domains.get(shape.domain, set())
        if value in names:
            return
        close = difflib.get_close_matches(value, sorted(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        where = {
            "segment": "segments.yaml has",
            "value_tier": "value_tiers has",
            "trigger": "triggers and campaigns are",
        }[shape.domain]
        known = ", ".join(sorted(names)) or "none"
        self.fail(path, f"unknown {shape.domain} {value!r}{hint} ({where}: {known})")

    # ------------------------------------------------------------------ conditions

    def condition(self, spec: Any, doc: Shape, path: Path = ()) -> None:
        """Check a condition map whose paths start at ``doc``."""
        if not isinstance(spec, dict):
            return
        for key, value in spec.items():
            at = (*path, key)
            if key in ("all", "any") and isinstance(value, list):
                for i, item in enumerate(value):
                    self.condition(item, doc, (*at, i))
            elif key == "not":
                self.condition(value, doc, at)
            elif key in HISTORY_TESTS:
                self.history_test(value, at)
            elif isinstance(key, str) and key not in COMBINATORS:
                self.field(key, value, doc, at)

    def history_test(self, spec: Any, path: Path) -> None:
        """``did`` / ``did_not``: a known event, and its ``where`` on that event's fields."""
        if not isinstance(spec, dict):
            return
        name = spec.get("event")
        if self.event_name((*path, "event"), name) and isinstance(name, str):
            self.condition(spec.get("where"), self.cat.history_doc(name), (*path, "where"))

    def field(self, name: str, spec: Any, doc: Shape, path: Path) -> None:
        """One ``path: value`` or ``path: {operator: value}`` entry."""
        try:
            shape, collected = resolve(doc, name)
        except PathError as exc:
            self.fail(path, str(exc), at_key=True)
            return
        if isinstance(spec, dict) and spec and all(isinstance(k, str) for k in spec):
            for op, operand in spec.items():
                self.operator(name, op, operand, shape, collected, (*path, op))
        elif isinstance(spec, list):
            self.operator(name, "in", spec, shape, collected, path)
        else:
            self.operator(name, "eq", spec, shape, collected, path)

    def operator(
        self, name: str, op: str, operand: Any, shape: Shape, collected: bool, path: Path
    ) -> None:
        """Does ``op: operand`` make sense on a field of this shape?"""
        if shape.kind == "any" or op == "exists":
            return
        listy = collected or shape.kind == "list"
        element = (shape.item or shape) if shape.kind == "list" else shape
        target = element if collected else shape
        if op in ("eq", "ne"):
            if shape.kind == "list" and not collected and not isinstance(operand, list):
                self.fail(
                    path,
                    f"{op}: {operand!r} is {value_kind(operand)}, but {name} is "
                    f"{shape.describe()}; test a member with contains: {operand}",
                )
            elif not (shape.kind == "list" and not collected):
                self.values(name, op, [operand], target, path)
        elif op in ("in", "not_in"):
            if not isinstance(operand, list):
                return  # rules reports it
            if shape.kind == "list" and not collected:
                self.fail(
                    path,
                    f"{op} compares one value, but {name} is {shape.describe()}; "
                    "use any_in: [...] to test its members",
                )
                return
            self.values(name, op, operand, target, path)
        elif op in ("gt", "gte", "lt", "lte"):
            if target.kind not in ("number", "time", "string"):
                self.fail(
                    path,
                    f"{op} compares numbers or times, but {name} is {target.describe()}",
                )
                return
            self.values(name, op, [operand], target, path)
        elif op in DATE_OPERATORS:
            if target.kind not in ("time", "string"):
                self.fail(
                    path,
                    f"{op} counts days to or from a date, but {name} is {target.describe()}; "
                    "use it on a date trait (traits.birthday) or a time (last_order_at)",
                )
        elif op == "contains":
            if listy:
                self.values(name, op, [operand], element if shape.kind == "list" else target, path)
            elif target.kind != "string":
                self.fail(
                    path,
                    f"contains tests text or a list, but {name} is {target.describe()}; "
                    "use eq, in or gte/lte",
                )
            elif not isinstance(operand, str):
                self.fail(
                    path,
                    f"contains: {operand!r} is {value_kind(operand)}, but {name} is "
                    f"{target.describe()}; write the text to look for",
                )
        elif op == "any_in":
            if not listy:
                self.fail(
                    path,
                    f"any_in tests a list, but {name} is {shape.describe()}; "
                    f"use in: [...] for one value",
                )
                return
            if isinstance(operand, list):
                self.values(name, op, operand, element if shape.kind == "list" else target, path)

    def values(self, name: str, op: str, values: list[Any], shape: Shape, path: Path) -> None:
        """Each value must fit the field's type (and name a known segment/tier/trigger)."""
        for i, value in enumerate(values):
            at = (*path, i) if op in ("in", "not_in", "any_in") and len(values) > 1 else path
            if not _fits(shape, value):
                self.fail(at, _mismatch(op, value, shape, name))
            else:
                self.domain_value(at, shape, value)
