"""The validated config models in a plain form, without pydantic: what a function reads from the
compiled-config artefact (``nudge.config.artefact``) instead of validating its files again.

``nudge validate --compile`` validates the files into the pydantic models of
``nudge.config.schema`` (the source of truth: every check lives there) and writes each model's
field values, defaults applied and values normalised as validation left them. At a cold start
each comes back as a :class:`Plain` object of the same class name: read-only attributes of the
same names and values, and the few model methods the config compiler and the handlers use
(``model_dump``, ``model_copy``, ``Step.kind``), so neither pydantic nor the schema classes are
imported. tests/unit/test_plain_config.py checks that both forms agree, field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar, get_args

# one step kind per journey step (``schema.Step``)
STEP_KINDS = ("wait", "wait_until", "wait_for", "send", "branch", "split", "goto", "exit")


def step_kind(step: Any) -> str:
    """Which of :data:`STEP_KINDS` a journey step (either form) is."""
    return next(k for k in STEP_KINDS if getattr(step, k) not in (None, False))


class Plain:
    """One validated config model as plain, read-only attributes (see the module doc)."""

    _aliases: ClassVar[dict[str, str]] = {}  # field name -> its key in the files, where they differ
    # fields typed float: pydantic writes them as floats in JSON even when the value is an int
    # (an unvalidated default such as ``holdout: 0``), and journey hashes are made of that JSON
    _floats: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "__dict__", values)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} from the compiled config is read-only")

    def __eq__(self, other: object) -> bool:
        if type(other).__name__ != type(self).__name__ or not hasattr(other, "model_dump"):
            return NotImplemented
        return bool(self.model_dump() == other.model_dump())

    __hash__ = None  # type: ignore[assignment]  # as the pydantic models: mutable-looking, unhashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def model_dump(
        self,
        *,
        mode: str = "python",
        include: set[str] | None = None,
        exclude_none: bool = False,
        by_alias: bool = False,
    ) -> dict[str, Any]:
        """The fields as a dict, as pydantic's ``model_dump`` with these arguments gives it."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if (include is not None and name not in include) or (exclude_none and value is None):
                continue
            key = self._aliases.get(name, name) if by_alias else name
            if mode == "json" and name in self._floats and type(value) is int:
                value = float(value)
            out[key] = _dump(value, mode == "json", exclude_none, by_alias)
        return out

    def model_copy(self, *, update: dict[str, Any] | None = None) -> Plain:
        """A copy with some fields replaced (as pydantic's, not validated)."""
        return type(self)({**self.__dict__, **(update or {})})


def _dump(value: Any, json: bool, exclude_none: bool, by_alias: bool) -> Any:
    if isinstance(value, Plain):
        mode = "json" if json else "python"
        return value.model_dump(mode=mode, exclude_none=exclude_none, by_alias=by_alias)
    if isinstance(value, dict):
        return {k: _dump(v, json, exclude_none, by_alias) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [_dump(v, json, exclude_none, by_alias) for v in value]
        return items if json or isinstance(value, list) else tuple(items)
    if json and isinstance(value, datetime | date):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return value


def _step_kind(self: Any) -> str:
    return step_kind(self)


# what a plain class adds to its fields: the schema models' own properties and methods
# (tests/unit/test_plain_config.py fails on one that is missing here)
BEHAVIOUR: dict[str, dict[str, Any]] = {"Step": {"kind": property(_step_kind)}}
_CLASSES: dict[str, type[Plain]] = {}


def plain_class(
    name: str, aliases: dict[str, str] | None = None, floats: list[str] | None = None
) -> type[Plain]:
    """The plain class standing for the schema model ``name``."""
    cls = _CLASSES.get(name)
    if cls is None:
        body: dict[str, Any] = {
            "_aliases": dict(aliases or {}),
            "_floats": frozenset(floats or ()),
            **BEHAVIOUR.get(name, {}),
        }
        cls = _CLASSES[name] = type(name, (Plain,), body)
    return cls


MODEL, VALUES, TUPLE = "$nudge-model", "$values", "$nudge-tuple"
ALIASES, FLOATS = "$aliases", "$floats"


def encode_model(model: Any, encode: Callable[[Any], Any]) -> dict[str, Any]:
    """A pydantic config model as the artefact stores it (``encode``: for its field values)."""
    fields = type(model).model_fields
    out: dict[str, Any] = {
        MODEL: type(model).__name__,
        VALUES: {name: encode(getattr(model, name)) for name in fields},
    }
    aliases = {name: info.alias for name, info in fields.items() if info.alias not in (None, name)}
    if aliases:
        out[ALIASES] = aliases
    floats = [
        n for n, info in fields.items() if float in (info.annotation, *get_args(info.annotation))
    ]
    if floats:
        out[FLOATS] = floats
    return out


def decode(value: dict[str, Any]) -> Any:
    """A stored model or tuple back (a ``json.loads`` object hook: inner values come first)."""
    if MODEL in value:
        return plain_class(value[MODEL], value.get(ALIASES), value.get(FLOATS))(value[VALUES])
    if TUPLE in value and len(value) == 1:
        return tuple(value[TUPLE])
    return value
