"""Message templates: Jinja2 in an immutable sandbox, undefined names are errors, HTML autoescaped.

Templates are compiled once per container: compiled templates are cached by their source (a
config deployed later with other text compiles its own; an unchanged one is never recompiled).
``unknown_names`` lets ``nudge validate`` catch a template that names a variable the profile does
not have, before any customer sees it.

Rendering is bounded (docs/config.md, "Template limits"): Jinja's ``ImmutableSandboxedEnvironment``
(no attribute of Python internals, no method that changes a list, dict or set), each render gets
its own deep copy of the context (nothing one render does is seen by the next), at most
``MAX_RENDER_SECONDS`` of wall time and ``MAX_OUTPUT_CHARS`` characters per rendered part, and
``*``, ``**`` and ``+`` refuse results larger than that. Whatever goes wrong while rendering
(recursion, a sandbox violation, a limit, any exception) is a ``TemplateError`` with the reason.
"""

from __future__ import annotations

import contextlib
import copy
import signal
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nudge.core.catalog import recently_viewed
from nudge.core.profile import PROFILE_FIELDS  # what templates see at the top level

if TYPE_CHECKING:  # jinja2 is imported lazily: only dispatch and validate need it
    from jinja2 import Template as JinjaTemplate

STANDARD_TRAITS = ("first_name", "last_name", "birthday", "locale")
EXTRA_NAMES = ("event", "content", "unsubscribe_url", "recommendations")
MAX_RENDER_SECONDS = 1.0  # wall time for one rendered part (subject, html or text)
MAX_OUTPUT_CHARS = 200_000  # characters in one rendered part
_deadline: ContextVar[float] = ContextVar("nudge_template_deadline", default=float("inf"))


class TemplateError(ValueError):
    """A template that does not compile or does not render."""


class _OverTime(Exception):
    """Raised inside a render that ran past its deadline."""


def _check_time() -> None:
    if time.monotonic() > _deadline.get():
        raise _OverTime


def _binop_too_big(operator: str, left: Any, right: Any) -> bool:
    """Would ``left <operator> right`` build a string or list over ``MAX_OUTPUT_CHARS``, or an
    integer of thousands of digits? Answered before computing it."""
    sequences = (str, list, tuple)
    if operator == "*":
        return any(
            isinstance(seq, sequences) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT_CHARS
            for seq, n in ((left, right), (right, left))
        )
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        return abs(left) > 1 and right * abs(left).bit_length() > 4096 * 4
    if operator == "+" and isinstance(left, sequences) and isinstance(right, type(left)):
        return len(left) + len(right) > MAX_OUTPUT_CHARS
    return False


def known_names(custom_traits: tuple[str, ...] = ()) -> frozenset[str]:
    """Every top-level name a template may use."""
    return frozenset((*PROFILE_FIELDS, *STANDARD_TRAITS, *EXTRA_NAMES, *custom_traits))


@lru_cache(maxsize=2)
def _environment(html: bool) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class KeysFirst(ImmutableSandboxedEnvironment):
        """``a.b`` looks up the key ``b`` before the attribute (``items`` is the cart's items).

        Every lookup and call checks the render's deadline; ``*``, ``**`` and ``+`` refuse
        results over the output size limit before computing them."""

        intercepted_binops = frozenset(("*", "**", "+"))

        def getattr(self, obj: Any, attribute: str) -> Any:
            _check_time()
            if isinstance(obj, dict):
                try:
                    return obj[attribute]
                except KeyError:
                    pass
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            _check_time()
            return super().getitem(obj, argument)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            _check_time()
            return super().call(__context, __obj, *args, **kwargs)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_time()
            if _binop_too_big(operator, left, right):
                raise SecurityError(f"{operator!r}: result over the template size limit")
            return super().call_binop(context, operator, left, right)

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
    """Render a deep copy of ``context`` within the time and size limits; anything that goes
    wrong (undefined name, sandbox violation, recursion, a limit) becomes ``TemplateError``."""
    from jinja2 import TemplateError as JinjaError

    own = copy.deepcopy(context)  # nothing a render does is seen by the next one
    parts: list[str] = []
    size = 0
    token = _deadline.set(time.monotonic() + MAX_RENDER_SECONDS)
    try:
        with _alarm(MAX_RENDER_SECONDS):
            for chunk in template.generate(own):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise TemplateError(
                        f"output over the size limit ({MAX_OUTPUT_CHARS} characters)"
                    )
                _check_time()
                parts.append(chunk)
    except TemplateError:
        raise
    except _OverTime:
        raise TemplateError(f"render over the time limit ({MAX_RENDER_SECONDS:g} s)") from None
    except RecursionError:
        raise TemplateError("template recurses without end (recursion limit)") from None
    except JinjaError as exc:
        raise TemplateError(str(exc)) from None
    except Exception as exc:  # a template is configuration: whatever it raises is its error
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None
    finally:
        _deadline.reset(token)
    return "".join(parts)


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """A hard stop for loops that neither call nor output anything: SIGALRM raises in the render
    after ``seconds``. Only on the main thread (where Lambda runs the handler) and when no other
    timer is set; elsewhere the deadline checked on every lookup, call and output chunk holds."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )
    if not usable:
        yield
        return

    def stop(_signum: int, _frame: Any) -> None:
        raise _OverTime

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


def template_context(
    view: dict[str, Any],
    event: dict[str, Any] | None,
    content: dict[str, Any],
    unsubscribe_url: str,
    bought_together: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What templates see: profile fields at top level, ``traits.*`` flattened, and extras
    (``bought_together``: ``recommendations.bought_together``, read by the caller from the
    daily recompute's lists, ``nudge.core.together``; empty when not given)."""
    context: dict[str, Any] = {}
    traits = view.get("traits") or {}
    context.update(traits)
    for name in PROFILE_FIELDS:
        if name in view:
            context[name] = view[name]
    context["event"] = event or {}
    context["content"] = content
    context["unsubscribe_url"] = unsubscribe_url
    context["recommendations"] = {
        "recently_viewed": recently_viewed(view),
        "bought_together": list(bought_together or ()),
    }
    return context
