"""Message templates: Jinja2 in a sandbox, undefined names are errors, HTML autoescaped.

Templates are compiled once per container: compiled templates are cached by their source (a
config deployed later with other text compiles its own; an unchanged one is never recompiled). ``unknown_names`` lets ``nudge validate`` catch a
template that names a variable the profile does not have, before any customer sees it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nudge.core.profile import PROFILE_FIELDS  # what templates see at the top level

if TYPE_CHECKING:  # jinja2 is imported lazily: only dispatch and validate need it
    from jinja2 import Template as JinjaTemplate

STANDARD_TRAITS = ("first_name", "last_name", "birthday", "locale")
EXTRA_NAMES = ("event", "content", "unsubscribe_url")


class TemplateError(ValueError):
    """A template that does not compile or does not render."""


def known_names(custom_traits: tuple[str, ...] = ()) -> frozenset[str]:
    """Every top-level name a template may use."""
    return frozenset((*PROFILE_FIELDS, *STANDARD_TRAITS, *EXTRA_NAMES, *custom_traits))


@lru_cache(maxsize=2)
def _environment(html: bool) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    class KeysFirst(SandboxedEnvironment):
        """``a.b`` looks up the key ``b`` before the attribute (``items`` is the cart's items)."""

        def getattr(self, obj: Any, attribute: str) -> Any:
            if isinstance(obj, dict):
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return super().getattr(obj, attribute)

    return KeysFirst(undefined=StrictUndefined, autoescape=html, trim_blocks=True)


def compile_template(source: str, *, html: bool = False) -> JinjaTemplate:
    """Compile one template string, once per container: the same source (and escaping) gives
    the same compiled template; raises ``TemplateError`` with Jinja's message."""
    return _compiled(source, html)


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> JinjaTemplate:
    from jinja2 import TemplateSyntaxError

    try:
        return _environment(html).from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None


def unknown_names(source: str, allowed: frozenset[str]) -> list[str]:
    """Names the template reads that are not in ``allowed`` (sorted)."""
    from jinja2 import TemplateSyntaxError, meta

    env = _environment(False)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
    return sorted(n for n in meta.find_undeclared_variables(ast) if n not in allowed)


def render(template: JinjaTemplate, context: dict[str, Any]) -> str:
    """Render; any Jinja error (undefined name, sandbox violation) becomes ``TemplateError``."""
    from jinja2 import TemplateError as JinjaError

    try:
        return template.render(context)
    except JinjaError as exc:
        raise TemplateError(str(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def template_context(
    view: dict[str, Any],
    event: dict[str, Any] | None,
    content: dict[str, Any],
    unsubscribe_url: str,
) -> dict[str, Any]:
    """What templates see: profile fields at top level, ``traits.*`` flattened, and extras."""
    context: dict[str, Any] = {}
    traits = view.get("traits") or {}
    context.update(traits)
    for name in PROFILE_FIELDS:
        if name in view:
            context[name] = view[name]
    context["event"] = event or {}
    context["content"] = content
    context["unsubscribe_url"] = unsubscribe_url
    return context
