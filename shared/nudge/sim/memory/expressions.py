"""DynamoDB expressions for the in-memory table: condition, filter, key-condition, projection
and update expressions, parsed once per text (cached) and evaluated on items in DynamoDB's JSON.

The grammar is DynamoDB's (docs: "Condition and filter expressions", "Update expressions"):
comparators ``= <> < <= > >=``, ``BETWEEN``, ``IN``, ``AND``/``OR``/``NOT`` with parentheses,
the functions ``attribute_exists``, ``attribute_not_exists``, ``attribute_type``,
``begins_with``, ``contains`` and ``size``; ``SET`` (with ``+``/``-`` and ``if_not_exists``),
``REMOVE``, ``ADD`` and ``DELETE`` clauses. Top-level attribute names only (nudge's items are
flat). A missing ``#name`` or ``:value`` placeholder, or text that does not parse, raises
``Invalid`` with the message DynamoDB gives, which the table turns into a ValidationException.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

Item = dict[str, dict[str, Any]]
Node = tuple[Any, ...]


class Invalid(Exception):
    """An expression DynamoDB would refuse (ValidationException)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<op><>|<=|>=|=|<|>|\(|\)|,|\+|-)|(?P<value>:[A-Za-z0-9_]+)"
    r"|(?P<name>#[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}
