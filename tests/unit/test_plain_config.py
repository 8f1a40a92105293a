"""The two forms of a validated config agree (docs/deploy.md, "The compiled config"): the pydantic
models ``nudge validate`` builds from the YAML, and the plain objects a function rebuilds from the
compiled-config artefact without pydantic. Every field of every model, recursively, has the same
value and type in both, for the sample config and one that uses every kind of config model; a
schema model or field nothing here exercises, or a model property the plain form lacks, fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from nudge.config import load_config, schema
from nudge.config.artefact import read_artefact, write_artefact
from nudge.config.journeys import definition_hash
from nudge.config.load import read_config
from nudge.config.plain import BEHAVIOUR, Plain
from nudge.config.raw import RawConfig
from tests.conftest import CONFIG, make_config
from tests.scenarios.test_journey_steps import OFFER
from tests.scenarios.test_locales import TEMPLATE
from tests.scenarios.test_time_triggers import MILESTONES
from tests.scenarios.test_webhook import PUSH

SETTINGS = """
webhooks:
  crm: {url: "https://crm.example/hooks", description: the shop's push service}
catalog: {window: 30d, max_fanout: 1000}
replenishment: {interval: 45d, lead: 3d, min_buyers: 3}
recommendations: {bought_together: {top: 5, min_customers: 3, show: 4}}
ingest: {max_future: 2h, max_age: 30d}
"""
SEGMENTS = (
    MILESTONES + "rfm:\n  - {name: Best, r: [4, 5], f: [4, 5], m: [4, 5]}\n  - {name: Rest}\n"
)
# YAML timestamps (not strings) and a date in free-form data, which JSON has no type for
DATED = """id: dated
when: {event: product_viewed, where: {properties.price: {gte: 10}}}
active: {from: 2027-02-01T00:00:00Z, until: 2027-03-01T00:00:00+01:00}
channel: email
email: {subject: "Still thinking?", text: "Unsubscribe: {{ unsubscribe_url }}"}
"""
CONTENT = "  sale:\n    - {data: {headline: Spring sale, ends: 2027-03-31, ratio: 0.5, big: 10}}\n"

# schema models the configs below may leave out: none (each must be exercised)
MODELS = {
    name: cls
    for name, cls in vars(schema).items()
    if isinstance(cls, type)
    and issubclass(cls, schema.Strict)
    and cls is not schema.Strict
    and cls.__module__ == schema.__name__
}


def _every_kind(tmp_path: Path) -> Path:
    return make_config(
        tmp_path,
        **{
            "settings.yaml": (CONFIG / "settings.yaml").read_text() + SETTINGS,
            "segments.yaml": (CONFIG / "segments.yaml").read_text() + SEGMENTS,
            "triggers/order_push.yaml": PUSH,
            "triggers/offer.yaml": OFFER,
            "triggers/dated.yaml": DATED,
            "templates/cart_reminder.yaml": TEMPLATE,
            "content.yaml": (CONFIG / "content.yaml").read_text() + CONTENT,
        },
    )


@pytest.fixture(params=["sample", "every_kind"])
def both(request, tmp_path) -> tuple[RawConfig, RawConfig]:
    """The config read from its YAML (pydantic) and from its artefact (plain)."""
    config = make_config(tmp_path) if request.param == "sample" else _every_kind(tmp_path)
    write_artefact(config)
    stored = read_artefact(config)
    assert stored is not None
    return read_config(config), stored


def _models(raw: RawConfig) -> list[tuple[str, Any]]:
    return [
        ("settings", raw.settings),
        ("segments", raw.segments),
        ("content", raw.content),
        *((src.rel, model) for model, src in raw.triggers),
        *((src.rel, model) for model, src in raw.campaigns),
        *((src.rel, model) for model, src in raw.templates.values()),
    ]


def _same(validated: Any, plain: Any, at: str, seen: set[str]) -> None:
    """``plain`` holds what ``validated`` holds, value and type, down to every field."""
    if isinstance(validated, BaseModel):
        name = type(validated).__name__
        seen.add(name)
        assert isinstance(plain, Plain) and type(plain).__name__ == name, at
        fields = type(validated).model_fields
        assert set(vars(plain)) == set(fields), at  # no field missing, none extra
        for field in fields:
            _same(getattr(validated, field), getattr(plain, field), f"{at}.{field}", seen)
        return
    assert type(plain) is type(validated), f"{at}: {type(plain)} != {type(validated)}"
    if isinstance(validated, dict):
        assert list(plain) == list(validated), at
        for key, value in validated.items():
            _same(value, plain[key], f"{at}.{key}", seen)
    elif isinstance(validated, list | tuple):
        assert len(plain) == len(validated), at
        for i, (mine, theirs) in enumerate(zip(validated, plain, strict=True)):
            _same(mine, theirs, f"{at}[{i}]", seen)
    else:
        assert plain == validated, at


def test_every_field_has_the_same_value_in_both_forms(both):
    validated, plain = both
    assert [rel for rel, _ in _models(plain)] == [rel for rel, _ in _models(validated)]
    assert set(plain.files) == set(validated.files)
    seen: set[str] = set()
    for (rel, mine), (_, theirs) in zip(_models(validated), _models(plain), strict=True):
        _same(mine, theirs, rel, seen)


def test_the_configs_exercise_every_schema_model(tmp_path):
    seen: set[str] = set()
    for config in (make_config(tmp_path / "a"), _every_kind(tmp_path / "b")):
        for _rel, model in _models(read_config(config)):
            _walk(model, seen)
    assert set(MODELS) - seen == set()


def _walk(value: Any, seen: set[str]) -> None:
    if isinstance(value, BaseModel):
        seen.add(type(value).__name__)
        for field in type(value).model_fields:
            _walk(getattr(value, field), seen)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, seen)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, seen)


@pytest.mark.parametrize("mode", ["python", "json"])
@pytest.mark.parametrize("exclude_none", [False, True])
@pytest.mark.parametrize("by_alias", [False, True])
def test_dumps_are_the_same_in_both_forms(both, mode, exclude_none, by_alias):
    """What the compiler dumps (history policy, journey hashes, RFM rules) comes out the same."""
    validated, plain = both
    for (rel, mine), (_, theirs) in zip(_models(validated), _models(plain), strict=True):
        options: dict[str, Any] = {"mode": mode, "exclude_none": exclude_none, "by_alias": by_alias}
        # as text: 0 == 0.0 in Python, not in the JSON a journey's hash is made of
        assert _text(theirs.model_dump(**options)) == _text(mine.model_dump(**options)), rel


def _text(dump: dict[str, Any]) -> str:
    return json.dumps(dump, sort_keys=True, default=repr)


def test_a_journeys_definition_hash_is_the_same_in_both_forms(both):
    validated, plain = both
    journeys = [(m, t) for (m, _), (t, _) in zip(validated.triggers, plain.triggers, strict=True)]
    journeys = [(m, t) for m, t in journeys if m.steps is not None]
    assert journeys  # both configs have one
    for mine, theirs in journeys:
        assert definition_hash(theirs) == definition_hash(mine)


def test_every_schema_property_has_its_plain_counterpart():
    """A property or method a schema model defines (``Step.kind``) is in ``plain.BEHAVIOUR``,
    and answers the same (the walk above compares fields, not these)."""
    for name, cls in MODELS.items():
        own = {
            key
            for key, value in vars(cls).items()
            if not key.startswith("_")
            and not key.startswith("model_")
            and (isinstance(value, property) or callable(value))
        }
        assert own <= set(BEHAVIOUR.get(name, {})), name


def test_a_step_kind_is_the_same_in_both_forms(tmp_path):
    config = _every_kind(tmp_path)
    write_artefact(config)
    stored = read_artefact(config)
    assert stored is not None
    for (mine, _), (theirs, _) in zip(read_config(config).triggers, stored.triggers, strict=True):
        for a, b in zip(mine.steps or [], theirs.steps or [], strict=True):
            assert (b.id, b.kind) == (a.id, a.kind)


def test_the_compiled_config_is_the_same_from_either_form(tmp_path):
    config = _every_kind(tmp_path)
    from_yaml = load_config(config)
    write_artefact(config)
    from_artefact = load_config(config)
    assert isinstance(from_artefact.settings, Plain)
    assert from_artefact.history == from_yaml.history
    assert from_artefact.rfm_rules == from_yaml.rfm_rules
    assert from_artefact.milestones == from_yaml.milestones
    assert from_artefact.winner_splits == from_yaml.winner_splits
    assert sorted(from_artefact.by_event) == sorted(from_yaml.by_event)
    for name, trigger in from_yaml.triggers.items():
        theirs = from_artefact.triggers[name]
        assert theirs.model == trigger.model
        assert (theirs.wait, theirs.cooldown, theirs.expires, theirs.max_age) == (
            trigger.wait,
            trigger.cooldown,
            trigger.expires,
            trigger.max_age,
        )
        if trigger.journey is not None:
            assert theirs.journey is not None and theirs.journey.hash == trigger.journey.hash
            assert theirs.journey.reentry == trigger.journey.reentry


def test_the_plain_form_is_read_only(tmp_path):
    config = make_config(tmp_path)
    write_artefact(config)
    stored = read_artefact(config)
    assert stored is not None
    with pytest.raises(AttributeError, match="read-only"):
        stored.settings.timezone = "UTC"


def test_exclude_none_keeps_the_nones_inside_a_condition():
    """As pydantic's: a None inside a plain dict field (a condition) is kept."""
    where = {"properties.coupon": None}
    model = schema.When(event="order_placed", where=where)
    from nudge.config.plain import plain_class

    plain = plain_class("When")({"event": "order_placed", "where": where, "count": None})
    plain = plain.model_copy(update={"max_age": None})
    assert plain.model_dump(exclude_none=True) == model.model_dump(exclude_none=True)
