"""A function's cold init (import its handler module, load the config from the compiled-config
artefact, as ``make bench`` measures it) leaves out what it does not need: pydantic itself and the
config's schema classes (the artefact holds the validated models, rebuilt as plain objects), the
pydantic event models until the first event (then only the models of the types it sees), and the
config checks that only report problems (field catalogue, condition and template checks, address
checks), which the artefact's files passed when it was written. No timing here: which modules
are loaded, in a fresh interpreter, as Lambda starts one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nudge.config.artefact import NAME, write_artefact
from nudge.core.event_models import PROPERTY_MODELS
from nudge.core.events import PROPERTY_TYPES
from tests.conftest import EVENTS, make_config

ROOT = Path(__file__).resolve().parents[2]
# what template.yaml's Globals set for every function that bears on the init
FUNCTION_ENV = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
# modules a handler's init no longer imports (each was on the init path before)
LEFT_FOR_LATER = (
    "pydantic",  # the config comes validated; the first event's model imports it
    "nudge.config.schema",  # the config's pydantic models
    "nudge.config.load",  # reading and validating the YAML
    "yaml",
    "nudge.core.event_models",  # the pydantic event models: the first parse_event imports them
    "nudge.config.fields",  # the field catalogue of `nudge validate`'s type checks
    "nudge.config.typecheck",
    "nudge.config.templatecheck",
    "email_validator",  # the sender address check (also on the first address an event brings)
)

INIT = """
import gc, json, sys
import app
frozen = gc.get_freeze_count()
from nudge.flows.common import current_config
config = current_config()
loaded = {"triggers": len(config.triggers), "gc": [gc.isenabled(), frozen]}
loaded["modules"] = sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules)
if len(sys.argv) > 2:  # then parse one event, as the handler's first invoke does
    from nudge.core import event_models
    from nudge.core.events import parse_event
    event = parse_event(json.loads(open(sys.argv[2]).read()))
    loaded["event"] = event.type
    loaded["built"] = sorted(
        name for name, model in event_models.PROPERTY_MODELS.items()
        if model.__pydantic_complete__
    )
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The sample config with its artefact, as ``make build`` puts it in the config layer."""
    config = make_config(tmp_path_factory.mktemp("cold"))
    write_artefact(config)
    return config


def _init(function: str, config: Path, *args: str) -> dict:
    env = dict(os.environ)
    env.update(
        NUDGE_CONFIG_DIR=str(config),
        PYTHONPATH=os.pathsep.join([str(ROOT / "functions" / function), str(ROOT / "shared")]),
        AWS_DEFAULT_REGION="us-east-1",
        **FUNCTION_ENV,
    )
    env.pop("AWS_ENDPOINT_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", INIT, json.dumps(LEFT_FOR_LATER), *args],
        env=env,
        cwd=ROOT / "functions" / function,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("function", ["ingest", "dispatch", "wake"])
def test_a_handlers_init_from_the_artefact_leaves_out_what_it_does_not_run(built, function):
    loaded = _init(function, built)
    assert loaded["triggers"] > 0  # the config really was loaded
    assert loaded["modules"] == []


@pytest.mark.parametrize("function", sorted(p.parent.name for p in ROOT.glob("functions/*/app.py")))
def test_a_handler_imports_without_the_garbage_collector_and_freezes_what_it_made(function):
    """The handler's modules are frozen out of later collections (nudge.coldstart), and the
    collector is on again for the invocations."""
    enabled, frozen = _init(function, ROOT / "config")["gc"]
    assert enabled
    assert frozen > 10_000  # modules, classes, functions: everything imported so far


def test_the_first_event_builds_only_its_own_property_model(built):
    loaded = _init("ingest", built, str(EVENTS / "order_placed.json"))
    assert loaded["event"] == "order_placed"
    assert loaded["built"] == ["order_placed"]  # not the cart, product, refund... models


def test_a_config_read_without_the_artefact_is_still_checked_in_full(tmp_path):
    plain = make_config(tmp_path)
    (plain / NAME).unlink(missing_ok=True)  # (NUDGE_TEST_ARTEFACT=1 writes one)
    modules = _init("ingest", plain)["modules"]
    assert {"nudge.config.typecheck", "nudge.config.schema", "pydantic"} <= set(modules)


def test_every_native_type_with_properties_has_its_model():
    assert tuple(PROPERTY_MODELS) == PROPERTY_TYPES


def test_the_functions_run_with_the_environment_the_init_is_checked_with():
    from tests.unit.test_template import TEMPLATE

    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert {k: variables.get(k) for k in FUNCTION_ENV} == FUNCTION_ENV
