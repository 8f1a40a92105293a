"""Conditions (docs/config.md §4), compiled once into closures and evaluated fast.

A condition is a map of field path to a value (equality) or to operators, combined with
``all``/``any``/``not``; audience conditions may also test history with ``did``/``did_not``.
Paths into lists collect the values of every element (``properties.items.category``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nudge.core.clock import iso
from nudge.core.dates import DATE_OPERATORS, check_operand, date_test, zone_of
from nudge.core.durations import seconds

OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "any_in",
    "exists",
    *DATE_OPERATORS,
)
COMBINATORS = ("all", "any", "not")
HISTORY_TESTS = ("did", "did_not")
_MISSING = object()


class RuleError(ValueError):
    """A condition that cannot be compiled; ``path`` is relative to the condition."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass(slots=True)
class Ctx:
    """What a condition sees: a document, and for audience tests the history and the time."""

    doc: dict[str, Any]
    history: Sequence[dict[str, Any]] = field(default_factory=tuple)
    now: float = 0.0


Check = Callable[[Ctx], bool]


def compile_path(path: str) -> Callable[[Any], tuple[Any, bool]]:
    """A getter for a dotted path; returns ``(value, collected)``.

    ``collected`` is True when the path went through a list and the value is the list of every
    element's value. Keys win over attributes: ``items`` is a key, never ``dict.items``.
    """
    parts = tuple(path.split("."))

    def get(doc: Any) -> tuple[Any, bool]:
        current: Any = doc
        collected = False
        for part in parts:
            if collected:
                nxt = []
                for item in current:
                    if isinstance(item, dict) and part in item:
                        value = item[part]
                        if isinstance(value, list):
                            nxt.extend(value)
                        else:
                            nxt.append(value)
                current = nxt
                continue
            if isinstance(current, dict):
                current = current.get(part, _MISSING)
                if current is _MISSING:
                    return _MISSING, False
            elif isinstance(current, list):
                if part.isdigit():
                    index = int(part)
                    if index >= len(current):
                        return _MISSING, False
                    current = current[index]
                else:
                    collected = True
                    nxt = []
                    for item in current:
                        if isinstance(item, dict) and part in item:
                            nxt.append(item[part])
                    current = nxt
            else:
                return _MISSING, False
        return current, collected

    return get


