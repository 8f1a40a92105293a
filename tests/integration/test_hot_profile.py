"""The hot profile and the compact decision log (docs/storage.md): the history keeps what the
config's conditions read for as long as they look back, duplicates are caught without keeping
every id, a customer with 200 events of history fits in 2 KB, and ``nudge explain`` reads one
log item per event exactly as it read one item per decision."""

from __future__ import annotations

import copy
import json
from argparse import Namespace
from datetime import timedelta
from typing import Any

import pytest

from nudge.aws import store
from nudge.aws.clients import client
from nudge.aws.store import transactions
from nudge.core.clock import iso, parse_time
from nudge.core.decisions import Decision
from nudge.core.profile import SEGS, decode_profile, encode_profile, pack_profile
from nudge.explain import explain_command
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, keeping, make_config
from tests.scenarios.test_daily_recompute import BusTap

START = parse_time("2027-01-01T00:00:00Z")


def _history(cid: str) -> list[tuple[str, dict[str, Any]]]:
    doc = store.get_profile(cid).doc or {}
    return [(h["type"], h["properties"]) for h in doc.get("history") or ()]


def test_the_history_keeps_what_the_conditions_read_for_as_long_as_they_look_back(sim):
    sim.run(
        [
            customer("hal", "2027-02-01T09:00:00Z"),
            event("product_viewed", "hal", "2027-02-01T10:00:00Z", product_id="p-1"),
            event("page_viewed", "hal", "2027-02-01T10:05:00Z", path="/pages/delivery"),
            event("order_placed", "hal", "2027-02-01T10:10:00Z", order_id="o-1", gift=False),
            event("wishlist_added", "hal", "2027-02-01T10:15:00Z"),
        ],
        until=timedelta(0),
    )
    # the sample config: browse_repeat_view counts views of the same product_id within 24h;
    # last_minute reads page_viewed's path within 48h; self_gifter order_placed's gift within
    # 90d. Nothing reads customer_updated or wishlist_added, nor any other property.
    assert _history("hal") == [
        ("product_viewed", {"product_id": "p-1"}),
        ("page_viewed", {"path": "/pages/delivery"}),
        ("order_placed", {"gift": False}),
    ]
    assert "last_minute" in sim.profiles()["hal"]["segments"]  # what reads it still sees it

    sim.run([event("page_viewed", "hal", "2027-02-02T12:00:00Z", path="/")], until=timedelta(0))
    shop = [kind for kind, _ in _history("hal") if kind != "message_sent"]  # (sent: the SMS)
    assert shop == ["page_viewed", "order_placed", "page_viewed"]

    sim.run([event("page_viewed", "hal", "2027-02-04T11:00:00Z", path="/")], until=timedelta(0))
    shop = [kind for kind, _ in _history("hal") if kind != "message_sent"]
    assert shop == ["order_placed", "page_viewed", "page_viewed"]
    assert "last_minute" not in sim.profiles()["hal"]["segments"]


def test_a_longer_within_in_the_config_keeps_that_event_longer(tmp_path):
    config = keeping(tmp_path, {"page_viewed": ["path"]})  # a did on page_viewed within 30d
    with Simulation(config, start=START) as sim:
        sim.run(
            [
                customer("ike", "2027-02-01T09:00:00Z"),
                event("page_viewed", "ike", "2027-02-01T10:05:00Z", path="/pages/delivery"),
                event("page_viewed", "ike", "2027-02-20T10:00:00Z", path="/"),
                event("page_viewed", "ike", "2027-03-05T10:00:00Z", path="/sale"),
            ],
            until=timedelta(0),
        )
        # 30 days back from 2027-03-05: the first view (32 days old) is gone, the others kept
        assert _history("ike") == [
            ("page_viewed", {"path": "/"}),
            ("page_viewed", {"path": "/sale"}),
        ]


def _duplicates(sim: Any, cid: str) -> list[str]:
    return [
        d["event_type"]
        for d in sim.decisions()
        if d["customer_id"] == cid and d["reason"] == "duplicate"
    ]


