"""The one customer loop (``pipeline.common.write_customer``) on moto with the real store: a lost
race is redone after a short random wait, an erased customer is never recreated, merged aliases
redirect (up to a limit), and work already written is not written twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from nudge.aws import store
from nudge.core.clock import iso
from nudge.core.decisions import Decision, Message, Plan, Wait
from nudge.flows import common
from nudge.flows.common import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    MAX_ATTEMPTS,
    update_customer,
    write_customer,
)
from nudge.flows.identity import MAX_REDIRECTS
from nudge.flows.privacy import erase_customer
from tests.conftest import customer


def _note(key: str, value: Any = True) -> common.Change:
    def change(profile: dict[str, Any], now: datetime) -> Plan:
        profile[key] = value
        return Plan()

    return change


def _message(customer_id: str, now: datetime) -> Message:
    return Message(
        message_id="m-once",
        customer_id=customer_id,
        trigger="winback",
        channel="email",
        created_at=iso(now),
        send_at=iso(now + timedelta(hours=1)),
        priority=1,
        event={"detail-type": "campaign", "detail": {"customer_id": customer_id}},
    )


def test_a_write_that_lost_a_race_is_redone_on_the_new_profile_after_a_short_random_wait(sim):
    sim.run([customer("ann", "2027-01-01T00:00:00Z")])
    seen: list[Any] = []

    def mine(profile: dict[str, Any], now: datetime) -> Plan:
        seen.append(profile.get("rival"))
        if len(seen) == 1:  # someone else writes the profile between our read and our write
            update_customer("ann", _note("rival"))
        profile["mine"] = True
        return Plan()

    before = sim.clock.current
    update_customer("ann", mine)

    doc = store.get_profile("ann").doc
    assert doc is not None and doc["rival"] and doc["mine"]  # both writes kept
    assert seen == [None, True]  # redone on what the rival wrote
    assert len(sim.clock.naps) == 1 and 0 <= sim.clock.naps[0] <= BACKOFF_BASE
    assert sim.clock.current == before  # the wait cost no simulated time


def test_the_waits_between_retries_double_up_to_a_cap_and_the_loop_gives_up(sim, monkeypatch):
    sim.run([customer("bea", "2027-01-01T00:00:00Z")])
    monkeypatch.setattr(common.random, "uniform", lambda low, high: high)  # the longest wait

    def always_loses(profile: dict[str, Any], now: datetime) -> Plan:
        update_customer("bea", _note("rival", now.isoformat() + str(len(sim.clock.naps))))
        return Plan()

    with pytest.raises(RuntimeError, match="kept changing"):
        update_customer("bea", always_loses)

    expected = [min(BACKOFF_CAP, BACKOFF_BASE * 2**n) for n in range(MAX_ATTEMPTS - 1)]
    assert sim.clock.naps == expected  # none after the last attempt
    assert expected[-1] == BACKOFF_CAP


def test_an_erased_customer_is_not_recreated_by_a_late_write(sim):
    sim.run([customer("cy", "2027-01-01T00:00:00Z")])
    assert erase_customer("cy") is not None

    assert update_customer("cy", _note("opened_at", "2027-01-01T00:05:00Z")) is None
    assert store.get_profile("cy").doc is None
    assert store.is_erased("cy")


def test_an_erasure_landing_between_read_and_write_wins_and_leaves_no_wake(sim):
    calls = []  # "dee" has no profile yet: the write creates it, unless they were erased

    def waits(profile: dict[str, Any], now: datetime) -> Plan:
        calls.append(now)
        if len(calls) == 1:
            store.put_tombstone("dee", iso(now))  # the erasure lands now
        due = now + timedelta(hours=1)
        return Plan(waits=[Wait("w-dee", "cart_reminder", iso(now), iso(due), {})])

    written = write_customer("dee", waits)

    assert written.erased and written.plan is None
    assert len(calls) == 1  # refused without redoing the change
    assert store.get_profile("dee").doc is None
    assert [
        s for s in sim.due_schedules(sim.clock.current + timedelta(days=2)) if "w-dee" in s[1]
    ] == []


def test_an_erasure_landing_before_a_plain_first_write_leaves_no_profile_nor_decision(sim):
    def decides(profile: dict[str, Any], now: datetime) -> Plan:
        store.put_tombstone("eli", iso(now))  # the erasure lands between reading and writing
        note = Decision("eli", "welcome", iso(now), "suppressed", "audience", "e-1", "signup")
        return Plan(decisions=[note])  # no message: the profile is written by a plain put

    written = write_customer("eli", decides)

    assert written.erased and written.plan is None
    assert store.partition_items("eli") == []  # the profile put was undone, no log was put
    assert store.decisions_for("eli") == []


class _ErasedRightAfterTheProfile:
    """The DynamoDB client of the profile write, with an erasure landing right after the
    profile's put: before the items the write carries (``pending``) are put."""

    def __init__(self, real: Any, customer_id: str) -> None:
        self.real, self.customer_id, self.done = real, customer_id, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_item(self, **kwargs: Any) -> Any:
        out = self.real.put_item(**kwargs)
        key = (kwargs["Item"]["pk"]["S"], kwargs["Item"]["sk"]["S"])
        if not self.done and key == (f"C#{self.customer_id}", "PROFILE"):
            self.done = True
            assert erase_customer(self.customer_id)
        return out