_FUNCTIONS = {
    "attribute_exists",
    "attribute_not_exists",
    "attribute_type",
    "begins_with",
    "contains",
    "size",
    "if_not_exists",
    "list_append",
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Invalid(f'Invalid expression: Syntax error; token: "{text[pos:].split()[0]}"')
        kind = m.lastgroup or ""
        word = m.group(kind)
        if kind == "name" and word.upper() in _KEYWORDS:
            kind, word = "kw", word.upper()
        out.append((kind, word))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.text = text

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, word: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (word is not None and tok[1] != word):
            got = tok[1] or "<EOF>"
            raise Invalid(f'Invalid expression: Syntax error; token: "{got}", near: "{self.text}"')
        self.i += 1
        return tok

    def done(self) -> None:
        if self.i != len(self.toks):
            self.take("<end>")

    # condition grammar: OR < AND < NOT < comparison
    def condition(self) -> Node:
        left = self.conj()
        while self.peek() == ("kw", "OR"):
            self.take()
            left = ("or", left, self.conj())
        return left

    def conj(self) -> Node:
        left = self.neg()
        while self.peek() == ("kw", "AND"):
            self.take()
            left = ("and", left, self.neg())
        return left

    def neg(self) -> Node:
        if self.peek() == ("kw", "NOT"):
            self.take()
            return ("not", self.neg())
        return self.comparison()

    def comparison(self) -> Node:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.condition()
            self.take(")")
            return inner
        kind, word = self.peek()
        if kind == "name" and word in _FUNCTIONS and word != "size":
            return self.function()
        left = self.operand()
        kind, word = self.peek()
        if kind == "op" and word in ("=", "<>", "<", "<=", ">", ">="):
            self.take()
            return ("cmp", word, left, self.operand())
        if (kind, word) == ("kw", "BETWEEN"):
            self.take()
            low = self.operand()
            self.take("AND")
            return ("between", left, low, self.operand())
        if (kind, word) == ("kw", "IN"):
            self.take()
            self.take("(")
            options = [self.operand()]
            while self.peek() == ("op", ","):
                self.take()
                options.append(self.operand())
            self.take(")")
            return ("in", left, tuple(options))
        return self.take("<comparator>")  # raises

    def function(self) -> Node:
        _, name = self.take()
        self.take("(")
        args = [self.operand()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.operand())
        self.take(")")
        return ("fn", name, tuple(args))

    def operand(self) -> Node:
        kind, word = self.take()
        if kind == "value":
            return ("value", word)
        if kind == "name" and word == "size":
            self.take("(")
            path = self.operand()
            self.take(")")
            return ("size", path)
        if kind == "name" and word in ("if_not_exists", "list_append") and self.peek()[1] == "(":
            self.i -= 1
            return self.function()
        if kind == "name":
            return ("path", word)
        self.i -= 1
        return self.take("<operand>")  # raises

    # update grammar
    def update(self) -> list[tuple[str, Node, Node | None]]:
        actions: list[tuple[str, Node, Node | None]] = []
        seen: set[str] = set()
        while self.peek()[0] != "end":
            _, clause = self.take()
            if clause not in ("SET", "REMOVE", "ADD", "DELETE") or clause in seen:
                raise Invalid(f'Invalid UpdateExpression: Syntax error; token: "{clause}"')
            seen.add(clause)
            while True:
                path = self.operand()
                if clause == "SET":
                    self.take("=")
                    value: Node | None = self.operand()
                    if self.peek() in (("op", "+"), ("op", "-")):
                        _, sign = self.take()
                        value = ("arith", sign, value, self.operand())
                elif clause in ("ADD", "DELETE"):
                    value = self.operand()
                else:
                    value = None
                actions.append((clause, path, value))
                if self.peek() != ("op", ","):
                    break
                self.take()
        if not actions:
            raise Invalid("Invalid UpdateExpression: The expression can not be empty;")
        return actions


@lru_cache(maxsize=4096)
def parse_condition(text: str) -> Node:
    """A condition, filter or key-condition expression, parsed (cached by text)."""
    parser = _Parser(text)
    node = parser.condition()
    parser.done()
    return node


@lru_cache(maxsize=1024)
def parse_update(text: str) -> tuple[tuple[str, Node, Node | None], ...]:
    """An update expression as (clause, path, operand) actions (cached by text)."""
    parser = _Parser(text)
    return tuple(parser.update())


@lru_cache(maxsize=1024)
def parse_projection(text: str) -> tuple[str, ...]:
    """A projection expression's attribute names (placeholders unresolved)."""
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise Invalid("Invalid ProjectionExpression: Syntax error; token: <EOF>")
    return names


class Context:
    """The placeholders of one request."""

    __slots__ = ("names", "used_names", "used_values", "values")

    def __init__(self, names: dict[str, str] | None, values: dict[str, Any] | None) -> None:
        self.names = names or {}
        self.values = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def name(self, token: str) -> str:
        if token.startswith("#"):
            if token not in self.names:
                raise Invalid(
                    "Value provided in ExpressionAttributeNames unused in expressions: "
                    f"An expression attribute name used in the document path is not defined; "
                    f"attribute name: {token}"
                )
            self.used_names.add(token)
            return self.names[token]
        return token

    def value(self, token: str) -> dict[str, Any]:
        if token not in self.values:
            raise Invalid(
                "Invalid expression: An expression attribute value used in expression is not "
                f"defined; attribute value: {token}"
            )
        self.used_values.add(token)
        return self.values[token]


_MISSING: dict[str, Any] = {}


def _operand(node: Node, item: Item, ctx: Context) -> dict[str, Any]:
    kind = node[0]
    if kind == "path":
        return item.get(ctx.name(node[1]), _MISSING)
    if kind == "value":
        return ctx.value(node[1])
    if kind == "size":
        value = _operand(node[1], item, ctx)
        return {"N": str(_size(value))} if value else _MISSING
    raise Invalid(f"Invalid expression: unexpected operand {kind}")


def _size(value: dict[str, Any]) -> int:
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "B":
        return len(raw)
    if kind in ("SS", "NS", "BS", "L", "M"):
        return len(raw)
    return 0


def _key(value: dict[str, Any]) -> tuple[str, Any] | None:
    """A comparable form of an attribute value (numbers as Decimal), or None if not scalar."""
    if not value:
        return None
    (kind, raw), *_ = value.items()
    if kind == "N":
        return ("N", Decimal(raw))
    if kind in ("S", "B"):
        return (kind, raw)
    return (kind, repr(raw))


_CMP = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def evaluate(node: Node, item: Item, ctx: Context) -> bool:
    """Does ``item`` (an empty dict if there is none) satisfy the condition ``node``?"""
    kind = node[0]
    if kind == "and":
        left = evaluate(node[1], item, ctx)
        right = evaluate(node[2], item, ctx)  # evaluated anyway: unknown placeholders raise
        return left and right
    if kind == "or":
        left = evaluate(node[1], item, ctx)
        right = evaluate(node[2], item, ctx)
        return left or right
    if kind == "not":
        return not evaluate(node[1], item, ctx)
    if kind == "cmp":
        a, b = _key(_operand(node[2], item, ctx)), _key(_operand(node[3], item, ctx))
        if a is None or b is None:
            return node[1] == "<>" and (a is None) != (b is None)
        if a[0] != b[0]:
            return node[1] == "<>"
        return bool(_CMP[node[1]](a[1], b[1]))
    if kind == "between":
        v, lo, hi = (_key(_operand(n, item, ctx)) for n in node[1:])
        if v is None or lo is None or hi is None or not (v[0] == lo[0] == hi[0]):
            return False
        return bool(lo[1] <= v[1] <= hi[1])
    if kind == "in":
        v = _key(_operand(node[1], item, ctx))
        return v is not None and any(v == _key(_operand(o, item, ctx)) for o in node[2])
    if kind == "fn":
        return _function(node[1], node[2], item, ctx)
    raise Invalid(f"Invalid expression: {kind} is not a condition")


def _function(name: str, args: tuple[Node, ...], item: Item, ctx: Context) -> bool:
    if name in ("attribute_exists", "attribute_not_exists"):
        if len(args) != 1 or args[0][0] != "path":
            raise Invalid(f"Invalid ConditionExpression: Incorrect number of operands; {name}")
        present = ctx.name(args[0][1]) in item
        return present if name == "attribute_exists" else not present
    values = [_operand(a, item, ctx) for a in args]
    if name == "attribute_type":
        return bool(values[0]) and next(iter(values[0])) == values[1].get("S")
    if name == "begins_with":
        a, b = _key(values[0]), _key(values[1])
        return (
            a is not None
            and b is not None
            and a[0] == b[0] in ("S", "B")
            and a[1][: len(b[1])] == b[1]
        )
    if name == "contains":
        if not values[0] or not values[1]:
            return False
        (kind, raw), *_ = values[0].items()
        needle = next(iter(values[1].values()))
        if kind in ("S", "B"):
            return isinstance(needle, type(raw)) and needle in raw
        if kind in ("SS", "NS", "BS"):
            return needle in raw
        if kind == "L":
            return values[1] in raw
        return False
    raise Invalid(f"Invalid function name; function: {name}")


def _number(value: str) -> str:
    """A number as DynamoDB returns it (no trailing zeros, no exponent)."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return str(int(d))
    return format(d.normalize(), "f")


def _set_value(node: Node, item: Item, ctx: Context) -> dict[str, Any]:
    if node[0] == "arith":
        a, b = _set_value(node[2], item, ctx), _set_value(node[3], item, ctx)
        if "N" not in a or "N" not in b:
            raise Invalid("An operand in the update expression has an incorrect data type")
        total = Decimal(a["N"]) + (Decimal(b["N"]) if node[1] == "+" else -Decimal(b["N"]))
        return {"N": _number(str(total))}
    if node[0] == "fn" and node[1] == "if_not_exists":
        current = _operand(node[2][0], item, ctx)
        return current if current else _set_value(node[2][1], item, ctx)
    if node[0] == "fn" and node[1] == "list_append":
        a, b = (_set_value(n, item, ctx) for n in node[2])
        return {"L": [*a.get("L", []), *b.get("L", [])]}
    value = _operand(node, item, ctx)
    if not value:
        raise Invalid(
            "The provided expression refers to an attribute that does not exist in the item"
        )
    return value


def apply_update(
    actions: tuple[tuple[str, Node, Node | None], ...], item: Item, ctx: Context
) -> None:
    """Apply parsed update ``actions`` to ``item`` in place (every operand is read from the
    item as it was before the update, as DynamoDB does)."""
    before = dict(item)
    for clause, path, operand in actions:
        name = ctx.name(path[1])
        if clause == "SET":
            assert operand is not None
            item[name] = _set_value(operand, before, ctx)
        elif clause == "REMOVE":
            item.pop(name, None)
        elif clause == "ADD":
            assert operand is not None
            add = _operand(operand, before, ctx)
            current = before.get(name)
            if "N" in add:
                if current is not None and "N" not in current:
                    raise Invalid("An operand in the update expression has an incorrect data type")
                base = Decimal(current["N"]) if current else Decimal(0)
                item[name] = {"N": _number(str(base + Decimal(add["N"])))}
            else:
                (kind, raw), *_ = add.items()
                if kind not in ("SS", "NS", "BS"):
                    raise Invalid(
                        "Invalid UpdateExpression: Incorrect operand type for operator or "
                        f"function; operator: ADD, operand type: {kind}"
                    )
                merged = list(dict.fromkeys([*(current or {}).get(kind, []), *raw]))
                item[name] = {kind: merged}
        elif clause == "DELETE":
            assert operand is not None
            remove = _operand(operand, before, ctx)
            current = before.get(name)
            if current:
                (kind, raw), *_ = remove.items()
                left = [v for v in current.get(kind, []) if v not in raw]
                if left:
                    item[name] = {kind: left}
                else:
                    item.pop(name, None)


def key_value(node: Node, attribute: str, ctx: Context) -> dict[str, Any] | None:
    """The value a key condition requires ``attribute`` to equal (its ``attr = :v`` conjunct)."""
    if node[0] == "and":
        return key_value(node[1], attribute, ctx) or key_value(node[2], attribute, ctx)
    if node[0] == "cmp" and node[1] == "=":
        left, right = node[2], node[3]
        if left[0] == "value":
            left, right = right, left
        if left[0] == "path" and right[0] == "value" and ctx.name(left[1]) == attribute:
            return ctx.value(right[1])
    return None