def test_the_same_event_delivered_again_is_applied_once(sim):
    order = event("order_placed", "ivy", "2027-02-01T10:00:00Z", order_id="o-1", value=80.0)
    retried = copy.deepcopy(order)
    retried["id"] = "env-put-events-retry"  # PutEvents retried: a new envelope, same detail
    view = event("page_viewed", "ivy", "2027-02-01T11:00:00Z", path="/pages/delivery")
    del view["detail"]["event_id"]  # no event_id: the content key is the idempotency key
    view_again = copy.deepcopy(view)
    view_again["id"] = "env-another-delivery"
    sim.run(
        [
            customer("ivy", "2027-02-01T09:00:00Z"),
            order,
            copy.deepcopy(order),
            retried,
            view,
            view_again,
        ],
        until=timedelta(0),
    )

    ivy = sim.profiles()["ivy"]
    assert (ivy["orders_count"], ivy["lifetime_value"]) == (1, 80.0)
    assert [kind for kind, _ in _history("ivy")].count("page_viewed") == 1
    # (the two order copies decided at the same moment are one log entry: same decision)
    assert sorted(set(_duplicates(sim, "ivy"))) == ["order_placed", "page_viewed"]

    # a redelivery six days later is still known (ids are remembered for 7 days)
    sim.advance(parse_time("2027-02-07T10:00:00Z"))
    sim.put(copy.deepcopy(view))
    assert _duplicates(sim, "ivy")[-1] == "page_viewed"
    assert [kind for kind, _ in _history("ivy")].count("page_viewed") == 1

    # past the window the order is still counted once: by its order id
    sim.advance(parse_time("2027-02-12T10:00:00Z"))
    sim.put(copy.deepcopy(order))
    ivy = sim.profiles()["ivy"]
    assert (ivy["orders_count"], ivy["lifetime_value"]) == (1, 80.0)


def _visits(cid: str, start: str, visits: int) -> list[dict[str, Any]]:
    """A shopper's 200 events: ``visits`` visits, three days apart, of ten events each (two
    pages, four product views, two carts, a checkout, an order), with full properties."""
    items = [
        {"product_id": "p-101", "name": "Rose Gold Heart Pendant", "category": "jewelry"}
        | {"price": 185.0, "quantity": 1},
        {"product_id": "p-207", "name": "Oud Noir Eau de Parfum", "category": "fragrance"}
        | {"price": 120.0, "quantity": 1},
    ]
    out: list[dict[str, Any]] = []
    for n in range(visits):
        at = parse_time(start) + timedelta(days=3 * n)

        def t(minutes: int, _at: Any = at) -> str:
            return iso(_at + timedelta(minutes=minutes))

        out += [
            event("page_viewed", cid, t(0), path="/collections/valentines"),
            event("page_viewed", cid, t(1), path="/pages/delivery"),
        ]
        out += [
            event("product_viewed", cid, t(2 + k), product_id=f"p-{100 + (n + k) % 7}")
            for k in range(4)
        ]
        out += [
            event("cart_updated", cid, t(7), value=185.0, items=items[:1]),
            event("cart_updated", cid, t(8), value=305.0, items=items),
            event("checkout_started", cid, t(9), value=305.0, items=items),
            event("order_placed", cid, t(10), order_id=f"o-{cid}-{n}", value=305.0, gift=False),
        ]
    return out


def test_a_customer_with_200_events_of_history_has_a_profile_of_at_most_2_kb(sim):
    events = _visits("kay", "2027-01-02T10:00:00Z", 20)
    assert len(events) == 200
    assert sum(len(json.dumps(e["detail"])) for e in events) > 50_000  # what came in
    sim.run([customer("kay", "2027-01-02T09:00:00Z"), *events], until=timedelta(hours=2))

    [item] = [i for i in store.scan_kind("profile") if i["pk"]["S"] == "C#kay"]
    size = store.item_size(item)
    assert size <= 2048, size  # bytes as DynamoDB counts them: 2 write units a write
    kay = sim.profiles()["kay"]
    assert (kay["orders_count"], kay["lifetime_value"]) == (20, 6100.0)  # nothing summed away
    assert "self_gifter" in kay["segments"] and "vip" in kay["segments"]


MANY = 40  # triggers on the same event, none of whose audience the customer is in


