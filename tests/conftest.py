"""Shared test set-up: dummy AWS credentials before anything imports boto3, and helpers that
build events from the sample files in events/ (the same files `sam local invoke` uses)."""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "nudge",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EVENTS = ROOT / "events"
_ids = itertools.count(1)
# NUDGE_TEST_ARTEFACT=1: every config the tests build (make_config, the sim fixture's) gets its
# compiled-config artefact when it is valid, so the handlers run on the plain form a deployed
# function starts from (docs/deploy.md); a test that edits a file afterwards reads the YAML again
ARTEFACT = os.environ.get("NUDGE_TEST_ARTEFACT") == "1"


def sample(name: str) -> dict[str, Any]:
    """A sample event file from events/, as a fresh dict."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def event(
    kind: str,
    customer: str,
    at: str,
    *,
    base: str | None = None,
    event_id: str | None = None,
    **properties: Any,
) -> dict[str, Any]:
    """An envelope built from ``events/<base or kind>.json`` for another customer and time.

    Keyword arguments replace properties (``value=300``); ``traits=``/``consent=`` set those.
    """
    env = copy.deepcopy(sample(base or kind))
    env["detail-type"] = kind
    env["time"] = at
    env["id"] = f"env-{next(_ids)}"
    detail = env["detail"]
    detail["customer_id"] = customer
    detail["event_id"] = event_id or f"t-{next(_ids)}"
    for key in ("traits", "consent"):
        if key in properties:
            detail[key] = properties.pop(key)
    if properties:
        detail.setdefault("properties", {}).update(properties)
    return env


def customer(
    cid: str, at: str, *, email_ok: bool = True, sms_ok: bool = True, **traits: Any
) -> dict[str, Any]:
    """A ``customer_updated`` with an address, a phone and the given consent."""
    base = {
        "email": f"{cid}@shop.example",
        "phone": "+15555550100",
        "first_name": cid.title(),
        "timezone": "America/New_York",
    }
    base.update(traits)
    base = {k: v for k, v in base.items() if v is not None}
    return event(
        "customer_updated", cid, at, traits=base, consent={"email": email_ok, "sms": sms_ok}
    )


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A simulation of the sample config on the in-memory backend, clock at 2027-01-01 00:00Z.

    In tests/scenarios the day it plays is replayed on moto afterwards and must give the same
    decisions and messages (tests/twin.py), unless the test reaches AWS another way too."""
    from nudge.core.clock import parse_time
    from nudge.sim import Simulation
    from tests.twin import Recorder, normalized, replay_on_moto

    start = parse_time("2027-01-01T00:00:00Z")
    compare = "scenarios" in request.node.path.parts and "monkeypatch" not in request.fixturenames
    config = CONFIG
    keeps = request.node.get_closest_marker("keeps")
    if keeps is not None:
        config = keeping(request.getfixturevalue("tmp_path"), keeps.args[0])
    elif ARTEFACT:
        config = make_config(request.getfixturevalue("tmp_path"))
    with Simulation(config, start=start) as simulation:
        recorder = Recorder(simulation) if compare else None
        if recorder is not None:
            recorder.setup_calls = recorder._calls()
        yield simulation
        if recorder is None or not recorder.replayable or not recorder.log:
            return
        mine = normalized(simulation)
    assert replay_on_moto(recorder, config, start, simulation.daily) == mine, (
        "the in-memory backend and moto disagree on this day"
    )


def reading(reads: dict[str, list[str]]) -> str:
    """The sample ``segments.yaml`` plus a segment per event type whose ``did`` reads these
    properties within 30 days, so the profile history keeps them (what it keeps comes from the
    config: docs/storage.md). For tests that look at what was recorded on the customer; the
    segments (``_reads_<event>``: did and did not, so nobody is ever in one) change nothing
    else."""
    text = (CONFIG / "segments.yaml").read_text()
    lines = []
    for kind, props in reads.items():
        where = ", ".join(f"{{properties.{p}: {{exists: true}}}}" for p in props)
        test = f"{{event: {kind}, within: 30d" + (f", where: {{any: [{where}]}}" if props else "")
        both = f"{{all: [{{did: {test}}}}}, {{did_not: {test}}}}}]}}"
        lines.append(f"  _reads_{kind}: {{where: {both}}}\n")
    return text.replace("segments:\n", "segments:\n" + "".join(lines), 1)


def keeping(tmp_path: Path, reads: dict[str, list[str]]) -> Path:
    """A copy of the sample config that also reads these event properties (``reading``)."""
    return make_config(tmp_path, **{"segments.yaml": reading(reads)})


def make_config(tmp_path: Path, **files: str) -> Path:
    """A copy of the sample config with some files replaced (``{"triggers/x.yaml": text}``)."""
    import shutil

    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    for rel, text in files.items():
        path = target / rel.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if ARTEFACT:
        _compile(target)
    return target


def _compile(config: Path) -> None:
    import contextlib

    from nudge.config import ConfigInvalid
    from nudge.config.artefact import write_artefact

    with contextlib.suppress(ConfigInvalid):  # an invalid config: nothing to compile
        write_artefact(config)
