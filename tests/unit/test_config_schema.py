"""`nudge schema --out DIR` writes editor schemas that really are JSON Schema (draft 2020-12):
checked with the `jsonschema` package against every sample config file and a set of broken ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from nudge.cli import main
from tests.conftest import CONFIG

KIND_FILES = {
    "settings": ["settings.yaml"],
    "segments": ["segments.yaml"],
    "content": ["content.yaml"],
    "trigger": sorted(str(p.relative_to(CONFIG)) for p in CONFIG.glob("triggers/*.yaml")),
    "campaign": sorted(str(p.relative_to(CONFIG)) for p in CONFIG.glob("campaigns/*.yaml")),
    "template": sorted(str(p.relative_to(CONFIG)) for p in CONFIG.glob("templates/*.yaml")),
}
CART = yaml.safe_load((CONFIG / "triggers/cart_jewelry_high_value.yaml").read_text())
SETTINGS = yaml.safe_load((CONFIG / "settings.yaml").read_text())


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("schemas")
    assert main(["schema", "--out", str(out), "--config", str(CONFIG)]) == 0
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in out.iterdir()}


def _errors(schema: dict[str, Any], document: Any) -> list[str]:
    """Every message, with those of the branches of an anyOf that failed."""
    out: list[str] = []
    pending = list(Draft202012Validator(schema).iter_errors(document))
    while pending:
        error = pending.pop()
        out.append(error.message)
        pending.extend(error.context or ())
    return out


def test_one_draft_2020_12_schema_per_file_kind(schemas):
    assert set(schemas) == set(KIND_FILES)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert "files" not in schema  # no home-made keyword an editor would ignore


@pytest.mark.parametrize(
    ("kind", "rel"), [(k, rel) for k, files in KIND_FILES.items() for rel in files]
)
def test_every_sample_file_is_valid(schemas, kind, rel):
    document = yaml.safe_load((CONFIG / rel).read_text())
    assert _errors(schemas[kind], document) == []


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(base))
    out.update(changes)
    return out


BROKEN = [
    ("trigger", {**CART, "cooldwn": "3 days"}, "'cooldwn' was unexpected"),
    ("trigger", _with(CART, wait="1 hour"), "'1 hour' is not valid"),
    ("trigger", _with(CART, cooldown="3 days"), "'3 days' is not valid"),
    ("trigger", _with(CART, when={"event": "cart_update"}), "'cart_update' is not one of"),
    (
        "trigger",
        _with(CART, cancel_if=[{"event": "order_place"}]),
        "'order_place' is not one of",
    ),
    ("trigger", _with(CART, active={"until": "next friday"}), "'next friday' is not valid"),
    ("trigger", _with(CART, channel="pigeon"), "'pigeon' is not one of"),
    ("trigger", _with(CART, id="Cart Reminder"), "does not match"),
    (
        "trigger",
        _with(CART, when={"event": "cart_updated", "where": {"properties.value": {"gtee": 1}}}),
        "'gtee' was unexpected",
    ),
    ("settings", _with(SETTINGS, quiet_hours={"start": 1260, "end": "08:00"}), "1260"),
    ("settings", _with(SETTINGS, timezon="UTC"), "'timezon' was unexpected"),
    (
        "settings",
        _with(SETTINGS, custom_events={"x": {"properties": {"a": "text"}}}),
        "'text' is not one of",
    ),
    ("segments", {"segments": {"vip": {"wher": {}}}}, "'where' is a required property"),
    ("campaign", {"id": "c", "variants": []}, "is not valid under any of the given schemas"),
    ("template", {"name": "t", "body": "x"}, "'body' was unexpected"),
    ("content", {"blocks": {"hero": [{"who": {"segment": "vip"}}]}}, "'data' is a required"),
]


@pytest.mark.parametrize(("kind", "document", "says"), BROKEN)
def test_broken_files_are_rejected(schemas, kind, document, says):
    errors = _errors(schemas[kind], document)
    assert any(says in e for e in errors), errors


def _properties(node: Any, at: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every property schema under ``node`` (a schema), with where it is."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_properties(value, f"{at}[{i}]"))
        return found
    if not isinstance(node, dict):
        return found
    for name, prop in (node.get("properties") or {}).items():
        found.append((f"{at}.{name}", prop))
        found.extend(_properties(prop, f"{at}.{name}"))
    for key, value in node.items():
        if key == "$defs":
            for name, inner in value.items():
                found.extend(_properties(inner, f"#{name}"))
        elif key not in ("properties", "examples", "default", "enum", "const"):
            found.extend(_properties(value, f"{at}/{key}"))
    return found


def test_every_property_has_a_description_and_an_example(schemas):
    for kind, schema in schemas.items():
        props = _properties(schema)
        assert props
        missing = [at for at, p in props if not p.get("description") or not p.get("examples")]
        assert missing == [], (kind, missing[:10])


def test_durations_and_times_have_patterns_and_events_are_an_enum(schemas):
    trigger = schemas["trigger"]
    defs = trigger["$defs"]
    wait = trigger["properties"]["wait"]
    assert any(b.get("pattern") for b in wait["anyOf"])
    until = defs["Active"]["properties"]["until"]
    assert any(b.get("pattern") for b in until["anyOf"])
    events = defs["event_name"]["enum"]
    assert {"cart_updated", "order_placed", "segment_entered", "email_opened"} <= set(events)
    assert "wishlist_added" in events  # declared in the sample's settings.custom_events
    quiet = schemas["settings"]["$defs"]["QuietHours"]["properties"]["start"]
    assert quiet["pattern"]


def test_conditions_complete_paths_and_operators(schemas):
    defs = schemas["trigger"]["$defs"]
    event_paths = defs["event_condition"]["properties"]
    assert {"properties.value", "properties.items.category", "all", "not"} <= set(event_paths)
    customer_paths = defs["customer_condition"]["properties"]
    assert {"lifetime_value", "consent.sms", "did", "did_not"} <= set(customer_paths)
    operators = defs["field_test"]["anyOf"][-1]["properties"]
    assert {"gte", "any_in", "contains", "exists"} <= set(operators)


def test_schema_without_out_prints_one_standard_document(capsys):
    assert main(["schema", "--config", str(CONFIG)]) == 0
    bundle = json.loads(capsys.readouterr().out)
    Draft202012Validator.check_schema(bundle)
    assert set(bundle["$defs"]) == set(KIND_FILES)
    trigger = bundle["$defs"]["trigger"]
    assert _errors(trigger, {**CART, "cooldwn": "3 days"})


def test_the_docs_show_the_modeline_and_the_vs_code_setting():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "config.md").read_text()
    assert "# yaml-language-server: $schema=../.nudge-schema/trigger.schema.json" in docs
    assert '"yaml.schemas"' in docs
    assert "nudge schema --out .nudge-schema" in docs