def _many_triggers(tmp_path: Any) -> Any:
    files = {
        f"triggers/vip_{n:02d}.yaml": (
            f"id: vip_{n:02d}\n"
            "when: {event: page_viewed, where: {properties.path: {contains: /delivery}}}\n"
            "who: {segment: vip}\n"
            "channel: email\n"
            'email: {subject: "For our best customers", text: "Hi. {{ unsubscribe_url }}"}\n'
        )
        for n in range(MANY)
    }
    return make_config(tmp_path, **files)


def _explain(cid: str, capsys: Any) -> str:
    args = Namespace(customer_id=cid, trigger=None, since=None, from_file=None, table=None)
    assert explain_command(args) == 0
    return str(capsys.readouterr().out)


def test_explain_reads_the_compact_log_exactly_as_one_item_per_decision(tmp_path, capsys):
    with Simulation(_many_triggers(tmp_path), start=START) as sim:
        sim.run(
            [
                customer("lea", "2027-02-10T14:00:00Z", sms_ok=False),
                event("page_viewed", "lea", "2027-02-10T15:00:00Z", path="/pages/delivery"),
            ],
            until=timedelta(0),
        )
        logged = [i for i in store.partition_items("lea") if i["kind"]["S"] == "decision"]
        assert len(logged) == 1  # the page view's 41 decisions in one item
        out = _explain("lea", capsys)

        misses = [line for line in out.splitlines() if "suppressed (audience:" in line]
        assert len(misses) == MANY
        assert out.count("because not in segment vip: lifetime_value 0 < 500") == MANY
        assert "last_minute_delivery: suppressed (no_consent" in out

        # the same decisions as one item each (the layout before log entries): same answer
        decisions = store.decisions_for("lea")
        assert len(decisions) == MANY + 1
        ddb = client("dynamodb")
        ddb.delete_item(TableName=store.table(), Key={"pk": logged[0]["pk"], "sk": logged[0]["sk"]})
        for d in decisions:
            ddb.put_item(TableName=store.table(), Item=store.decision_item(Decision(**d)))
        assert len([i for i in store.partition_items("lea") if i["kind"]["S"] == "decision"]) > 1
        assert _explain("lea", capsys) == out


@pytest.mark.parametrize("triggers", [0, MANY])
def test_a_page_view_writes_one_profile_and_at_most_one_log_item(tmp_path, triggers):
    config = _many_triggers(tmp_path) if triggers else CONFIG
    with Simulation(config, start=START) as sim:
        sim.run([customer("max", "2027-02-10T14:00:00Z", sms_ok=False)], until=timedelta(0))
        before = {i["sk"]["S"] for i in store.partition_items("max")}
        sim.run(
            [event("page_viewed", "max", "2027-02-10T15:00:00Z", path="/pages/delivery")],
            until=timedelta(0),
        )
        written = [i for i in store.partition_items("max") if i["sk"]["S"] not in before]
        assert [i["kind"]["S"] for i in written] == ["decision"]  # besides the profile
        assert store.item_size(written[0]) < 1024 * (2 if triggers else 1)


def _profile_item(cid: str) -> dict[str, Any]:
    [item] = [i for i in store.scan_kind("profile") if i["pk"]["S"] == f"C#{cid}"]
    return item


def test_a_long_profile_is_stored_deflated_and_one_stored_as_text_still_reads(sim):
    visits = _visits("ned", "2027-01-02T10:00:00Z", 5)
    sim.run([customer("ned", "2027-01-02T09:00:00Z"), *visits], until=timedelta(hours=2))
    item = _profile_item("ned")
    assert set(item["doc"]) == {"B"}  # deflated: smaller than the text
    doc = store.get_profile("ned").doc
    assert doc is not None and doc["orders_count"] == 5
    assert len(item["doc"]["B"]) * 2 < len(encode_profile(doc))

    # profiles written before (packed text, or plain JSON before packing; whole, without
    # history segments) read the same, and the events they remember are still duplicates when
    # delivered again
    whole = {key: value for key, value in doc.items() if key != SEGS}
    store.delete_keys(store.segment_keys("ned", doc))
    for text in (encode_profile(whole), json.dumps(whole)):
        ddb = client("dynamodb")
        ddb.put_item(TableName=store.table(), Item={**item, "doc": {"S": text}})
        assert store.get_profile("ned").doc == whole
        sim.put(copy.deepcopy(visits[-1]))  # the last order, delivered again
        assert _duplicates(sim, "ned")[-1] == "order_placed"
        assert sim.profiles()["ned"]["orders_count"] == 5
    sim.run(
        [event("order_placed", "ned", "2027-01-20T10:00:00Z", order_id="o-ned-x", value=10.0)],
        until=timedelta(0),
    )
    assert sim.profiles()["ned"]["orders_count"] == 6
    assert set(_profile_item("ned")["doc"]) == {"B"}  # written again in the deflated form


