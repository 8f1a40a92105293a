"""What a condition or a template can reach, with types: the catalogue ``nudge validate`` checks
config against.

Built from the one description of each thing: event properties from the pydantic models in
``nudge.core.events`` (native, partner-added and nudge's own events), the profile from
``nudge.core.profile.PROFILE_FIELDS``, the events the Segment adapter keeps under their own names,
and what ``settings.yaml`` declares (``custom_events``, ``traits``).
"""

from __future__ import annotations

import difflib
import types
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from nudge.config import schema
from nudge.core.event_models import OWN_PROPERTY_MODELS, PROPERTY_MODELS, CartProps
from nudge.core.profile import PROFILE_FIELDS
from nudge.core.templates import STANDARD_TRAITS

SCALARS = ("string", "number", "boolean", "time")
TRAIT_HINT = "declare custom traits under settings.traits"


@dataclass
class Shape:
    """The type of a value: a scalar kind, an object with known fields, a list, or ``any``."""

    kind: str  # string | number | boolean | time | object | list | any
    fields: dict[str, Shape] = field(default_factory=dict)
    open: bool = False  # object: other keys may be present too (of any type)
    item: Shape | None = None  # list: the type of its elements
    domain: str | None = None  # the value names a segment, value_tier or trigger
    hint: str = ""  # object: how to add a field (for "unknown field" errors)

    def describe(self) -> str:
        """``a number``, ``a list of strings``, ``an object``: for messages."""
        if self.kind == "list":
            inner = self.item.kind if self.item else "any"
            if inner in ("any", "object"):
                return "a list" if inner == "any" else "a list of objects"
            return f"a list of {inner}s"
        if self.kind == "any":
            return "any value"
        return f"an {self.kind}" if self.kind[0] in "aeiou" else f"a {self.kind}"


ANY = Shape("any")


def scalar(kind: str, domain: str | None = None) -> Shape:
    """A string, number, boolean or time (optionally naming a segment, tier or trigger)."""
    return Shape(kind, domain=domain)


def obj(fields: dict[str, Shape], *, open_: bool = False, hint: str = "") -> Shape:
    """An object with these fields."""
    return Shape("object", fields=fields, open=open_, hint=hint)


def from_annotation(tp: Any) -> Shape:
    """The shape of a pydantic field annotation."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return from_annotation(args[0])
    if origin in (Union, types.UnionType):
        shapes = [from_annotation(a) for a in args if a is not type(None)]
        kinds = {s.kind for s in shapes}
        return shapes[0] if len(shapes) == 1 or (len(kinds) == 1 and "object" not in kinds) else ANY
    if origin is Literal:
        kinds = {from_annotation(type(a)).kind for a in args}
        return scalar(kinds.pop()) if len(kinds) == 1 else ANY
    if origin is list or tp is list:
        return Shape("list", item=from_annotation(args[0]) if args else ANY)
    if origin is dict or tp is dict:
        return obj({}, open_=True)
    if tp is bool:
        return scalar("boolean")
    if tp in (int, float, Decimal):  # money is read as Decimal (nudge.core.limits)
        return scalar("number")
    if tp is str:
        return scalar("string")
    if tp is datetime:
        return scalar("time")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return model_shape(tp)
    return ANY


def model_shape(model: type[BaseModel], hint: str = "") -> Shape:
    """An object with the model's fields (by alias). Closed: config may name only these."""
    fields = {
        info.alias or name: from_annotation(info.annotation)
        for name, info in model.model_fields.items()
    }
    return obj(fields, hint=hint)


def declared(kind: str) -> Shape:
    """The shape of a type named in ``settings.custom_events``."""
    if kind == "list":
        return Shape("list", item=ANY)
    if kind == "object":
        return obj({}, open_=True)
    return ANY if kind == "any" else scalar(kind)


def _segment_custom_events() -> tuple[str, ...]:
    from nudge.adapters.segment import KEPT_AS_CUSTOM

    return KEPT_AS_CUSTOM


@dataclass
class Catalogue:
    """Every event name config may use and its properties; traits; the profile; and the names
    (segments, value tiers, triggers) some values must be one of."""

    events: dict[str, Shape]
    traits: Shape
    profile: Shape
    domains: dict[str, set[str]]
    declared: set[str]  # event names settings.custom_events declares

    def closest(self, name: str) -> str | None:
        """The known event name closest to a misspelt one."""
        close = difflib.get_close_matches(name, list(self.events), n=1, cutoff=0.6)
        return close[0] if close else None

    def event_doc(self, event: str) -> Shape:
        """The event as ``when.where`` sees it: type, source, time, properties, traits..."""
        props = self.events.get(event, obj({}, open_=True))
        text = scalar("string")
        return obj(
            {
                "id": text,
                "type": text,
                "event": text,
                "source": text,
                "time": scalar("time"),
                "customer_id": text,
                "properties": props,
                "traits": self.traits,
            }
        )

    def history_doc(self, event: str) -> Shape:
        """A past event as ``did``, ``count`` and ``cancel_if`` see it: its type and properties
        (the history keeps no traits)."""
        props = self.events.get(event, obj({}, open_=True))
        hint = "the history keeps each event's type and properties only"
        return obj({"type": scalar("string"), "properties": props}, hint=hint)


