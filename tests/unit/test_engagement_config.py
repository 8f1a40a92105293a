"""`nudge validate` and `nudge schema` know the engagement events and `same_message`: the names
are accepted everywhere an event is named, and `same_message` only inside a `cancel_if` item of a
trigger that fires on an engagement event (docs/config.md, "Engagement events")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import CONFIG, make_config

JOURNEY = """\
id: cart_sms_if_unopened
when: {event: message_sent, where: {properties.trigger: cart_jewelry_high_value}}
wait: 2d
cancel_if:
  - {event: email_opened, same_message: true}
  - {event: email_clicked, same_message: true}
  - {event: order_placed}
channel: sms
sms: {text: "Your ring is still in your cart. Reply STOP to opt out"}
"""
ENGAGED = """\
id: engaged_reader
when: {event: email_clicked, where: {properties.channel: email}}
who:
  - did: {event: email_opened, within: 30d, at_least: 2}
  - did_not: {event: email_bounced, within: 90d}
cancel_if: [{event: sms_replied}, {event: email_complained}, {event: email_delivered}]
wait: 1h
channel: email
email: {subject: "Thanks for reading", text: "More soon. {{ unsubscribe_url }}"}
"""
SEGMENTS_EXTRA = """\
  clickers: {where: {did: {event: email_clicked, within: 14d}}}
"""


def _nudge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nudge.cli", *args], capture_output=True, text=True, check=False
    )


def _at(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """Line and column of the ``nth`` line holding ``needle`` in ``text`` (-1: the last)."""
    found = [
        (number, line.index(needle) + 1)
        for number, line in enumerate(text.splitlines(), 1)
        if needle in line
    ]
    return found[nth]


def test_engagement_events_and_same_message_are_valid_config(tmp_path):
    segments = (CONFIG / "segments.yaml").read_text()
    segments = segments.replace("segments:\n", "segments:\n" + SEGMENTS_EXTRA, 1)
    config = make_config(
        tmp_path,
        **{
            "triggers/cart_sms_if_unopened.yaml": JOURNEY,
            "triggers/engaged_reader.yaml": ENGAGED,
            "segments.yaml": segments,
        },
    )

    result = _nudge("validate", str(config))

    assert result.returncode == 0, result.stdout + result.stderr


IN_WHEN = JOURNEY.replace("{event: message_sent,", "{event: message_sent, same_message: true,")
IN_DID_NOT = ENGAGED.replace("within: 90d}", "within: 90d, same_message: true}")
TOP_LEVEL = JOURNEY + "same_message: true\n"


@pytest.mark.parametrize(
    ("text", "nth"),
    [(IN_WHEN, 0), (IN_DID_NOT, 0), (TOP_LEVEL, -1)],
    ids=["in-when", "in-did_not", "top-level"],
)
def test_same_message_outside_cancel_if_is_refused_where_it_is_written(tmp_path, text, nth):
    config = make_config(tmp_path, **{"triggers/t.yaml": text})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    line, column = _at(text, "same_message", nth)
    located = f"triggers/t.yaml:{line}:"
    assert located in result.stdout, result.stdout
    reported = int(result.stdout.split(located, 1)[1].split(":", 1)[0])
    assert column <= reported <= column + len("same_message: true")  # at the key or its value
    assert "unknown key 'same_message': same_message belongs in a cancel_if item only" in (
        result.stdout
    )
    assert "cancel_if: [{event: email_opened, same_message: true}]" in result.stdout


def test_same_message_needs_a_trigger_fired_by_an_engagement_event(tmp_path):
    text = JOURNEY.replace(
        "when: {event: message_sent, where: {properties.trigger: cart_jewelry_high_value}}",
        "when: {event: cart_updated}",
    )
    config = make_config(tmp_path, **{"triggers/t.yaml": text})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    line, _ = _at(text, "{event: email_opened, same_message: true}")
    assert f"triggers/t.yaml:{line}:" in result.stdout, result.stdout
    assert "cancel_if.0.same_message: same_message means 'the message this wait is about'" in (
        result.stdout
    )
    assert "'cart_updated' is not about a message" in result.stdout


def test_same_message_needs_an_engagement_event_to_compare(tmp_path):
    text = JOURNEY.replace("- {event: order_placed}", "- {event: order_placed, same_message: true}")
    config = make_config(tmp_path, **{"triggers/t.yaml": text})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    line, _ = _at(text, "order_placed")
    assert f"triggers/t.yaml:{line}:" in result.stdout, result.stdout
    assert "cancel_if.2.event: same_message needs an engagement event" in result.stdout
    assert "'order_placed' is not one" in result.stdout


def test_the_schema_offers_same_message_in_cancel_if_items():
    result = _nudge("schema")

    assert result.returncode == 0, result.stderr
    trigger = json.loads(result.stdout)["$defs"]["trigger"]
    item = trigger["properties"]["cancel_if"]["items"]["$ref"].rsplit("/", 1)[-1]
    same = trigger["$defs"][item]["properties"]["same_message"]
    assert same["type"] == "boolean" and same["default"] is False
    assert "message" in same["description"]
    when = trigger["$defs"]["When"]["properties"]
    assert "same_message" not in when
