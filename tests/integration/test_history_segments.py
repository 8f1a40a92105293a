"""History segments (docs/storage.md#history-segments): a customer's older history rows and
duplicate ids move out of the profile item into immutable segment items, so the item every event
rewrites stays about a KB; everything that reads the profile still sees the whole history. On
both backends (the in-memory DynamoDB and moto)."""

from __future__ import annotations

import copy
import functools
from argparse import Namespace
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nudge.aws import store
from nudge.aws.clients import client
from nudge.aws.store import profiles as profiles_module
from nudge.core import profile as profile_module
from nudge.core.clock import iso, parse_time
from nudge.core.profile import SEGS, history_id, pack_segment
from nudge.explain import explain_command
from nudge.flows.privacy import erase_customer, export_customer
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

START = parse_time("2027-01-01T00:00:00Z")
FIRST = "2027-01-02T10:00:00Z"

# Conditions that look back over the whole history: a did and a did_not on the oldest product
# views (90 days), and a trigger counting every product view in 90 days (a counted `when`).
SEGMENTS = (
    "  saw_first: {where: {did: {event: product_viewed, "
    "where: {properties.product_id: {eq: p-0000}}, within: 90d}}}\n"
    "  missed_second: {where: {did_not: {event: product_viewed, "
    "where: {properties.product_id: {eq: p-0001}}, within: 90d}}}\n"
)
KEEN = """id: keen_browser
description: 150 product views in 90 days, the first of them among them
when:
  event: product_viewed
  count: {at_least: 150, within: 90d}
who:
  did: {event: product_viewed, where: {properties.product_id: {eq: p-0002}}, within: 90d}
cooldown: 30d
priority: 10
channel: email
email: {subject: "Seen anything you like?", text: "Hi. {{ unsubscribe_url }}"}
"""


def _config(tmp_path: Path) -> Path:
    segments = (
        (CONFIG / "segments.yaml").read_text().replace("segments:\n", "segments:\n" + SEGMENTS, 1)
    )
    return make_config(tmp_path, **{"segments.yaml": segments, "triggers/keen_browser.yaml": KEEN})


def _views(cid: str, count: int, start: str = FIRST) -> list[dict[str, Any]]:
    """``count`` product views of as many products, six hours apart (a history 50 days long
    for 200 of them)."""
    at = parse_time(start)
    return [
        event(
            "product_viewed",
            cid,
            iso(at + timedelta(hours=6 * n)),
            product_id=f"p-{n:04d}",
            category=("jewelry", "fragrance", "flowers")[n % 3],
        )
        for n in range(count)
    ]


