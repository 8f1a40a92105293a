"""Log entries kept in the profile (docs/storage.md, "The decision log"): never at the
cost of a write unit on the profile's write; what does not fit goes out as its log item, or,
if it was kept before, is counted as no longer kept (audience misses) or leaves with the other
entries that decided something, as one item."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from nudge.aws.store.decisions import (
    batch_log_item,
    decision_log_item,
    fold_log,
    item_body,
    item_decisions,
    profile_decisions,
    unique,
)
from nudge.core import clock
from nudge.core.clock import iso, parse_time
from nudge.core.decisions import MISSES, MISSES_MAX, Decision, misses_gone


def _miss(minute: int, trigger: str = "vip_offer") -> dict[str, Any]:
    at = iso(clock.now() - timedelta(hours=1) + timedelta(minutes=minute))
    d = Decision("kim", trigger, at, "suppressed", "audience", f"e-{minute}", "page_viewed")
    return decision_log_item([d])


def _rows_cost(room: int) -> Any:
    """A profile write that costs one unit more once it holds more than ``room`` rows."""
    return lambda doc, _log: 1 + (len((doc.get(MISSES) or {}).get("r") or ()) > room)


def test_misses_are_kept_while_they_cost_nothing_and_the_oldest_go_first():
    doc: dict[str, Any] = {"customer_id": "kim"}
    items = [_miss(minute) for minute in range(3)]
    for item in items:
        doc, rest, _before = fold_log(doc, [item], _rows_cost(room=2))
        assert rest == []  # folded: no log item
    assert [d["event_id"] for _sk, d in profile_decisions(doc)] == ["e-1", "e-2"]
    assert misses_gone(doc) == (1, json.loads(items[0]["doc"]["S"])["at"])


def test_an_entry_that_does_not_fit_even_alone_is_put_as_its_log_item():
    item = _miss(0)
    doc, rest, _before = fold_log({"customer_id": "kim"}, [item], _rows_cost(room=0))
    assert rest == [item] and MISSES not in doc


def test_a_write_that_folds_nothing_still_fits_what_is_kept():
    doc: dict[str, Any] = {"customer_id": "kim"}
    doc, _rest, _before = fold_log(doc, [_miss(0), _miss(1, "other")], _rows_cost(room=5))
    assert len(profile_decisions(doc)) == 2
    # the next write carries other items (no folding) and the profile has grown: no room
    other = decision_log_item(
        [Decision("kim", "t", iso(clock.now()), "scheduled", None, "e-9", "cart_updated")]
    )
    doc, rest, _before = fold_log(doc, [other], _rows_cost(room=0), fold=False)
    assert rest == [other] and profile_decisions(doc) == [] and misses_gone(doc)[0] == 2


def test_at_most_the_newest_bound_are_kept():
    doc: dict[str, Any] = {"customer_id": "kim"}
    for minute in range(MISSES_MAX + 3):
        doc, _rest, _before = fold_log(doc, [_miss(minute)], _rows_cost(room=10**6))
    assert len(profile_decisions(doc)) == MISSES_MAX and misses_gone(doc)[0] == 3


def _decided(minute: int) -> dict[str, Any]:
    """The log entry of a product view that scheduled a wait, and missed one audience."""
    at = iso(clock.now() - timedelta(hours=1) + timedelta(minutes=minute))
    about = (f"v-{minute}", "product_viewed")
    return decision_log_item(
        [
            Decision("kim", "browse", at, "scheduled", None, *about, detail={"wait": "1h"}),
            Decision("kim", "vip_offer", at, "suppressed", "audience", *about),
        ]
    )


def test_an_entry_that_decided_something_is_kept_too_and_reads_as_its_item():
    item = _decided(0)
    doc, rest, before = fold_log({"customer_id": "kim"}, [item], _rows_cost(room=5))
    assert rest == [] and before == []  # no item at all: the profile's write holds it
    assert profile_decisions(doc) == item_decisions(item)


def test_decisions_that_no_longer_fit_leave_together_as_one_item_and_none_is_lost():
    doc: dict[str, Any] = {"customer_id": "kim"}
    decided = [_decided(0), _decided(1)]
    misses = [_miss(2), _miss(3)]
    for item in [decided[0], misses[0], decided[1], misses[1]]:
        doc, rest, before = fold_log(doc, [item], _rows_cost(room=4))
        assert rest == before == []
    new = _decided(4)
    doc, rest, before = fold_log(doc, [new], _rows_cost(room=4))
    # the oldest entry had to go: it decided something, so it and the other entry that did
    # leave together as one item, put before the profile; the audience misses stay
    assert rest == [] and len(before) == 1
    assert item_decisions(before[0]) == [p for i in decided for p in item_decisions(i)]
    assert profile_decisions(doc) == [p for i in [*misses, new] for p in item_decisions(i)]
    assert misses_gone(doc) == (0, None)
    assert before[0]["sk"]["S"].startswith("D#" + json.loads(decided[1]["doc"]["S"])["at"])
    # the same entries give the same item (written again, it is not a second one)
    rows = item_body(before[0])["r"]
    assert batch_log_item("kim", rows[::-1]) == before[0]


def test_a_decision_found_in_two_places_is_read_once():
    item = _decided(0)
    doc, _rest, _before = fold_log({"customer_id": "kim"}, [item], _rows_cost(room=5))
    both = sorted([*profile_decisions(doc), *item_decisions(item)], key=lambda p: p[0])
    # (in key order: the keys' hashes, of the wall-clock time, order the two decisions)
    assert unique(both) == sorted(item_decisions(item), key=lambda p: p[0])


def test_entries_that_left_together_are_shown_no_longer_than_the_log_keeps_them():
    old, new = _decided(0), _decided(30)
    rows = [_row_of(old, days_ago=100), _row_of(new, days_ago=1)]
    item = batch_log_item("kim", rows)
    # the item goes 90 days after its newest entry; an older entry in it is not shown meanwhile
    newest = parse_time(rows[-1][0])
    assert int(item["ttl"]["N"]) == int(newest.timestamp()) + 90 * 86400
    assert [d["event_id"] for _sk, d in item_decisions(item)] == ["v-30", "v-30"]


def _row_of(item: dict[str, Any], days_ago: int) -> list[Any]:
    body = item_body(item)
    at = iso(clock.now() - timedelta(days=days_ago))
    return [at, *body["e"], body.get("a") or [], body["d"]]
