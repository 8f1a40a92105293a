"""The score function as Lambda runs it: its handler, time running out, continuation, the run's
lease, crashes part-way, threads, and what an unchanged customer costs."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from nudge.aws import clients as aws
from nudge.aws import store
from nudge.flows import common, score
from nudge.sim import Simulation
from tests.conftest import CONFIG, ROOT
from tests.scenarios.test_daily_recompute import (
    END,
    RECOMPUTE_AT,
    START,
    BusTap,
    base_events,
    seed,
    stored_profiles,
)

ARN = "arn:aws:lambda:us-east-1:123456789012:function:nudge-score"
_spec = importlib.util.spec_from_file_location("score_app", ROOT / "functions/score/app.py")
assert _spec and _spec.loader
app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(app)


class Context:
    """A Lambda context whose time runs low after ``steps`` looks at the clock."""

    invoked_function_arn = ARN

    def __init__(self, steps: int = 10**9) -> None:
        self.steps = steps

    def get_remaining_time_in_millis(self) -> int:
        self.steps -= 1
        return 600_000 if self.steps > 0 else 1_000


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return base_events(40, seed=20270304, start=START, end=END)


@pytest.fixture
def shop(base):
    """40 customers stored, the clock at 03:00 New York on 2027-03-01."""
    with Simulation(CONFIG, start=END) as sim:
        seed(sim, base)
        sim.clock.set(RECOMPUTE_AT)
        yield sim


@pytest.fixture
def tap(shop):
    """nudge's own events on the shop's bus."""
    return BusTap()


def _changes(tap: BusTap) -> list[str]:
    return [
        json.dumps(e["detail"], sort_keys=True)
        for e in tap.events()
        if e["detail-type"] != "message_sent"
    ]


def test_time_running_low_saves_the_run_and_the_handler_invokes_itself_to_carry_on(shop, tap):
    # Given an invocation whose time runs low after a few dozen profiles
    with Stubber(aws.client("lambda")) as stub:
        payload = {"kind": "daily", "date": "2027-03-01", "continuation": 1}
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {
                "FunctionName": ARN,
                "InvocationType": "Event",
                "Payload": json.dumps(payload).encode(),
            },
        )

        # When the Scheduler's daily event arrives
        first = app.handler({"kind": "daily"}, Context(steps=30))

        # Then it stopped early, saved where it was and handed over to a new invocation
        stub.assert_no_pending_responses()
    assert first["resume"] is True and first["continued"] == 1 and not first["done"]
    saved = store.get_run("score#2027-03-01")
    assert saved is not None and saved["phase"] in ("gather", "score")

    # And the continuation finishes the run: every buyer scored, each change on the bus once
    second = app.handler(payload, Context())
    assert second["done"] and "resume" not in second
    assert second["invocations"] == 2
    buyers = [p for p in stored_profiles(shop).values() if p.get("orders_count")]
    assert buyers and all(p.get("rfm") and p.get("p_alive") is not None for p in buyers)
    changes = _changes(tap)
    assert changes and len(changes) == len(set(changes))


def test_an_invocation_that_makes_no_progress_does_not_invoke_itself_forever(shop):
    got = app.handler({"kind": "daily"}, Context(steps=1))  # out of time from the start

    assert got["resume"] and got["gave_up"] and got["handled"] == 0


def test_bad_input_is_refused_without_touching_the_table(shop):
    assert "error" in app.handler({"kind": "hourly"}, None)
    assert "error" in app.handler({"kind": "daily", "date": "March 1st"}, None)
    assert store.get_run("score#2027-03-01") is None


def test_a_finished_run_is_not_repeated_and_a_forced_one_finds_nothing_to_do(shop, tap):
    done = score.handle({"kind": "daily"})
    events = _changes(tap)

    again = score.handle({"kind": "daily"})  # a second delivery of the Scheduler's event
    forced = score.handle({"kind": "daily", "date": "2027-03-01", "force": True})

    assert done["done"] and done["written"] > 0
    assert again["already"] is True
    assert forced["done"] and forced["written"] == 0 and forced["events"] == 0
    assert forced["unchanged"] == forced["scored"] == done["scored"]
    assert _changes(tap) == events


def test_another_invocation_holding_the_run_makes_this_one_step_aside(shop):
    at = shop.clock.current.timestamp()
    store.claim_run("score#2027-03-01", "someone-else", lease_until=at + 600, at=at)

    assert score.handle({"kind": "daily"}) == {
        "run": "score#2027-03-01",
        "date": "2027-03-01",
        "busy": True,
    }
    # once their lease has run out (they crashed), the run is ours
    shop.clock.advance(timedelta(minutes=11))
    assert score.handle({"kind": "daily", "date": "2027-03-01"})["done"]


def test_an_outage_part_way_fails_the_invocation_and_the_retry_finishes_with_each_event_once(
    shop, tap, monkeypatch
):
    real = common.update_customer
    calls = Counter[str]()

    def down_from_the_tenth(customer_id, change):
        calls["n"] += 1
        if calls["n"] >= 10:
            raise ConnectionError("DynamoDB went away")
        return real(customer_id, change)

    monkeypatch.setattr(score, "update_customer", down_from_the_tenth)
    with pytest.raises(ConnectionError):  # five customers failing in a row: not their fault
        score.handle({"kind": "daily"}, Context())
    monkeypatch.setattr(score, "update_customer", real)

    # Lambda's retry of the same event resumes at once (the lease was released)
    retry = score.handle({"kind": "daily"}, Context())
    assert retry["done"] and retry["invocations"] == 2
    changes = _changes(tap)
    assert len(changes) == len(set(changes))
    assert all(p.get("rfm") for p in stored_profiles(shop).values() if p.get("orders_count"))


def test_one_customer_that_always_fails_is_skipped_and_the_run_finishes(shop, monkeypatch):
    real = common.update_customer

    def poison(customer_id, change):
        if customer_id == "c007":
            raise RuntimeError("profile kept changing under us")
        return real(customer_id, change)

    monkeypatch.setattr(score, "update_customer", poison)
    got = score.handle({"kind": "daily"})

    assert got["done"] and got["failed"] == 1
    profiles = stored_profiles(shop)
    assert "rfm" not in profiles["c007"]
    assert all(p.get("rfm") for c, p in profiles.items() if p.get("orders_count") and c != "c007")


def test_chunks_a_crash_left_behind_are_not_counted_twice(shop):
    stopped = score.run_daily(budget=30, segments=2, page_size=5)
    assert stopped["resume"] and stopped["phase"] == "gather"
    # a chunk written just before a crash, whose cursor was never saved
    store.put_run_chunk("score#2027-03-01", "1#0000#000099", b"x", 1)

    done = score.run_daily(segments=2, page_size=5)

    assert done["done"]
    assert (
        done["model"]["n_customers"]
        == done["gathered"]
        == len([p for p in stored_profiles(shop).values() if p.get("orders_count")])
    )


def test_segments_in_threads_give_the_same_profiles_as_one_after_the_other(base):
    results = []
    for threads in (1, 4):
        with Simulation(CONFIG, start=END) as sim:
            seed(sim, base)
            sim.clock.set(RECOMPUTE_AT)
            got = score.run_daily(segments=4, threads=threads, page_size=5)
            results.append((got["written"], got["events"], stored_profiles(sim)))
    assert results[0] == results[1]


def test_a_customer_with_nothing_new_costs_no_read_and_no_write(shop):
    score.handle({"kind": "daily"})
    calls = Counter[str]()
    aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.update([model.name])
    )

    # the next day: scores moved less than a write is worth, no tier or segment boundary crossed
    # for most; only those who crossed one are read and written
    shop.clock.set(RECOMPUTE_AT + timedelta(days=1))
    got = score.handle({"kind": "daily"})

    assert got["done"] and got["scored"] == 40
    # (each customer written is read first: its profile with its history segments, one Query)
    assert calls["Query"] == got["written"] < got["scored"] // 2
    per_write = calls["PutItem"] + calls["TransactWriteItems"]
    assert per_write == got["written"]
    assert calls["Scan"] <= 2 * 2  # one page per pass for 40 small profiles (and the end mark)
    assert sum(calls.values()) <= 2 * got["written"] + 10