@pytest.fixture(params=["memory", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def shop(tmp_path: Path, backend: str) -> Iterator[Simulation]:
    with Simulation(_config(tmp_path), start=START, backend=backend) as sim:
        yield sim


def _items(cid: str) -> list[dict[str, Any]]:
    return store.partition_items(cid)


def _profile_item(cid: str) -> dict[str, Any]:
    [item] = [i for i in _items(cid) if i["sk"]["S"] == "PROFILE"]
    return item


def _segments(cid: str) -> list[str]:
    return [i["sk"]["S"] for i in _items(cid) if i["sk"]["S"].startswith("PROFILE#")]


def _without_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout before segments: the profile item holds everything (never flushed)."""
    never = functools.partial(profile_module.split_segments, high=10**9)
    monkeypatch.setattr(profiles_module, "split_segments", never)


def _play(config: Path, backend: str, events: list[dict[str, Any]], cid: str) -> dict[str, Any]:
    """Play ``events`` and say what a user sees: the decisions, the messages, the profile."""
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer(cid, "2027-01-02T09:00:00Z"), *events], until=timedelta(hours=1))
        view = sim.profiles()[cid]
        decisions = [
            (d["at"], d["trigger"], d["outcome"], d["reason"], d.get("detail"))
            for d in sim.decisions()
        ]
        messages = [(m["trigger"], m["channel"]) for m in sim.messages()]
        stored = store.get_profile(cid).doc or {}
        return {
            "decisions": decisions,
            "messages": messages,
            "segments": view["segments"],
            "history": stored.get("history"),
            "seen": stored.get("seen"),
            "items": _segments(cid),
            "profile_bytes": store.item_size(_profile_item(cid)),
        }


def test_200_events_of_history_keep_the_profile_item_within_a_kb_and_decide_as_before(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
):
    config = _config(tmp_path)
    events = _views("kim", 200)
    now = _play(config, backend, copy.deepcopy(events), "kim")
    # the item every event rewrites: at most a KB as DynamoDB counts it (one write unit)
    assert now["profile_bytes"] <= 1024, now["profile_bytes"]
    assert len(now["items"]) >= 3  # the older history, in segments

    _without_segments(monkeypatch)
    before = _play(config, backend, copy.deepcopy(events), "kim")
    assert before["items"] == [] and before["profile_bytes"] > 2 * 1024
    # the whole history is read as before: the same decisions, messages and segments
    for key in ("decisions", "messages", "segments", "history", "seen"):
        assert now[key] == before[key], key
    assert "saw_first" in now["segments"] and "missed_second" not in now["segments"]
    assert ("keen_browser", "email") in now["messages"]  # its 150th view, counting segments


def test_a_redelivered_event_only_a_segment_remembers_is_a_duplicate(shop):
    events = _views("lou", 120)
    shop.run([customer("lou", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)], until=timedelta(0))
    hot = store.profile_doc(_profile_item("lou"))
    first = history_id(events[0]["detail"]["event_id"])
    assert first not in {h["id"] for h in hot["history"]}  # not in the profile item itself
    assert first in {h["id"] for h in store.get_profile("lou").doc["history"]}  # a segment's

    shop.put(copy.deepcopy(events[0]))
    last = [d for d in shop.decisions() if d["customer_id"] == "lou"][-1]
    assert (last["outcome"], last["reason"]) == ("suppressed", "duplicate")
    assert shop.profiles()["lou"]["last_seen_at"] == events[-1]["time"]  # nothing applied


def test_trimmed_history_drops_whole_segments_and_deletes_them(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
):
    config = _config(tmp_path)
    # 200 views, then 60 more 100 days later: the 90-day look-back ended for the first 200,
    # and the cap of 200 entries pushes out the oldest of what is left
    events = _views("max", 200) + _views("max", 260, "2027-05-01T10:00:00Z")[200:]
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer("max", "2027-01-02T09:00:00Z"), *_views("max", 200)], until=timedelta(0))
        early = set(_segments("max"))
        assert len(early) >= 3
        sim.run(copy.deepcopy(events[200:]), until=timedelta(0))
        assert not early & set(_segments("max"))  # every segment of the first 200: deleted
        doc = store.get_profile("max").doc or {}
        listed = {f"PROFILE#S#{seq:08d}#{token}" for seq, token, *_ in doc[SEGS]["l"]}
        assert listed == set(_segments("max"))  # no segment left that nothing reads
        kept = [h["properties"]["product_id"] for h in doc["history"]]
        assert kept == [f"p-{n:04d}" for n in range(200, 260)]
        assert store.item_size(_profile_item("max")) <= 1024

    _without_segments(monkeypatch)
    with Simulation(config, start=START, backend=backend) as sim:
        sim.run([customer("max", "2027-01-02T09:00:00Z"), *events], until=timedelta(0))
        assert (store.get_profile("max").doc or {})["history"] == doc["history"]


def test_an_orphan_segment_of_a_write_that_lost_a_race_is_ignored_then_deleted(shop):
    events = _views("ned", 60)
    shop.run([customer("ned", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)], until=timedelta(0))
    doc = store.get_profile("ned").doc or {}
    next_seq = doc[SEGS]["n"]
    # a writer that flushed a segment and then lost the profile's race (its conditional write
    # failed) leaves it behind, numbered as the next segment and listed nowhere
    at = int(parse_time(FIRST).timestamp())
    bogus = {
        "type": "product_viewed",
        "ts": at,
        "id": "0" * 12,
        "properties": {"product_id": "p-x"},
    }
    orphan = f"PROFILE#S#{next_seq:08d}#orphan"
    client("dynamodb").put_item(
        TableName=store.table(),
        Item={
            "pk": {"S": "C#ned"},
            "sk": {"S": orphan},
            "kind": {"S": "segment"},
            "doc": {"B": pack_segment([bogus], {})},
        },
    )
    assert (store.get_profile("ned").doc or {})["history"] == doc["history"]  # ignored

    # the profile's next segments take its number onwards; once past it, the orphan is deleted
    more = _views("ned", 200)[60:]
    for n in range(0, len(more), 10):
        shop.run(copy.deepcopy(more[n : n + 10]), until=timedelta(0))
        if orphan not in _segments("ned"):
            break
    assert orphan not in _segments("ned")
    history = (store.get_profile("ned").doc or {})["history"]
    assert "p-x" not in {h["properties"].get("product_id") for h in history}
    assert [h["properties"]["product_id"] for h in history][:1] == ["p-0000"]


def test_a_race_lost_after_a_segment_was_put_leaves_the_winner_whole(shop, monkeypatch):
    shop.run([customer("oli", "2027-01-02T09:00:00Z"), *_views("oli", 60)], until=timedelta(0))
    from nudge.aws.store import profiles
    from nudge.core.decisions import Plan
    from nudge.flows import common

    real = profiles.ProfileWrite.before
    raced: list[str] = []

    def before(self: Any) -> None:
        real(self)  # our segment is put...
        if self.segment is not None and not raced:  # ...then a rival writes the profile first
            raced.append(self.segment["sk"]["S"])
            common.update_customer("oli", lambda p, now: p.update(rival=True) or Plan())

    monkeypatch.setattr(profiles.ProfileWrite, "before", before)
    more = _views("oli", 200)[60:]
    for n in range(0, len(more), 10):
        shop.run(copy.deepcopy(more[n : n + 10]), until=timedelta(0))
        if raced:
            break
    assert raced
    doc = store.get_profile("oli").doc or {}
    assert doc["rival"] is True
    assert [h["properties"]["product_id"] for h in doc["history"]] == [
        f"p-{n:04d}" for n in range(len(doc["history"]))
    ]


def test_erasure_leaves_no_segment_and_the_export_holds_the_whole_history(shop):
    shop.run([customer("pia", "2027-01-02T09:00:00Z"), *_views("pia", 120)], until=timedelta(0))
    assert _segments("pia")
    exported = export_customer("pia")
    assert exported is not None
    views = [h for h in exported["history"] if h["type"] == "product_viewed"]
    assert [h["properties"]["product_id"] for h in views] == [f"p-{n:04d}" for n in range(120)]
    assert SEGS not in exported["profile"]
    assert not [i for i in exported["other_items"] if i.get("kind") == "segment"]

    assert erase_customer("pia") is not None
    assert _items("pia") == []


def _explain(cid: str, capsys: Any) -> str:
    args = Namespace(customer_id=cid, trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    return str(capsys.readouterr().out)


def test_explain_answers_the_same(tmp_path: Path, backend: str, monkeypatch, capsys):
    config = _config(tmp_path)
    events = _views("rex", 160)
    answers = []
    for flush in (True, False):
        if not flush:
            _without_segments(monkeypatch)
        with Simulation(config, start=START, backend=backend) as sim:
            sim.run(
                [customer("rex", "2027-01-02T09:00:00Z"), *copy.deepcopy(events)],
                until=timedelta(hours=1),
            )
            assert bool(_segments("rex")) is flush
            answers.append(_explain("rex", capsys))
    assert "keen_browser" in answers[0]
    assert answers[0] == answers[1]


def test_a_merged_visitor_s_history_moves_to_the_customer_and_its_stub_keeps_no_segment(shop):
    visitor = "anon:v-1"
    browsed = _views(visitor, 120)
    shop.run(copy.deepcopy(browsed), until=timedelta(0))
    assert _segments(visitor)
    signed_in = customer("kit", "2027-02-05T09:00:00Z")
    signed_in["detail"]["aliases"] = [visitor]
    shop.run([signed_in], until=timedelta(0))

    assert _segments(visitor) == []  # the stub lists none, and none is left behind
    [stub] = _items(visitor)
    assert store.profile_doc(stub)["merged_into"] == "kit"
    views = [h for h in (store.get_profile("kit").doc or {})["history"]]
    assert [h["properties"]["product_id"] for h in views] == [f"p-{n:04d}" for n in range(120)]
    assert store.item_size(_profile_item("kit")) <= 1024
    shop.put(copy.deepcopy(browsed[0]))  # the visitor's first view, delivered again
    last = shop.decisions()[-1]
    assert (last["outcome"], last["reason"]) == ("suppressed", "duplicate"), last