def test_a_short_profile_stays_text_and_every_form_round_trips():
    short = {"customer_id": "o", "history": [], "seen": {}}
    assert isinstance(pack_profile(short), str)
    assert decode_profile(pack_profile(short)) == short
    history = [
        {"type": "product_viewed", "ts": 1_800_000_000 + 60 * n, "id": f"{n:08x}"}
        | {"properties": {"product_id": f"p-{n % 7}"}}
        for n in range(60)
    ]
    history.insert(3, {**history[3], "extra": True})  # a record of another shape stays whole
    long = {"customer_id": "l", "history": history, "orders": [{"order_id": "o", "value": 1.5}]}
    packed = pack_profile(long)
    assert isinstance(packed, bytes) and decode_profile(packed) == long
    assert decode_profile(encode_profile(long)) == long
    assert decode_profile(json.dumps(long)) == long  # the plain JSON of before packing
    odd = {"customer_id": "f", "history": [{**history[0], "ts": 1_800_000_000.5}, *history[1:]]}
    assert decode_profile(pack_profile(odd)) == odd  # a fractional time is kept as it is


class _CrashBeforeTheLog:
    """The DynamoDB client of ``store.commit``, dying (once) just before it puts an item whose
    key starts with ``prefix`` (a log entry; an announcement): after the profile's write,
    which carries the item as ``pending``."""

    def __init__(self, real: Any, prefix: str = "D#") -> None:
        self.real, self.exceptions, self.crashed, self.prefix = real, real.exceptions, 0, prefix

    def put_item(self, **kwargs: Any) -> Any:
        if kwargs["Item"]["sk"]["S"].startswith(self.prefix) and not self.crashed:
            self.crashed += 1
            raise ConnectionError("the function died here")
        return self.real.put_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _logged_at(cid: str, hour: str) -> list[dict[str, Any]]:
    """The customer's decision log items of moments starting ``2027-02-10T<hour>``."""
    return [
        i
        for i in store.partition_items(cid)
        if i["kind"]["S"] == "decision" and i["sk"]["S"].startswith(f"D#2027-02-10T{hour}")
    ]


# lea signs up and reads the delivery page (entering segment last_minute, announced: that write
# is a transaction); her next page view changes no segment: a plain write
LEA_DAY = [
    customer("lea", "2027-02-10T14:00:00Z", sms_ok=False),
    event("page_viewed", "lea", "2027-02-10T14:30:00Z", path="/pages/delivery"),
]


def test_a_log_entry_the_writer_died_before_putting_is_explained_and_put_by_the_next_write(
    tmp_path, capsys, monkeypatch
):
    from nudge.aws.store import decisions

    # entries the profile has no room for are put as log items after it (here: all of them)
    monkeypatch.setattr(decisions, "MISSES_MAX", 0)
    view = event("page_viewed", "lea", "2027-02-10T15:00:00Z", path="/pages/delivery")
    config = _many_triggers(tmp_path)
    with Simulation(config, start=START) as sim:  # the answer without a crash
        sim.run(copy.deepcopy(LEA_DAY), until=timedelta(0))
        sim.run([copy.deepcopy(view)], until=timedelta(0))
        clean = _explain("lea", capsys)
    assert clean.count("suppressed (audience:") == 2 * MANY

    with Simulation(config, start=START) as sim:
        sim.run(copy.deepcopy(LEA_DAY), until=timedelta(0))
        crashing = _CrashBeforeTheLog(client("dynamodb"))
        monkeypatch.setattr(transactions, "client", lambda _name: crashing)
        sim.run([copy.deepcopy(view)], until=timedelta(0))
        assert crashing.crashed == 1
        assert _logged_at("lea", "15:") == []  # the profile was written, its log entry not yet
        assert store.get_profile("lea").pending  # ... but the profile carries it
        assert _explain("lea", capsys) == clean  # and explain reads it from there

        # the queue delivers the event again: the next write of the profile puts the entry;
        # the event itself is known (applied once) and logged as a duplicate
        sim.advance(parse_time("2027-02-10T15:10:00Z"))
        assert len(_logged_at("lea", "15:00")) == 1  # put by the redelivery's write
        assert len(_logged_at("lea", "15:")) == 2  # and the duplicate's entry
        assert _duplicates(sim, "lea") == ["page_viewed"]
        out = _explain("lea", capsys)
        assert out.count("suppressed (audience:") == 2 * MANY
        assert [line for line in out.splitlines() if line not in clean.splitlines()] == [
            line for line in out.splitlines() if "duplicate" in line
        ]
        assert sim.profiles()["lea"]["last_seen_at"] == "2027-02-10T15:00:00Z"


