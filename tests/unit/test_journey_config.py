"""Journeys in the config: `nudge validate` rejects cycles, unknown and unreachable steps at
file:line:column with a hint; split variants are a stable function of customer x journey x split
name; the journey state stays bounded."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from nudge.cli import main
from nudge.config import CompiledConfig, load_config
from nudge.config.compiled import compile_config
from nudge.config.load import read_config
from nudge.core.clock import parse_time
from nudge.core.decide import decide, decide_wake
from nudge.core.events import parse_event
from nudge.core.journey import STATE_KEY, pick_variant
from nudge.core.profile import apply_event, new_profile
from nudge.core.react import refresh_view
from nudge.flows.common import apply_plan
from tests.conftest import CONFIG, event, make_config

RESCUE = (CONFIG / "triggers" / "cart_rescue.yaml").read_text()
BAD = """\
id: bad
when: {event: cart_updated}
steps:
  - {id: first, wait: 1h}
  - {id: hello, send: {channel: email, template: cart_reminder}}
  - {id: back, goto: first}
"""


def _validate(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    # as of the sample day: its Valentine's 2027 windows would warn once the season is over
    code = main(["validate", "--at", "2027-02-10T05:00:00Z", str(config)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _at(text: str, needle: str, nth: int = 1) -> str:
    """``line:column`` of the ``nth`` occurrence of ``needle`` in ``text``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return f"{number}:{line.index(needle) + 1}"
    raise AssertionError(needle)


@pytest.mark.parametrize(
    ("text", "needle", "message"),
    [
        (
            BAD,
            "first}",
            "steps.2.goto: goto 'first' goes back to an earlier step (a cycle): journeys only go "
            "forward; to repeat a message, let the journey end and use reentry",
        ),
        (
            RESCUE.replace("goto: wait3}", "goto: wait_3}"),
            "wait_3",
            "steps.3.branch.0.goto: unknown step id 'wait_3'; this journey's steps are: wait1, "
            "remind, wait2, follow_up, text, wait3, ab, morning, offer",
        ),
        (
            RESCUE.replace("  - {id: morning", "  - {id: stop, exit: true}\n  - {id: morning"),
            "morning, wait_until",
            "steps.7.id: step 'morning' can never be reached: every way into it is cut off by a "
            "goto, exit or branch before it; remove it or point a goto at it",
        ),
        (
            RESCUE.replace("on_event: ab}", "on_event: remind}"),
            "remind}",
            "steps.2.wait_for.on_event: goto 'remind' goes back to an earlier step (a cycle)",
        ),
        (
            RESCUE.replace("{{ split.offer_test }}", "{{ split.offer }}"),
            '"offer_{{',
            "the template name reads split.offer, but no split step of this journey is named "
            "'offer'",
        ),
        (
            RESCUE.replace("{id: wait1, wait: 1h}", "{id: wait1, wait: 1h, goto: remind}"),
            "{id: wait1",
            "step 'wait1' needs exactly one of wait, wait_until, wait_for, send, branch, split, "
            "goto, exit (has wait, goto)",
        ),
        (
            RESCUE.replace('local_time: "10:00"', 'local_time: "10am"'),
            '"10am"',
            "'10am' is not a 24-hour time like '10:00'",
        ),
    ],
    ids=[
        "cycle",
        "unknown-step",
        "unreachable",
        "wait-for-backwards",
        "unknown-split",
        "two-kinds",
        "bad-local-time",
    ],
)
def test_validate_rejects_a_broken_journey_at_file_line_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str, message: str
) -> None:
    config = make_config(tmp_path, **{"triggers/cart_rescue.yaml": text})
    code, out = _validate(config, capsys)
    assert code == 1
    [line] = [row for row in out.splitlines() if message in row]
    assert line.startswith(f"triggers/cart_rescue.yaml:{_at(text, needle)}: "), line


def test_the_sample_journey_is_valid_and_a_trigger_without_steps_is_unchanged() -> None:
    config, errors = compile_config(read_config(CONFIG))
    assert errors == []
    rescue = config.triggers["cart_rescue"].journey
    assert list(rescue.nodes) == [
        "wait1",
        "remind",
        "wait2",
        "follow_up",
        "text",
        "wait3",
        "ab",
        "morning",
        "offer",
    ]
    assert set(rescue.nodes["offer"].sends) == {"ten", "free_ship"}
    assert config.triggers["cart_jewelry_high_value"].journey is None
    assert "cart_rescue" not in [t.id for t in config.by_event["cart_updated"]]  # shipped off


