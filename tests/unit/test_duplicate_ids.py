"""One set of event-id hashes (docs/storage.md, "Duplicate event ids"): the history's entries are
the duplicate check of the events it holds, the rolling set holds the others, and a redelivered
event is a duplicate on every path, as when every id was in the set."""

from __future__ import annotations

from datetime import timedelta

from nudge.core.clock import parse_time
from nudge.core.events import parse_event
from nudge.core.profile import (
    HistoryPolicy,
    apply_event,
    is_duplicate,
    merge_profile,
    new_profile,
)
from tests.conftest import event

NOW = parse_time("2027-02-10T12:00:00Z")
DAY = 86400.0
# the history keeps product views for a day, whole; nothing reads page views
POLICY = HistoryPolicy({"product_viewed": (DAY, True)})


def _view(cid: str, at: str, n: int, kind: str = "product_viewed"):
    env = event(kind, cid, at, product_id=f"p-{n}", path=f"/p/{n}")
    env["detail"]["event_id"] = f"{cid}-{kind}-{n}"
    return parse_event(env)


def _set_size(profile: dict) -> int:
    return sum(len(keys) for keys in profile["seen"].values()) // 8


def test_an_event_the_history_keeps_is_a_duplicate_by_its_entry_alone():
    profile = new_profile("c-1")
    views = [_view("c-1", f"2027-02-10T1{n}:00:00Z", n) for n in range(3)]
    for view in views:
        apply_event(profile, view, POLICY, NOW)

    assert [h["properties"]["product_id"] for h in profile["history"]] == ["p-0", "p-1", "p-2"]
    assert _set_size(profile) == 0  # no second hash of the same events
    assert all(is_duplicate(profile, v) for v in views)  # delivered again: known
    assert not is_duplicate(profile, _view("c-1", "2027-02-10T11:00:00Z", 9))


def test_an_event_the_history_does_not_keep_is_remembered_in_the_set():
    profile = new_profile("c-1")
    page = _view("c-1", "2027-02-10T10:00:00Z", 1, kind="page_viewed")
    apply_event(profile, page, POLICY, NOW)

    assert profile["history"] == []
    assert _set_size(profile) == 1
    assert is_duplicate(profile, page)
    later = NOW + timedelta(days=6, hours=23)  # still inside the 7-day window
    apply_event(profile, _view("c-1", "2027-02-17T10:00:00Z", 2, "page_viewed"), POLICY, later)
    assert is_duplicate(profile, page)


def test_an_entry_trimmed_inside_the_window_leaves_its_id_in_the_set():
    profile = new_profile("c-1")
    view = _view("c-1", "2027-02-10T10:00:00Z", 1)
    apply_event(profile, view, POLICY, NOW)
    assert _set_size(profile) == 0

    # two days on, the history no longer keeps the view (a day's look-back): its entry goes,
    # its id is still remembered, until the duplicate window ends
    two_days = NOW + timedelta(days=2)
    apply_event(profile, _view("c-1", "2027-02-12T12:00:00Z", 2, "page_viewed"), POLICY, two_days)
    assert profile["history"] == []
    assert is_duplicate(profile, view)
    # (counted from the day the history let it go: never shorter than 7 days from applied)
    nine_days = NOW + timedelta(days=9)
    apply_event(profile, _view("c-1", "2027-02-19T12:00:00Z", 3, "page_viewed"), POLICY, nine_days)
    assert is_duplicate(profile, view)
    ten_days = NOW + timedelta(days=10)
    apply_event(profile, _view("c-1", "2027-02-20T12:00:00Z", 4, "page_viewed"), POLICY, ten_days)
    assert not is_duplicate(profile, view)  # then forgotten


def test_an_event_dated_before_the_history_looks_back_is_remembered_all_the_same():
    profile = new_profile("c-1")
    late = _view("c-1", "2027-02-01T10:00:00Z", 1)  # nine days late: not kept at all
    apply_event(profile, late, POLICY, NOW)
    assert profile["history"] == [] and is_duplicate(profile, late)


def test_the_newest_300_are_remembered_when_the_history_drops_many_at_once():
    profile = new_profile("c-1")
    held = [_view("c-1", f"2027-02-10T11:{n // 60:02d}:{n % 60:02d}Z", n) for n in range(200)]
    for view in held:
        apply_event(profile, view, POLICY, NOW)
    # a day and a half later all 200 entries go at once, at the first of 300 later events
    later = NOW + timedelta(days=1, hours=12)
    pages = [_view("c-1", "2027-02-11T23:00:00Z", n, "page_viewed") for n in range(300)]
    for page in pages:
        apply_event(profile, page, POLICY, later)
    assert all(is_duplicate(profile, p) for p in pages)  # the newest 300: every one
    assert all(is_duplicate(profile, v) for v in held)  # (the set's bound leaves room for them)


def test_a_merge_keeps_both_sides_duplicates_whether_held_by_history_or_set():
    anon, kim = new_profile("anon:abc"), new_profile("kim")
    anon_view = _view("anon:abc", "2027-02-10T10:00:00Z", 1)
    anon_page = _view("anon:abc", "2027-02-10T10:01:00Z", 2, "page_viewed")
    kim_view = _view("kim", "2027-02-10T11:00:00Z", 3)
    kim_page = _view("kim", "2027-02-10T11:01:00Z", 4, "page_viewed")
    for profile, events in ((anon, (anon_view, anon_page)), (kim, (kim_view, kim_page))):
        for e in events:
            apply_event(profile, e, POLICY, NOW)

    merge_profile(kim, anon, POLICY, NOW)
    merge_profile(kim, anon, POLICY, NOW)  # twice changes nothing more

    assert [h["properties"]["product_id"] for h in kim["history"]] == ["p-1", "p-3"]
    assert _set_size(kim) == 2  # the two page views; the product views are held by history
    assert all(is_duplicate(kim, e) for e in (anon_view, anon_page, kim_view, kim_page))

    # a merge whose history keeps less (here: nothing) hands the entries' ids to the set
    merge_profile(kim, anon, HistoryPolicy({}), NOW)
    assert kim["history"] == []
    assert all(is_duplicate(kim, e) for e in (anon_view, anon_page, kim_view, kim_page))