def test_an_announcement_the_writer_died_before_putting_still_reaches_the_bus(
    tmp_path, monkeypatch
):
    with Simulation(_many_triggers(tmp_path), start=START) as sim:
        tap = BusTap()
        sim.run([copy.deepcopy(LEA_DAY[0])], until=timedelta(0))
        crashing = _CrashBeforeTheLog(client("dynamodb"), prefix="A#")
        monkeypatch.setattr(transactions, "client", lambda _name: crashing)
        # her first delivery-page view puts her in segment last_minute (and decides 41
        # things): the write carries the announcement and the log entry, the function dies
        # after the profile's write, before either is put
        sim.run([copy.deepcopy(LEA_DAY[1])], until=timedelta(0))
        assert crashing.crashed == 1
        assert "last_minute" in (store.get_profile("lea").doc or {})["segments"]
        assert not [e for e in tap.events() if e["detail-type"] == "segment_entered"]

        # the queue delivers the view again: its write puts both; the sweeper announces
        sim.advance(parse_time("2027-02-10T15:00:00Z"))
        entered = [e for e in tap.events() if e["detail-type"] == "segment_entered"]
        assert [e["detail"]["properties"]["segment"] for e in entered] == ["last_minute"]
        assert [i for i in store.partition_items("lea") if i["kind"]["S"] == "announce"] == []
        assert len(_logged_at("lea", "14:30")) == 1
        assert _duplicates(sim, "lea") == ["page_viewed"]


def _gift_browsers(tmp_path: Any) -> Any:
    """MANY triggers on a view of the gifts page, for vip customers only."""
    files = {
        f"triggers/gift_{n:02d}.yaml": (
            f"id: gift_{n:02d}\n"
            "when: {event: page_viewed, where: {properties.path: {contains: /gifts}}}\n"
            "who: {segment: vip}\n"
            "channel: email\n"
            'email: {subject: "Gifts", text: "Hi. {{ unsubscribe_url }}"}\n'
        )
        for n in range(MANY)
    }
    return make_config(tmp_path, **files)


def _gift_view(cid: str, minute: int) -> dict[str, Any]:
    at = iso(parse_time("2027-02-10T15:00:00Z") + timedelta(minutes=minute))
    return event("page_viewed", cid, at, path=f"/pages/gifts/{minute}")


def test_an_event_that_only_missed_audiences_writes_no_log_item_and_explains_the_same(
    tmp_path, capsys
):
    from nudge.flows.privacy import export_customer

    with Simulation(_gift_browsers(tmp_path), start=START) as sim:
        sim.run([customer("gus", "2027-02-10T14:00:00Z", sms_ok=False)], until=timedelta(0))
        before = {i["sk"]["S"] for i in store.partition_items("gus")}
        sim.run([_gift_view("gus", 0)], until=timedelta(0))

        written = [i for i in store.partition_items("gus") if i["sk"]["S"] not in before]
        assert written == []  # the profile alone: its entry is kept in it
        misses = [
            d for d in sim.decisions() if d["customer_id"] == "gus" and d["at"] >= "2027-02-10T15"
        ]
        assert sorted((d["trigger"], d["outcome"], d["reason"]) for d in misses) == [
            (f"gift_{n:02d}", "suppressed", "audience") for n in range(MANY)
        ]
        out = _explain("gus", capsys)
        assert out.count("suppressed (audience:") == MANY
        assert out.count("because not in segment vip: lifetime_value 0 < 500") == MANY
        assert "earlier:" not in out

        # the privacy export lists them with the rest of the log
        exported = export_customer("gus")
        assert exported is not None
        assert [d["trigger"] for d in exported["decisions"] if d["reason"] == "audience"] == [
            d["trigger"] for d in misses
        ]
        assert "misses" not in exported["profile"]

        # the same decisions as a log item (as they were stored before): the same answer
        ddb = client("dynamodb")
        profile = _profile_item("gus")
        doc = store.profile_doc(profile)
        del doc["misses"]
        ddb.put_item(TableName=store.table(), Item={**profile, "doc": {"B": pack_profile(doc)}})
        ddb.put_item(
            TableName=store.table(),
            Item=store.decision_log_item([Decision(**d) for d in misses]),
        )
        assert _explain("gus", capsys) == out


