"""`nudge invoke`: every function of template.yaml run in-process on moto with its sample events
(the list `make sam-local` uses, .ci/sam-local-events.txt), each answer judged by the same check
as a `sam local invoke` (.ci/sam_local_check.py), and what it changed in the table shown."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from nudge.cli import main
from nudge.sim.invoke import invoke, resolve_environment, template_functions
from tests.conftest import CONFIG, EVENTS, ROOT

_spec = importlib.util.spec_from_file_location(
    "sam_local_check", ROOT / ".ci" / "sam_local_check.py"
)
assert _spec and _spec.loader
check = sys.modules.get("sam_local_check") or importlib.util.module_from_spec(_spec)
if "sam_local_check" not in sys.modules:
    sys.modules["sam_local_check"] = check
    _spec.loader.exec_module(check)

PLAN = {
    f.name: files
    for f, files in check.plan_invokes(
        check.template_functions(ROOT / "template.yaml"), check.read_event_map(), EVENTS, CONFIG
    )
}
# the customer the samples are about (c-1001), with the cart the wait and outbox samples follow
SCENE = [EVENTS / "customer_updated.json", EVENTS / "cart_updated.json"]


@pytest.fixture(autouse=True)
def _cold_start():
    """Each `nudge invoke` is a new process, like a new container; in this test process the
    score function's per-container cache of the table's size is put back as it was after."""
    from nudge.flows import score

    saved = dict(score._auto)
    score._auto.clear()
    yield
    score._auto.clear()
    score._auto.update(saved)


@pytest.mark.parametrize("function", sorted(PLAN))
def test_every_function_answers_its_sample_events(function):
    assert PLAN[function], f"{function} has no sample event"
    given = [] if function == "ingest" else SCENE

    done = invoke(function, PLAN[function], CONFIG, root=ROOT, given=given)

    assert len(done) == len(PLAN[function])
    for inv in done:
        assert inv.error is None, f"{inv.event}: {inv.error}"
        outcome = check.check_invoke(0, json.dumps(inv.result, default=str), "")
        assert outcome.ok, f"{inv.event}: {outcome.summary}"
    changed = {(r["sk"], tuple(r.get("status") or ())) for inv in done for r in inv.changed}
    added = {(r["pk"], r["kind"]) for inv in done for r in inv.added}
    if function == "ingest":
        assert ("C#c-1001", "profile") in added
    if function == "dispatch":  # the outbox item sent, SES called
        assert ("O#5daaf2cedf4fbbe82484", ("pending", "sent")) in changed
        assert sum(inv.sent for inv in done) == 1
    if function == "wake":  # the wait fired: the reminder queued in the outbox
        assert ("C#c-1001", "outbox") in added
    if function == "api":  # the last sample erases the profile: a tombstone stays
        assert ("ERASED#c-1001", "tombstone") in added
    if function == "unsubscribe":
        fields = {f for inv in done for r in inv.changed for f in r["fields"]}
        assert "doc.consent" in fields


def test_the_environment_is_the_templates_with_local_twins():
    functions = template_functions(ROOT / "template.yaml")
    local = {"NUDGE_TABLE": "nudge-sim", "NUDGE_BUS_NAME": "nudge-sim"}

    env, notes = resolve_environment(ROOT / "template.yaml", functions["score"], CONFIG, local)

    assert env["NUDGE_TABLE"] == "nudge-sim"  # !Ref Table -> the local table
    assert env["NUDGE_CONFIG_DIR"] == str(CONFIG)  # the config layer at /opt -> ./config
    assert env["POWERTOOLS_SERVICE_NAME"] == "nudge"  # literal, from Globals
    assert env["OPENBLAS_NUM_THREADS"] == "1"  # the function's own
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"  # a parameter at its default
    assert functions["ScoreFunction"] is functions["score"]
    assert any(n.startswith("NUDGE_DLQ_URL") for n in notes)  # not in `local` here: said, unset


def test_the_cli_prints_the_answer_and_the_table_changes(capsys):
    first, then = EVENTS / "customer_updated.json", EVENTS / "cart_updated.json"
    code = main(["invoke", "ingest", "-e", str(first), "-e", str(then), "--config", str(CONFIG)])

    out = capsys.readouterr().out
    assert code == 0
    assert '"decisions": ["cart_jewelry_high_value:scheduled"]' in out
    assert "  + C#c-1001 PROFILE (profile)" in out
    assert "doc.cart" in out  # the cart event changed the profile's cart


def test_an_unknown_function_is_named_with_the_choices(capsys):
    assert main(["invoke", "nope", "-e", str(EVENTS / "cart_updated.json")]) == 2
    err = capsys.readouterr().err
    assert "no function 'nope'" in err and "ingest" in err