def test_split_variants_are_stable_and_follow_the_weights() -> None:
    config = load_config(CONFIG)
    node = config.triggers["cart_rescue"].journey.nodes["ab"]
    people = [f"customer-{i}" for i in range(4000)]
    first = [pick_variant(c, "cart_rescue", node) for c in people]
    assert first == [pick_variant(c, "cart_rescue", node) for c in people]
    share = Counter(first)["ten"] / len(people)
    assert 0.47 < share < 0.53  # 50/50 weights
    # another journey (or split name) splits the same customers independently
    other = [pick_variant(c, "another_journey", node) for c in people]
    agree = sum(a == b for a, b in zip(first, other, strict=True)) / len(people)
    assert 0.45 < agree < 0.55


def test_journey_state_stays_one_small_entry_per_journey(tmp_path: Path) -> None:
    """A customer entering and finishing a journey again and again keeps one entry for it."""
    text = RESCUE.replace("\nenabled: false", "\nenabled: true").replace(
        "reentry: {after: 30d}", "reentry: always"
    )
    config = load_config(make_config(tmp_path, **{"triggers/cart_rescue.yaml": text}))
    profile = new_profile("loop")
    now = parse_time("2027-02-01T09:00:00Z")
    for week in range(3):
        at = now + timedelta(days=7 * week)
        cart = parse_event(
            event(
                "cart_updated",
                "loop",
                at.isoformat(),
                value=300.0,
                items=[{"product_id": "p", "name": "Ring", "category": "jewelry", "price": 300.0}],
            )
        )
        apply_event(profile, cart, config.history_seconds, at)
        view = refresh_view(profile, config, at)
        apply_plan(profile, decide(profile, view, cart, config, at))
        while profile.get("waits"):  # every wait, when due (as the Scheduler fires them)
            wait_id, wait = min(profile["waits"].items(), key=lambda w: w[1]["due_at"])
            due = parse_time(wait["due_at"])
            view = refresh_view(profile, config, due)
            apply_plan(profile, decide_wake(profile, view, wait_id, config, due))
        assert list(profile[STATE_KEY]) == ["cart_rescue"]
        assert set(profile[STATE_KEY]["cart_rescue"]) <= {"done", "entered", "how", "splits"}
        assert profile[STATE_KEY]["cart_rescue"]["how"] in ("completed", "inactive")


def test_a_winner_rule_is_valid_and_compiled_for_the_daily_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = RESCUE.replace(
        "variants: {ten: 50, free_ship: 50}}",
        "variants: {ten: 50, free_ship: 50}, winner: {metric: conversion, after: 500}}",
    )
    config = make_config(tmp_path, **{"triggers/cart_rescue.yaml": text})
    assert _validate(config, capsys) == (0, f"{config}: ok\n")
    rule = load_config(config).winner_splits[("cart_rescue", "offer_test")]
    assert (rule.metric, rule.after, rule.min_lift_ci) == ("conversion", 500, 0)
    assert load_config(CONFIG).winner_splits == {}  # the sample's split has no rule


def _walk_all(profile: dict, config: CompiledConfig, at: str) -> list[tuple[str, str | None]]:
    """A cart at ``at``, then every wait it starts as the Scheduler fires them: the outcomes."""
    when = parse_time(at)
    cart = parse_event(
        event(
            "cart_updated",
            "re",
            at,
            value=300.0,
            items=[{"product_id": "p", "name": "Ring", "category": "jewelry", "price": 300.0}],
        )
    )
    apply_event(profile, cart, config.history_seconds, when)
    plan = decide(profile, refresh_view(profile, config, when), cart, config, when)
    apply_plan(profile, plan)
    out = [(d.outcome, d.reason) for d in plan.decisions if d.trigger == "cart_rescue"]
    while profile.get("waits"):
        wait_id, wait = min(profile["waits"].items(), key=lambda w: w[1]["due_at"])
        due = parse_time(wait["due_at"])
        view = refresh_view(profile, config, due)
        woke = decide_wake(profile, view, wait_id, config, due)
        apply_plan(profile, woke)
        out += [(d.outcome, d.reason) for d in woke.decisions if d.trigger == "cart_rescue"]
    return out


@pytest.mark.parametrize(
    ("reentry", "again"),
    [("once", False), ("{after: 30d}", True), ("always", True)],
)
def test_reentry_once_after_and_always(tmp_path: Path, reentry: str, again: bool) -> None:
    text = (
        RESCUE.replace("\nenabled: false", "\nenabled: true")
        .replace("reentry: {after: 30d}", f"reentry: {reentry}")
        .replace('active: {from: "2027-02-01T00:00:00Z", until: "2027-02-15T00:00:00Z"}', "")
    )
    config = load_config(make_config(tmp_path, **{"triggers/cart_rescue.yaml": text}))
    profile = new_profile("re")
    first = _walk_all(profile, config, "2027-03-01T09:00:00Z")
    assert first[0] == ("entered", None) and first[-1] == ("completed", None)
    later = _walk_all(profile, config, "2027-04-05T09:00:00Z")  # 35 days after entering
    if again:
        assert later[0] == ("entered", None) and later[-1] == ("completed", None)
    else:
        assert later == [("suppressed", "reentry")]
