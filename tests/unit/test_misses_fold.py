"""Audience misses kept in the profile (docs/storage.md, "The decision log"): never at the
cost of a write unit on the profile's write; what does not fit goes out as its log item, or,
if it was kept before, is counted as no longer kept."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from nudge.aws.store.decisions import decision_log_item, fold_misses, profile_decisions
from nudge.core import clock
from nudge.core.clock import iso
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
        doc, rest = fold_misses(doc, [item], _rows_cost(room=2))
        assert rest == []  # folded: no log item
    assert [d["event_id"] for _sk, d in profile_decisions(doc)] == ["e-1", "e-2"]
    assert misses_gone(doc) == (1, json.loads(items[0]["doc"]["S"])["at"])


def test_an_entry_that_does_not_fit_even_alone_is_put_as_its_log_item():
    item = _miss(0)
    doc, rest = fold_misses({"customer_id": "kim"}, [item], _rows_cost(room=0))
    assert rest == [item] and MISSES not in doc


def test_a_write_that_folds_nothing_still_fits_what_is_kept():
    doc: dict[str, Any] = {"customer_id": "kim"}
    doc, _rest = fold_misses(doc, [_miss(0), _miss(1, "other")], _rows_cost(room=5))
    assert len(profile_decisions(doc)) == 2
    # the next write carries other items (no folding) and the profile has grown: no room
    other = decision_log_item(
        [Decision("kim", "t", iso(clock.now()), "scheduled", None, "e-9", "cart_updated")]
    )
    doc, rest = fold_misses(doc, [other], _rows_cost(room=0), fold=False)
    assert rest == [other] and profile_decisions(doc) == [] and misses_gone(doc)[0] == 2


def test_at_most_the_newest_bound_are_kept():
    doc: dict[str, Any] = {"customer_id": "kim"}
    for minute in range(MISSES_MAX + 3):
        doc, _rest = fold_misses(doc, [_miss(minute)], _rows_cost(room=10**6))
    assert len(profile_decisions(doc)) == MISSES_MAX and misses_gone(doc)[0] == 3