def _num(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _compare(op: str, operand: Any) -> Callable[[Any], bool]:
    if op == "eq":
        return lambda v: v == operand
    if op == "ne":
        return lambda v: v != operand
    if op in ("in", "not_in"):
        if not isinstance(operand, list):
            raise RuleError((op,), f"{op} needs a list, like {op}: [a, b]")
        members = set(map(_hashable, operand))
        if op == "in":
            return lambda v: _hashable(v) in members
        return lambda v: _hashable(v) not in members
    if op in ("gt", "gte", "lt", "lte"):
        if isinstance(operand, bool) or not isinstance(operand, int | float | str):
            raise RuleError((op,), f"{op} needs a number or a time, not {operand!r}")

        def ordered(v: Any, _op: str = op) -> bool:
            if v is None or isinstance(v, bool):
                return False
            left = _num(v) if isinstance(operand, int | float) else v
            try:
                if _op == "gt":
                    return bool(left > operand)
                if _op == "gte":
                    return bool(left >= operand)
                if _op == "lt":
                    return bool(left < operand)
                return bool(left <= operand)
            except TypeError:
                return False

        return ordered
    raise RuleError((op,), f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _field_check(path: str, spec: Any, zone: str = "UTC") -> Check:
    get = compile_path(path)
    if isinstance(spec, dict) and spec and all(isinstance(k, str) for k in spec):
        unknown = [k for k in spec if k not in OPERATORS]
        if unknown:
            raise RuleError(
                (path, unknown[0]),
                f"unknown operator {unknown[0]!r}; use one of {', '.join(OPERATORS)}",
            )
        checks = [_operator(path, op, operand, get, zone) for op, operand in spec.items()]
        if len(checks) == 1:
            return checks[0]
        return lambda ctx: all(c(ctx) for c in checks)
    if isinstance(spec, list):
        return _operator(path, "in", spec, get)
    return _operator(path, "eq", spec, get)


def _operator(
    path: str,
    op: str,
    operand: Any,
    get: Callable[[Any], tuple[Any, bool]],
    zone: str = "UTC",
) -> Check:
    if op in DATE_OPERATORS:
        return _date_operator(path, op, operand, get, zone)
    if op == "exists":
        if not isinstance(operand, bool):
            raise RuleError((path, op), "exists needs true or false")

        def exists(ctx: Ctx) -> bool:
            value, collected = get(ctx.doc)
            present = value is not _MISSING and value is not None and (not collected or value)
            return present == operand

        return exists
    if op == "contains":

        def contains(ctx: Ctx) -> bool:
            value, _ = get(ctx.doc)
            if isinstance(value, str):
                return isinstance(operand, str) and operand in value
            if isinstance(value, list):
                return operand in value
            return False

        return contains
    if op == "any_in":
        if not isinstance(operand, list):
            raise RuleError((path, op), "any_in needs a list, like any_in: [jewelry, fragrance]")
        wanted = set(map(_hashable, operand))

        def any_in(ctx: Ctx) -> bool:
            value, _ = get(ctx.doc)
            if isinstance(value, list):
                return any(_hashable(v) in wanted for v in value)
            return value is not _MISSING and _hashable(value) in wanted

        return any_in
    try:
        compare = _compare(op, operand)
    except RuleError as err:
        raise RuleError((path, *err.path), err.message) from None
    negative = op in ("ne", "not_in")

    def check(ctx: Ctx) -> bool:
        value, collected = get(ctx.doc)
        if value is _MISSING:
            return negative
        if collected:
            values = value
            return all(map(compare, values)) if negative else any(map(compare, values))
        return compare(value)

    return check


def _date_operator(
    path: str, op: str, operand: Any, get: Callable[[Any], tuple[Any, bool]], zone: str
) -> Check:
    """``anniversary_in_days`` / ``days_since`` / ``days_until`` (``nudge.core.dates``), in the
    customer's ``timezone`` if the document has one, else ``zone`` (the shop's)."""
    problem = check_operand(op, operand)
    if problem:
        raise RuleError((path, op), problem)
    test = date_test(op, operand)
    default = zone_of(zone)

    def dated(ctx: Ctx) -> bool:
        value, collected = get(ctx.doc)
        if value is _MISSING or value is None:
            return False
        tz = zone_of(ctx.doc.get("timezone"), zone) if ctx.doc.get("timezone") else default
        if collected:
            return any(test(v, ctx.now, tz) for v in value)
        return test(value, ctx.now, tz)

    return dated


def compile_condition(spec: Any, *, audience: bool = False, zone: str = "UTC") -> Check:
    """Compile a condition map; raises ``RuleError`` with the offending path. Date operators
    count local days in the document's ``timezone``, else in ``zone`` (the shop's)."""
    if spec is None:
        return lambda ctx: True
    if not isinstance(spec, dict):
        raise RuleError((), "a condition is a map of field: value or field: {operator: value}")
    checks: list[Check] = []
    for key, value in spec.items():
        if not isinstance(key, str):
            raise RuleError((key,), "condition keys are field paths like properties.value")
        try:
            if key in ("all", "any"):
                if not isinstance(value, list):
                    raise RuleError((), f"{key} needs a list of conditions")
                parts = []
                for i, item in enumerate(value):
                    try:
                        parts.append(compile_condition(item, audience=audience, zone=zone))
                    except RuleError as err:
                        raise RuleError((i, *err.path), err.message) from None
                checks.append(all_of(parts) if key == "all" else any_of(parts))
            elif key == "not":
                inner = compile_condition(value, audience=audience, zone=zone)
                checks.append(negate(inner))
            elif key in HISTORY_TESTS:
                if not audience:
                    raise RuleError((), f"{key} tests a customer's history; use it in who/segments")
                test = compile_history_test(value)
                checks.append(test if key == "did" else negate(test))
            else:
                checks.append(_field_check(key, value, zone))
        except RuleError as err:
            raise RuleError((key, *err.path), err.message) from None
    return all_of(checks)


def all_of(checks: list[Check]) -> Check:
    """A check that holds when every one of ``checks`` holds."""
    if len(checks) == 1:
        return checks[0]
    return lambda ctx: all(c(ctx) for c in checks)


def any_of(checks: list[Check]) -> Check:
    """A check that holds when at least one of ``checks`` holds."""
    return lambda ctx: any(c(ctx) for c in checks)


def negate(check: Check) -> Check:
    """The opposite check."""
    return lambda ctx: not check(ctx)


_HISTORY_KEYS = ("event", "where", "within", "at_least")
SAME_MESSAGE_ONLY = (
    "same_message belongs in a cancel_if item only, like cancel_if: "
    "[{event: email_opened, same_message: true}]"
)


def compile_history_test(spec: Any) -> Check:
    """``{event: X, where: {...}, within: 48h, at_least: N}``: did the customer do X?"""
    if not isinstance(spec, dict) or "event" not in spec:
        raise RuleError((), "did/did_not need at least event: NAME, like {event: order_placed}")
    for key in spec:
        if key == "same_message":
            raise RuleError((key,), f"unknown key 'same_message': {SAME_MESSAGE_ONLY}")
        if key not in _HISTORY_KEYS:
            raise RuleError((key,), f"unknown key {key!r}; use {', '.join(_HISTORY_KEYS)}")
    name = spec["event"]
    if not isinstance(name, str):
        raise RuleError(("event",), "event must be an event name")
    try:
        where = compile_condition(spec.get("where"))
    except RuleError as err:
        raise RuleError(("where", *err.path), err.message) from None
    window: float | None = None
    if spec.get("within") is not None:
        try:
            window = seconds(spec["within"])
        except ValueError as exc:
            raise RuleError(("within",), str(exc)) from None
    at_least = spec.get("at_least", 1)
    if not isinstance(at_least, int) or isinstance(at_least, bool) or at_least < 1:
        raise RuleError(("at_least",), "at_least needs a whole number of 1 or more")
    has_where = spec.get("where") is not None

    def did(ctx: Ctx) -> bool:
        since = ctx.now - window if window is not None else float("-inf")
        found = 0
        for entry in reversed(ctx.history):
            ts = entry["ts"]
            if ts > ctx.now:
                continue
            if ts < since:
                break
            if entry["type"] != name:
                continue
            if has_where and not where(Ctx(entry)):
                continue
            found += 1
            if found >= at_least:
                return True
        return False

    return did


# Why a condition does not hold, in words, with the value that made it fail. Only asked when a
# customer is left out (an ``audience`` decision), so it may be slow: it walks the spec again.

_FAILED_AS = {"gt": "<=", "gte": "<", "lt": ">=", "lte": ">"}


def shown(value: Any) -> str:
    """A value as a decision's ``because`` shows it: ``320`` not ``320.0``, lists as JSON."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def _failed_operator(path: str, op: str, operand: Any, value: Any) -> str:
    if op == "exists":
        return f"{path} is missing" if operand else f"{path} is present ({shown(value)})"
    if value is _MISSING or value is None:
        return f"{path} is missing (needs {op} {shown(operand)})"
    actual = shown(value)
    if op in DATE_OPERATORS:
        return f"{path} {actual}: not {op} {shown(operand)}"
    if op in _FAILED_AS:
        return f"{path} {actual} {_FAILED_AS[op]} {shown(operand)}"
    if op == "eq":
        return f"{path} is {actual}, not {shown(operand)}"
    if op == "ne":
        return f"{path} is {actual}"
    if op == "in":
        return f"{path} {actual} is not one of {shown(operand)}"
    if op == "not_in":
        return f"{path} {actual} is one of {shown(operand)}"
    if op == "contains":
        return f"{path} {actual} does not contain {shown(operand)}"
    return f"{path} {actual} has none of {shown(operand)}"  # any_in


def _why_not_history(key: str, spec: dict[str, Any], ctx: Ctx) -> str:
    """``did`` that found too few events, or ``did_not`` that found one, with what was found."""
    within = f" within {spec['within']}" if spec.get("within") else ""
    where = compile_condition(spec.get("where"))
    since = ctx.now - seconds(spec["within"]) if spec.get("within") else float("-inf")
    found = [
        e
        for e in ctx.history
        if e["type"] == spec["event"] and since <= e["ts"] <= ctx.now and where(Ctx(e))
    ]
    test = f"{key} {spec['event']}"
    if spec.get("where"):
        test += f" where {shown(spec['where'])}"
    test += within
    if key == "did_not":
        return (
            f"{test}: they did, at {iso(datetime.fromtimestamp(found[-1]['ts'], UTC))}"
            if found
            else test
        )
    at_least = spec.get("at_least", 1)
    return f"{test}: found {len(found)}, needs {at_least}"


def why_not(spec: Any, ctx: Ctx, *, audience: bool = False) -> str | None:
    """The first part of condition ``spec`` that does not hold for ``ctx``, in words with the
    actual value (``lifetime_value 320 < 500``); None when the whole condition holds."""
    if not isinstance(spec, dict):
        return None
    for key, value in spec.items():
        if key == "all":
            for item in value:
                reason = why_not(item, ctx, audience=audience)
                if reason:
                    return reason
        elif key == "any":
            reasons = [why_not(item, ctx, audience=audience) for item in value]
            if all(reasons):
                return "none of: " + "; ".join(r for r in reasons if r)
        elif key == "not":
            if compile_condition(value, audience=audience)(ctx):
                return f"not {shown(value)}: it holds"
        elif key in HISTORY_TESTS:
            holds = compile_history_test(value)(ctx)
            if holds != (key == "did"):
                return _why_not_history(key, value, ctx)
        else:
            reason = _why_not_field(key, value, ctx)
            if reason:
                return reason
    return None


def _why_not_field(path: str, spec: Any, ctx: Ctx) -> str | None:
    if isinstance(spec, dict) and spec and all(isinstance(k, str) for k in spec):
        ops = list(spec.items())
    elif isinstance(spec, list):
        ops = [("in", spec)]
    else:
        ops = [("eq", spec)]
    get = compile_path(path)
    for op, operand in ops:
        if not _operator(path, op, operand, get)(ctx):
            return _failed_operator(path, op, operand, get(ctx.doc)[0])
    return None


def why_not_who(
    items: Sequence[Any], ctx: Ctx, segment_where: dict[str, Any] | None = None
) -> str | None:
    """Why a customer is outside an audience (the items of a ``who``, with ``segment``,
    ``not_segment``, ``value_tier``, ``where``, ``did``, ``did_not`` attributes), naming the
    first test that fails and the value behind it: ``not in segment vip: lifetime_value 320 <
    500``. ``segment_where`` (segment name to its ``where``) explains a missing segment."""
    segments = set(ctx.doc.get("segments") or ())
    for item in items:
        for name in ("segment", "not_segment"):
            value = getattr(item, name, None)
            if value is None:
                continue
            wanted = [value] if isinstance(value, str) else list(value)
            inside = segments.intersection(wanted)
            if name == "segment" and not inside:
                label = " or ".join(wanted)
                why = None
                if len(wanted) == 1 and segment_where and wanted[0] in segment_where:
                    why = why_not(segment_where[wanted[0]], ctx, audience=True)
                return f"not in segment {label}" + (f": {why}" if why else "")
            if name == "not_segment" and inside:
                return f"in segment {', '.join(sorted(inside))} (not_segment)"
        tiers = getattr(item, "value_tier", None)
        if tiers is not None:
            wanted = [tiers] if isinstance(tiers, str) else list(tiers)
            if ctx.doc.get("value_tier") not in wanted:
                return (
                    f"value_tier is {shown(ctx.doc.get('value_tier'))}, not {' or '.join(wanted)}"
                )
        for name in ("where", "did", "did_not"):
            value = getattr(item, name, None)
            if value is None:
                continue
            why = why_not(value if name == "where" else {name: value}, ctx, audience=True)
            if why:
                return why
    return None