def _add_hint(shape: Shape, event: str) -> Shape:
    shape.hint = (
        f"declare it in settings.yaml: custom_events: {{{event}: {{properties: {{NAME: TYPE}}}}}}"
    )
    return shape


def build_catalogue(
    settings: schema.Settings,
    segments: set[str],
    tiers: set[str],
    targets: set[str],
) -> Catalogue:
    """The catalogue for a config: its declared events, traits, segments, tiers and triggers."""
    events: dict[str, Shape] = {}
    for name, model in PROPERTY_MODELS.items():
        events[name] = _add_hint(model_shape(model), name)
    for name, model in OWN_PROPERTY_MODELS.items():
        events[name] = model_shape(model, "nudge's own event: docs/config.md lists its fields")
    events["customer_updated"] = _add_hint(obj({}), "customer_updated")
    for name in ("segment_entered", "segment_exited"):
        events[name].fields["segment"] = scalar("string", "segment")
    for key in ("from", "to"):
        events["value_tier_changed"].fields[key] = scalar("string", "value_tier")
    for name, shape in events.items():
        if "trigger" in shape.fields and name not in PROPERTY_MODELS:
            shape.fields["trigger"] = scalar("string", "trigger")
            shape.fields["chain"] = Shape("list", item=scalar("string", "trigger"))
    for name in _segment_custom_events():  # Segment track events kept with their own properties
        events[name] = obj({}, open_=True)
    for name, custom in settings.custom_events.items():
        shape = events.setdefault(name, _add_hint(obj({}), name))
        for prop, kind in custom.properties.items():
            shape.fields[prop] = declared(kind)
    trait_names = (*("email", "phone", "timezone"), *STANDARD_TRAITS)
    traits = obj(
        {
            **{t: scalar("string") for t in trait_names},
            **{t: ANY for t in settings.traits},
        },
        hint=TRAIT_HINT,
    )
    return Catalogue(
        events=events,
        traits=traits,
        profile=_profile(traits, list(settings.topics)),
        domains={"segment": segments, "value_tier": tiers, "trigger": targets},
        declared=set(settings.custom_events),
    )


def _profile(traits: Shape, topics: list[str] | None = None) -> Shape:
    cart = model_shape(CartProps)
    cart.fields["updated_at"] = scalar("time")
    number = scalar("number")
    nested = {
        "traits": traits,
        "consent": obj(
            {"email": scalar("boolean"), "sms": scalar("boolean"), "webhook": scalar("boolean")}
        ),
        "topics": obj(
            {
                t: obj(
                    {
                        "email": scalar("boolean"),
                        "sms": scalar("boolean"),
                        "webhook": scalar("boolean"),
                    }
                )
                for t in topics or ()
            },
            hint="the topics in settings.topics",
        ),
        "cart": cart,
        "segments": Shape("list", item=scalar("string", "segment")),
        "value_tier": scalar("string", "value_tier"),
        "rfm": obj({"r": number, "f": number, "m": number, "segment": scalar("string")}),
    }
    fields = {
        name: nested[kind] if kind in nested else scalar(kind)
        for name, kind in PROFILE_FIELDS.items()
    }
    return obj(fields, hint="customer conditions use profile fields (docs/config.md, Paths)")


class PathError(ValueError):
    """A path that reaches nothing: ``message`` says what is wrong and how to fix it."""


def resolve(shape: Shape, path: str) -> tuple[Shape, bool]:
    """The shape a dotted path reaches, and whether it went through a list (then the value is
    every element's value, as ``nudge.core.rules.compile_path`` collects it)."""
    current = shape
    collected = False
    walked: list[str] = []
    for part in path.split("."):
        if current.kind == "list":
            if part.isdigit() and not collected:
                current = current.item or ANY
                walked.append(part)
                continue
            collected = True
            current = current.item or ANY
        if current.kind == "any":
            return ANY, collected
        where = ".".join(walked) or "the event"
        if current.kind != "object":
            raise PathError(f"{where} is {current.describe()}; it has no field {part!r}")
        if part in current.fields:
            current = current.fields[part]
        elif current.open:
            return ANY, collected
        else:
            close = difflib.get_close_matches(part, list(current.fields), n=1, cutoff=0.6)
            if close:
                hint = f"; did you mean {'.'.join([*walked, close[0]])!r}?"
            else:
                hint = f"; known here: {', '.join(sorted(current.fields)) or 'none'}"
            extra = f" ({current.hint})" if current.hint else ""
            raise PathError(f"unknown field {'.'.join([*walked, part])!r}{hint}{extra}")
        walked.append(part)
    return current, collected
