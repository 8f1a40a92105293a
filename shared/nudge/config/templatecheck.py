"""Templates checked against what fires them: every field a template reads must exist for every
trigger or campaign that uses it (the event's fields by type, the profile, content slots).

A read wrapped in ``| default(...)`` (or tested with ``is defined``) is optional and never an
error. Reads are found by walking Jinja's syntax tree, following ``{% for x in ... %}`` loops so
``item.name`` inside ``{% for item in event.properties.items %}`` is a cart line's ``name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nudge.config.fields import ANY, Catalogue, Shape, model_shape, obj, scalar
from nudge.config.raw import ConfigError, SourceFile
from nudge.core.event_models import ProductProps
from nudge.core.profile import EMPTIED_BY, PROFILE_FIELDS
from nudge.core.together import FIELDS as COMPANION_FIELDS

Part = str | int
EACH = "[]"  # an element of a list, as a for loop binds it
OPTIONAL_FILTERS = ("default", "d")


@dataclass(frozen=True, slots=True)
class Read:
    """One field a template reads: ``chain`` from a top-level name, on template line ``line``."""

    chain: tuple[Part, ...]
    line: int
    optional: bool

    @property
    def dotted(self) -> str:
        """``event.properties.items[0].name``; a loop element is written ``items[]``."""
        out = ""
        for part in self.chain:
            if part == EACH:
                out += "[]"
            elif isinstance(part, int):
                out += f"[{part}]"
            else:
                out += f".{part}" if out else str(part)
        return out


def template_reads(source: str) -> list[Read]:
    """Every field chain ``source`` reads (syntax errors are reported elsewhere: none here)."""
    from jinja2 import TemplateSyntaxError, nodes

    from nudge.core.templates import compile_template  # the same environment the sender uses

    try:
        ast = compile_template(source).environment.parse(source)
    except TemplateSyntaxError:
        return []
    reads: list[Read] = []

    def chain(node: Any, scope: dict[str, tuple[Part, ...] | None]) -> tuple[Part, ...] | None:
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            return (node.name,)
        if isinstance(node, nodes.Getattr):
            inner = chain(node.node, scope)
            return None if inner is None else (*inner, node.attr)
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            inner = chain(node.node, scope)
            key = node.arg.value
            return None if inner is None or not isinstance(key, str | int) else (*inner, key)
        return None

    def visit(node: Any, scope: dict[str, tuple[Part, ...] | None], optional: bool) -> None:
        if isinstance(node, nodes.Name) and node.ctx != "load":
            return
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            found = chain(node, scope)
            if found is not None:
                reads.append(Read(found, node.lineno, optional))
                return
            if isinstance(node, nodes.Getitem):
                visit(node.node, scope, optional)
                visit(node.arg, scope, optional)
                return
            if isinstance(node, nodes.Getattr):
                visit(node.node, scope, optional)
                return
            return  # a local name (a macro argument, a set variable)
        if isinstance(node, nodes.Filter) and node.name in OPTIONAL_FILTERS:
            if node.node is not None:
                visit(node.node, scope, True)
            for child in (*node.args, *node.kwargs):
                visit(child, scope, optional)
            return
        if isinstance(node, nodes.Test) and node.name in ("defined", "undefined"):
            return
        if isinstance(node, nodes.For):
            visit(node.iter, scope, optional)
            inner = dict(scope)
            source_chain = chain(node.iter, scope)
            for name in _target_names(node.target):
                inner[name] = None
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = None if source_chain is None else (*source_chain, EACH)
            inner["loop"] = None
            for child in (*node.body, *node.else_):
                visit(child, inner, optional)
            if node.test is not None:
                visit(node.test, inner, optional)
            return
        if isinstance(node, nodes.Assign | nodes.AssignBlock):
            for name in _target_names(node.target):
                scope[name] = None
        if isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = dict(scope)
            for arg in getattr(node, "args", ()):
                inner[arg.name] = None
            inner.update(varargs=None, kwargs=None, caller=None)
            for child in node.body:
                visit(child, inner, optional)
            if isinstance(node, nodes.Macro):
                scope[node.name] = None
            return
        for child in node.iter_child_nodes():
            visit(child, scope, optional)

    visit(ast, {}, False)
    return reads


def _target_names(target: Any) -> Iterator[str]:
    from jinja2 import nodes

    if isinstance(target, nodes.Name):
        yield target.name
    elif isinstance(target, nodes.Tuple):
        for item in target.items:
            yield from _target_names(item)


@dataclass
class Firing:
    """What fires a message: a trigger on an event type, or a campaign (no event)."""

    label: str  # triggers/x.yaml (when.event: order_placed) | campaigns/y.yaml
    event: str | None  # None for a campaign


class TemplateChecker:
    """Checks what templates read against the context each trigger or campaign gives them."""

    def __init__(
        self,
        catalogue: Catalogue,
        content: Any,
        traits: tuple[str, ...],
        *,
        bought_together: bool = False,
    ) -> None:
        self.cat = catalogue
        self.bought_together = bought_together  # settings.recommendations.bought_together set
        slots: dict[str, Shape] = {}
        self.partial_slots: set[str] = set()
        for slot, variants in content.blocks.items():
            keys: set[str] | None = None
            for variant in variants:
                names = set(variant.data)
                keys = names if keys is None else keys & names
            slots[slot] = obj({k: ANY for k in sorted(keys or ())}, hint="not in every variant")
            if not variants or variants[-1].who is not None:
                self.partial_slots.add(slot)
        self.content = obj(slots, hint="content.yaml blocks")
        self.flat_traits = set(catalogue.traits.fields) | set(traits)

    def root(self, name: str, firing: Firing) -> Shape | None:
        """The shape of a top-level template name for this firing; None = not checked here."""
        if name == "event":
            if firing.event is None:
                return obj({}, hint="a campaign message has no event")
            return self.cat.event_doc(firing.event)
        if name == "content":
            return self.content
        if name == "unsubscribe_url":
            return scalar("string")
        if name == "recommendations":
            viewed = model_shape(ProductProps)
            viewed.fields["viewed_at"] = scalar("time")
            companion = obj({k: scalar(t) for k, t in COMPANION_FIELDS.items()})
            return obj(
                {
                    "recently_viewed": Shape("list", item=viewed),
                    "bought_together": Shape("list", item=companion),
                },
                hint="docs/config.md §7",
            )
        if name in PROFILE_FIELDS:
            return self.cat.profile.fields.get(name, ANY)
        if name in self.flat_traits:
            return ANY
        return None  # unknown names: reported once, by unknown_names

    def check(self, read: Read, firing: Firing) -> str | None:
        """Why this read fails for this firing, or None."""
        if read.optional:
            return None
        head = read.chain[0]
        if not isinstance(head, str):
            return None
        emptied = EMPTIED_BY.get(firing.event or "", ())
        if head in emptied and len(read.chain) > 1:
            return (
                f"{read.dotted}: {firing.event} empties the {head} before this message is made "
                f"(used by {firing.label}); use event.properties "
                f"(the {firing.event}'s own fields), or add | default(...)"
            )
        if head == "event" and firing.event is None and len(read.chain) > 1:
            return (
                f"event: a campaign message has no event (used by {firing.label}); "
                "use profile fields, or add | default(...)"
            )
        if read.chain[:2] == ("recommendations", "bought_together") and not self.bought_together:
            return (
                f"{read.dotted}: settings.recommendations.bought_together is not set, so the "
                f"list is always empty (used by {firing.label}); add "
                "recommendations: {bought_together: {}} to settings.yaml"
            )
        shape = self.root(head, firing)
        if shape is None:
            return None
        if head == "content" and len(read.chain) > 1 and read.chain[1] in self.partial_slots:
            return (
                f"{read.dotted}: content slot {read.chain[1]!r} has no variant for everyone "
                f"(add a last variant without who in content.yaml), or add | default(...)"
            )
        walked: list[Part] = [head]
        for part in read.chain[1:]:
            if shape.kind == "any" or shape.kind in ("string", "number", "boolean", "time"):
                return None  # a scalar's methods (.upper()) are Jinja's business
            if shape.kind == "list":
                if part == EACH or isinstance(part, int):
                    shape = shape.item or ANY
                    walked.append(part)
                    continue
                return (
                    f"{read.dotted}: {_dotted(walked)} is a list; take an element "
                    f"({_dotted(walked)}[0].{part}) or loop over it"
                )
            if not isinstance(part, str):
                return None
            if part in shape.fields:
                shape = shape.fields[part]
            elif shape.open:
                return None
            else:
                return self._unknown(read, walked, part, shape, firing)
            walked.append(part)
        return None

    @staticmethod
    def _unknown(read: Read, walked: list[Part], part: str, shape: Shape, firing: Firing) -> str:
        import difflib

        close = difflib.get_close_matches(part, list(shape.fields), n=1, cutoff=0.6)
        where = _dotted(walked)
        if close:
            hint = f"did you mean {_dotted([*walked, close[0]])!r}?"
        elif shape.fields:
            hint = f"{where} has: {', '.join(sorted(shape.fields))}."
        else:
            hint = f"{shape.hint or where + ' has no fields'}."
        context = f"a {firing.event} event" if walked[0] == "event" else where
        return (
            f"{read.dotted}: {context} has no {part!r} (used by {firing.label}); {hint} "
            "Or add | default(...)"
        )


def _dotted(parts: list[Part]) -> str:
    return Read(tuple(parts), 0, False).dotted


def locate(
    root: Path,
    src: SourceFile,
    path: tuple[Any, ...],
    line: int,
    needles: tuple[str, ...],
    message: str,
) -> ConfigError:
    """An error at template line ``line`` of the string at ``path`` in ``src``: the file's line
    (a block scalar, ``html: |``, starts on the next line) and the column of the first of
    ``needles`` found on it."""
    base = src.error(path, message)
    mark = src.located.mark(tuple(path), key=False)
    try:
        lines = (root / src.rel).read_text(encoding="utf-8").splitlines()
    except OSError:
        return base
    first = lines[mark.line - 1] if mark.line <= len(lines) else ""
    block = first[mark.column - 1 : mark.column] in ("|", ">")
    number = mark.line + line if block else mark.line + line - 1
    if not 1 <= number <= len(lines):
        return base
    text = lines[number - 1]
    start = mark.column - 1 if number == mark.line else 0
    column = mark.column if number == mark.line else 1
    for needle in needles:
        found = text.find(needle, start) if needle else -1
        if found >= 0:
            column = found + 1 + (1 if needle.startswith(".") else 0)
            break
    return ConfigError(src.rel, number, column, base.key, message)