def test_explain_says_when_audience_misses_kept_in_the_profile_are_no_longer_kept(tmp_path, capsys):
    with Simulation(_gift_browsers(tmp_path), start=START) as sim:
        sim.run([customer("gus", "2027-02-10T14:00:00Z", sms_ok=False)], until=timedelta(0))
        views = [_gift_view("gus", n) for n in range(store.MISSES_MAX + 2)]
        sim.run(views, until=timedelta(0))

        assert [i for i in store.partition_items("gus") if i["kind"]["S"] == "decision"] == [
            i
            for i in store.partition_items("gus")
            if i["kind"]["S"] == "decision" and i["sk"]["S"] < "D#2027-02-10T15"
        ]  # none of the views wrote a log item
        # the simulator's report still counts every one of them (it saw each kept)
        missed = [d for d in sim.decisions() if d["customer_id"] == "gus"]
        assert [d["reason"] for d in missed].count("audience") == MANY * len(views)
        out = _explain("gus", capsys)
        first, second, third = (v["detail"]["event_id"] for v in views[:3])
        assert first not in out and second not in out  # the two oldest are gone ...
        assert out.count(third) == MANY  # ... the next are all there
        assert (
            "earlier: 2 event(s) up to 2027-02-10T15:01:00Z decided only that the customer was "
            f"not in a trigger's audience; they are no longer kept (the profile keeps the last "
            f"{store.MISSES_MAX} such events)"
        ) in out


def test_explain_reads_entries_that_left_the_profile_together_as_one_item_per_decision(
    tmp_path, capsys
):
    texts = make_config(
        tmp_path,
        **{
            "triggers/viewed_text.yaml": (
                "id: viewed_text\n"
                "when: {event: product_viewed}\n"
                "channel: sms\n"
                'sms: {text: "Still looking? Reply STOP to opt out"}\n'
            )
        },
    )
    views = [
        event(
            "product_viewed",
            "zed",
            iso(parse_time("2027-02-10T15:00:00Z") + timedelta(minutes=3 * n)),
            product_id=f"p-{n}",
        )
        for n in range(30)
    ]  # each view is decided: no consent for texts
    with Simulation(texts, start=START) as sim:
        sim.run([customer("zed", "2027-02-10T14:00:00Z", sms_ok=False), *views], until=timedelta(0))
        moved = [
            i
            for i in store.partition_items("zed")
            if i["kind"]["S"] == "decision" and store.item_body(i).get("v") == 3
        ]
        assert moved  # some entries left the profile together, as one item
        out = _explain("zed", capsys)
        assert out.count("viewed_text: suppressed (no_consent") == len(views)

        # the same decisions as one item each, and none kept in the profile: the same answer
        decisions = store.decisions_for("zed")
        ddb = client("dynamodb")
        for item in store.partition_items("zed"):
            if item["kind"]["S"] == "decision":
                key = {"pk": item["pk"], "sk": item["sk"]}
                ddb.delete_item(TableName=store.table(), Key=key)
        profile = _profile_item("zed")
        doc = store.profile_doc(profile)
        del doc["misses"]
        ddb.put_item(TableName=store.table(), Item={**profile, "doc": {"B": pack_profile(doc)}})
        for d in decisions:
            ddb.put_item(TableName=store.table(), Item=store.decision_item(Decision(**d)))
        assert _explain("zed", capsys) == out