def test_an_erasure_landing_between_the_profile_and_its_log_entry_leaves_nothing(sim, monkeypatch):
    sim.run([customer("ivy", "2027-01-01T00:00:00Z")])
    from nudge.aws.store import transactions

    real = transactions.client("dynamodb")
    monkeypatch.setattr(
        transactions, "client", lambda _name: _ErasedRightAfterTheProfile(real, "ivy")
    )

    def decides(profile: dict[str, Any], now: datetime) -> Plan:
        note = Decision("ivy", "welcome", iso(now), "suppressed", "audience", "e-2", "signup")
        return Plan(decisions=[note])  # a plain profile put, its log entry put after it

    write_customer("ivy", decides)

    assert store.is_erased("ivy")
    assert store.partition_items("ivy") == []  # the log entry put after the erasure is gone
    assert store.decisions_for("ivy") == []


def test_an_opt_in_starts_a_new_profile_for_an_erased_customer(sim):
    sim.run([customer("eve", "2027-01-01T00:00:00Z")])
    erase_customer("eve")

    written = write_customer("eve", _note("consent", {"email": True}), reopens=True)

    assert written.plan is not None and not written.erased
    assert store.get_profile("eve").doc["consent"] == {"email": True}  # type: ignore[index]
    assert not store.is_erased("eve")  # the tombstone went in the same write


def _alias(alias_id: str, target: str) -> None:
    store.commit(alias_id, {"customer_id": alias_id, "merged_into": target}, 0)


def test_merged_aliases_redirect_to_their_customer_up_to_a_limit(sim):
    sim.run([customer("fay", "2027-01-01T00:00:00Z")])
    chain = [f"anon:{n}" for n in range(MAX_REDIRECTS + 1)]  # anon:0 -> anon:1 -> ... -> fay
    for alias, target in zip(chain, [*chain[1:], "fay"], strict=True):
        _alias(alias, target)

    written = write_customer(chain[1], _note("seen_via_alias"), follow_aliases=True)
    assert (written.customer_id, written.redirected_from) == ("fay", chain[1])
    assert store.get_profile("fay").doc["seen_via_alias"]  # type: ignore[index]
    assert "seen_via_alias" not in store.get_profile(chain[1]).doc  # type: ignore[operator]

    with pytest.raises(RuntimeError, match="alias chain too long"):  # one redirect too many
        write_customer(chain[0], _note("lost"), follow_aliases=True)


def test_work_already_written_is_not_written_twice(sim):
    sim.run([customer("gus", "2027-01-01T00:00:00Z")])

    def queue(profile: dict[str, Any], now: datetime) -> Plan:
        profile["queued"] = profile.get("queued", 0) + 1
        return Plan(messages=[_message("gus", now)])

    first = write_customer("gus", queue)
    version = store.get_profile("gus").version
    again = write_customer("gus", queue)  # e.g. a crash after the write, then a redelivery

    assert first.plan is not None and again.plan is not None
    assert store.get_profile("gus").version == version  # the second write did not happen
    assert store.get_profile("gus").doc["queued"] == 1  # type: ignore[index]
    outbox = [i["message_id"]["S"] for i in store.scan_kind("outbox") if i["pk"]["S"] == "C#gus"]
    assert outbox == ["m-once"]


def test_a_write_that_both_lost_a_race_and_met_a_tombstone_is_an_erasure(sim):
    sim.run([customer("hal", "2027-01-01T00:00:00Z")])
    store.put_tombstone("hal", "2027-01-01T00:01:00Z")
    stale = store.get_profile("hal")
    update_customer("hal", _note("rival"))

    with pytest.raises(store.Erased):
        store.commit("hal", stale.doc or {}, stale.version, extra=[store.not_erased_check("hal")])
    with pytest.raises(store.VersionConflict):
        store.commit("hal", stale.doc or {}, stale.version, [], [_message("hal", sim.clock())])


def _log_items(customer_id: str) -> list[dict[str, Any]]:
    return [i for i in store.partition_items(customer_id) if i["kind"]["S"] == "decision"]


def _suppressed(customer_id: str, n: int) -> common.Change:
    """A change that decides something other than an audience miss (it must never be lost)."""

    def change(profile: dict[str, Any], now: datetime) -> Plan:
        note = Decision(customer_id, "browse", iso(now), "suppressed", "cooldown", f"e-{n}", "pv")
        return Plan(decisions=[note])

    return change


def _profile_item(customer_id: str) -> dict[str, Any]:
    return next(i for i in store.partition_items(customer_id) if i["sk"]["S"] == "PROFILE")


def _until_entries_leave(customer_id: str, sim: Any) -> tuple[int, dict[str, Any]]:
    """Decide for ``customer_id`` until the profile lets its kept entries go: how many writes
    that took, and the profile item as it was before the last of them."""
    for n in range(1, 60):
        held = _profile_item(customer_id)
        sim.advance(sim.clock.current + timedelta(minutes=1))
        write_customer(customer_id, _suppressed(customer_id, n))
        if _log_items(customer_id):
            return n, held
    raise AssertionError("the profile kept every entry")


def test_decisions_kept_in_the_profile_leave_together_as_one_item_and_none_is_lost(sim):
    sim.run([customer("kai", "2027-01-01T00:00:00Z")])
    before = len(_log_items("kai"))
    assert before == 0 or pytest.fail("the sign-up wrote a log item")

    writes, _held = _until_entries_leave("kai", sim)

    assert writes > 2  # the first entries cost no item at all: the profile's write held them
    [moved] = _log_items("kai")  # then they left together, as one item
    assert len(store.item_decisions(moved)) >= 2
    assert [d["event_id"] for d in store.decisions_for("kai")] == [
        f"e-{n}" for n in range(1, writes + 1)
    ]  # each decision once, in order, wherever it is kept


class _RaceAroundTheEntriesLeaving:
    """The DynamoDB client of the profile write, with something landing right before or right
    after the item of the entries the profile lets go is put (before the profile's write)."""

    def __init__(self, real: Any, customer_id: str, lands: Any, before: bool) -> None:
        self.real, self.customer_id, self.lands = real, customer_id, lands
        self.before, self.done = before, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def put_item(self, **kwargs: Any) -> Any:
        item = kwargs["Item"]
        leaving = item["sk"]["S"].startswith("D#") and store.item_body(item).get("v") == 3
        now = leaving and not self.done
        if now and self.before:
            self.done = True
            self.lands(self.customer_id)
        out = self.real.put_item(**kwargs)
        if now and not self.before:
            self.done = True
            self.lands(self.customer_id)
        return out


def _rival(customer_id: str) -> None:
    """Another event of the customer is written meanwhile (and lets the same entries go)."""
    write_customer(customer_id, _suppressed(customer_id, 999))


@pytest.mark.parametrize("lands", ["a rival write", "an erasure"])
def test_a_write_that_lets_entries_go_and_then_loses_loses_nothing_and_repeats_nothing(
    sim, monkeypatch, lands
):
    sim.run([customer("lou", "2027-01-01T00:00:00Z")])
    writes, held = _until_entries_leave("lou", sim)
    from nudge.aws.clients import client
    from nudge.aws.store import transactions

    # the writer died after putting the item, before the profile's write: the profile still
    # holds the entries the item holds too, and explain lists each decision once
    moved = _log_items("lou")
    client("dynamodb").put_item(TableName=store.table(), Item=held)
    assert [d["event_id"] for d in store.decisions_for("lou")] == [
        f"e-{n}" for n in range(1, writes)
    ]
    # back to the moment before the last write: the profile holds the entries, no item yet
    store.delete_keys([{"pk": i["pk"], "sk": i["sk"]} for i in moved])
    rival = lands == "a rival write"  # after the item is put; an erasure just before it
    landing = _rival if rival else erase_customer
    racing = _RaceAroundTheEntriesLeaving(
        transactions.client("dynamodb"), "lou", landing, not rival
    )
    monkeypatch.setattr(transactions, "client", lambda _name: racing)

    written = write_customer("lou", _suppressed("lou", writes))  # the same write again

    assert racing.done  # it landed while the entries were leaving
    if lands == "an erasure":
        assert written.erased
        assert store.partition_items("lou") == []  # the item put before the write is gone too
        return
    # lost once (the item of the entries already put, and the rival's with them), then written
    # again: each decision once
    got = [d["event_id"] for d in store.decisions_for("lou")]
    assert sorted(got) == sorted([*(f"e-{n}" for n in range(1, writes + 1)), "e-999"])
