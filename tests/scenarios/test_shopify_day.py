"""Shopify as it really arrives.

The sample storefront day sent the Shopify way (webhooks through the partner source, browsing
from the pixel) reaches the same decisions and messages as the native day; Shopify's published
examples go through the real ingest handler; a shop that has nothing but Shopify reaches its
customers (consent from customer records, addresses from orders and checkouts, guests known by
their email); test orders are not revenue; topics nudge does not map are visible.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from nudge.adapters import adapt_with_reason
from nudge.core.clock import parse_time
from nudge.sim import Simulation
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS
from tests.make_shopify_day import (
    SHOPIFY_DAY,
    _held_out,
    customer_ids,
    read_native,
    render,
    shopify_day,
)
from tests.partners import (
    FIXTURES,
    checkout,
    consent_update,
    customer_create,
    line_item,
    order,
    recovery_url,
    shopify,
)


def _simulate(path):
    with Simulation(CONFIG) as sim:
        sim.run(read_events(path))
        return sim.output()


def test_the_shopify_day_reaches_the_same_decisions_as_the_native_day():
    # Given the same day, native and in Shopify format, with Shopify's ids for the same customers
    ids = customer_ids(read_native())

    # When each is simulated with the sample config
    native = _simulate(EVENTS / "sample_day.jsonl")
    shopify = _simulate(SHOPIFY_DAY)

    # Then every customer went through the same (trigger, outcome, reason) steps
    def steps(out, rename=lambda c: c):
        return Counter(
            (rename(d["customer_id"]), d["trigger"], d["outcome"], d["reason"])
            for d in out["decisions"]
        )

    assert steps(shopify) == steps(native, ids.get)
    assert len(native["decisions"]) > 30  # the day exercises most paths, not nothing
    # and got the same messages, on the same channels
    sent = Counter((m["customer_id"], m["trigger"], m["channel"]) for m in shopify["messages"])
    assert sent == Counter(
        (ids[m["customer_id"]], m["trigger"], m["channel"]) for m in native["messages"]
    )
    assert shopify["dead_letters"] == []
    # the refund found its customer through the order index, to the cent
    tess = ids["c-021"]
    assert (
        shopify["profiles"][tess]["lifetime_value"]
        == native["profiles"]["c-021"]["lifetime_value"]
        == 460.0
    )


def test_the_shopify_day_file_is_what_the_generator_writes():
    # events/shopify_day.jsonl is generated from events/sample_day.jsonl: regenerate it with
    # `python -m tests.make_shopify_day` after changing the native day
    assert SHOPIFY_DAY.read_text() == render(shopify_day())


def test_shopify_ids_are_kept_digit_for_digit_in_the_file():
    lines = [json.loads(line) for line in SHOPIFY_DAY.read_text().splitlines()]
    webhooks = [e for e in lines if e["detail-type"] == "shopifyWebhook"]
    pixel = [e for e in lines if e["source"] == "shop.storefront"]
    assert webhooks and pixel
    assert {e["detail-type"] for e in pixel} <= {
        "product_viewed",
        "page_viewed",
        "checkout_started",
        "wishlist_added",
        "customer_updated",
    }
    big = [e["detail"]["payload"]["id"] for e in webhooks if "id" in e["detail"]["payload"]]
    assert all(isinstance(i, int) and i > 2**53 for i in big if i > 10**15)


# ---------------------------------------------------------------------------------------------
# Shopify as it really arrives: Shopify's published bodies and topic names, a Shopify-only shop
# ---------------------------------------------------------------------------------------------

BOB = 706405506930370084  # Shopify's example customer (its GID's digits)
KIM, LOU, MAX, NED = 115310627314724002, 115310627314724101, 115310627314724201, 115310627314724301
# the sample cart trigger wants 150+ of jewelry or fragrance between 2027-02-01 and 02-15;
# Shopify's line items have no product type (docs/sources.md, "Product categories")
NANO = line_item(632910392, "IPod Nano - 8GB", "199.00", product_type="jewelry")


def test_the_test_customers_are_not_in_a_control_group():
    assert all(not any(_held_out(str(c))) for c in (BOB, KIM, LOU, MAX, NED))


def _delivered(path: str, at: str = "2027-02-10T14:00:00Z", **payload: object) -> dict:
    """Shopify's published example of a topic, through the partner source (fields overridden)."""
    doc = json.loads((FIXTURES / f"{path}.json").read_text())
    body = {**doc["response"], **payload}
    return shopify(doc["name"], body, at, key=path, sample_name="shopify_orders_create")


def _sent(sim):
    return [(m["customer_id"], m["trigger"], m["channel"], m["to"]) for m in sim.messages()]


def test_a_shopify_only_shop_reminds_a_customer_who_opted_in_when_created(sim):
    # Given a customer created in Shopify with email consent (customers/create up to API
    # 2024-10 carries email_marketing_consent), then a 398.00 checkout and no order
    sim.run(
        [
            customer_create(
                BOB,
                "2027-02-10T14:00:00Z",
                email="bob@biller.com",
                phone=None,
                first_name="Bob",
                consent={"email": "subscribed"},
            ),
            checkout(
                BOB,
                "tok-bob",
                "398.00",
                [NANO, NANO],
                "2027-02-10T14:03:00Z",
                email="bob@biller.com",
            ),
        ]
    )

    # Then the cart reminder goes to him an hour later, with Shopify's recovery link
    assert _sent(sim) == [(str(BOB), "cart_jewelry_high_value", "email", "bob@biller.com")]
    message = sim.messages()[0]
    assert recovery_url("tok-bob") in message["text"]
    assert "2027-02-10T15:03:00Z" <= message["at"] <= "2027-02-10T15:05:00Z"
    assert sim.profiles()[str(BOB)]["consent"] == {"email": True}
    assert sim.dead_letters() == []


def test_a_customer_known_only_from_a_checkout_email_gets_the_reminder_there(sim):
    # Given a customer nudge knows only from the consent topic (no customers/* webhook) and
    # a checkout that carries her email
    sim.run(
        [
            consent_update(KIM, "email", "subscribed", "2027-02-10T13:00:00Z"),
            checkout(
                KIM,
                "tok-kim",
                "398.00",
                [NANO, NANO],
                "2027-02-10T14:03:00Z",
                email="kim@example.com",
            ),
        ]
    )

    # Then the reminder goes to the checkout's address (before: suppressed/no_address)
    assert _sent(sim) == [(str(KIM), "cart_jewelry_high_value", "email", "kim@example.com")]
    assert [d["reason"] for d in sim.decisions() if d["outcome"] == "suppressed"] == []


def test_an_order_email_is_kept_for_later_messages_but_never_replaces_the_customers_own(sim):
    # Given an order (with the buyer's email) from a customer with consent and no record yet
    sim.run(
        [
            consent_update(MAX, "email", "subscribed", "2027-02-09T10:00:00Z"),
            order(
                MAX,
                9100000000000000001,
                "20.00",
                [line_item(1, "Card", "20.00")],
                "2027-02-09T11:00:00Z",
                email="max.orders@example.com",
            ),
            # When a checkout without any email follows
            checkout(MAX, "tok-max", "398.00", [NANO, NANO], "2027-02-10T14:03:00Z"),
        ]
    )
    # Then the reminder goes to the order's address
    assert _sent(sim) == [(str(MAX), "cart_jewelry_high_value", "email", "max.orders@example.com")]

    # And the customer's own record wins over any order or checkout address, old or new
    sim.run(
        [
            customer_create(
                MAX,
                "2027-02-10T16:00:00Z",
                email="max@example.com",
                phone=None,
                first_name="Max",
                topic="customers/update",
            ),
            order(
                MAX,
                9100000000000000002,
                "20.00",
                [line_item(1, "Card", "20.00")],
                "2027-02-10T17:00:00Z",
                email="max.other@example.com",
            ),
        ]
    )
    assert sim.profiles()[str(MAX)]["email"] == "max@example.com"


@pytest.mark.keeps({"cart_updated": ["cart_id"]})
def test_a_guest_checkout_is_merged_into_the_customer_who_signs_up_with_that_email(sim):
    # Given a guest checkout (no customer object, only the email typed at checkout)
    guest = checkout(
        None, "tok-guest-1", "398.00", [NANO, NANO], "2027-02-10T14:03:00Z", email="Lou@Example.com"
    )
    # When the buyer becomes a customer with that email and opts in, then checks out again as
    # a guest with the same address
    sim.run(
        [
            guest,
            customer_create(
                LOU,
                "2027-02-10T14:10:00Z",
                email="lou@example.com",
                phone=None,
                first_name="Lou",
                consent={"email": "subscribed"},
            ),
            checkout(
                None,
                "tok-guest-2",
                "398.00",
                [NANO, NANO],
                "2027-02-10T14:20:00Z",
                email="LOU@example.com ",
            ),
        ]
    )

    # Then the first cart is the customer's (merged) and the second one is reminded to her
    profiles = sim.profiles()
    lou = profiles[str(LOU)]
    assert [a[:6] for a in lou["aliases"]] == ["email:"]
    assert lou["aliases"][0] not in profiles  # the email's profile is now a stub pointing at Lou
    carts = [h["properties"]["cart_id"] for h in lou["history"] if h["type"] == "cart_updated"]
    assert carts == ["tok-guest-1", "tok-guest-2"]
    assert _sent(sim) == [(str(LOU), "cart_jewelry_high_value", "email", "lou@example.com")]
    assert recovery_url("tok-guest-2") in sim.messages()[0]["text"]


def test_a_test_order_is_not_revenue(sim, capsys):
    from nudge import cli

    # Given a customer's test order (Shopify's "test": true) and a real order
    sim.run(
        [
            customer_create(
                NED, "2027-02-10T09:00:00Z", email="ned@example.com", phone=None, first_name="Ned"
            ),
            order(
                NED,
                9200000000000000001,
                "500.00",
                [line_item(2, "Ring", "500.00")],
                "2027-02-10T10:00:00Z",
                email="ned@example.com",
                test=True,
            ),
            order(
                NED,
                9200000000000000002,
                "80.00",
                [line_item(3, "Scarf", "80.00")],
                "2027-02-10T11:00:00Z",
                email="ned@example.com",
            ),
        ]
    )

    # Then only the real order counts, and the test order is counted as skipped, with why
    ned = sim.profiles()[str(NED)]
    assert (ned["orders_count"], ned["lifetime_value"]) == (1, 80.0)
    assert sim.dead_letters() == []
    assert cli.main(["sources", "--table", "nudge-sim"]) == 0
    rows = {
        line.split()[1]: line.split()
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("shopify")
    }
    assert rows["orders/create"][2:5] == ["1", "1", "0"]  # mapped, skipped, unmapped
    assert 'test order ("test": true)' in " ".join(rows["orders/create"])


@pytest.mark.parametrize(
    ("state", "alone", "after_a_grant"),
    [
        ("subscribed", {"email": True}, {"email": True}),
        ("pending", {"email": False}, {"email": False}),
        ("unsubscribed", {"email": False}, {"email": False}),
        ("redacted", {"email": False}, {"email": False}),
        ("invalid", {"email": False}, {"email": False}),
        ("not_subscribed", {}, {"email": False}),  # never subscribed: no record of its own
        ("maybe", {}, {"email": True}),  # not a documented state: unchanged
    ],
)
def test_each_consent_state_of_a_customer_record(sim, state, alone, after_a_grant):
    # Given a customers/create carrying the state, for a new customer and for one who granted
    # consent through the consent topic before
    sim.run(
        [
            customer_create(
                BOB,
                "2027-02-10T09:00:00Z",
                email="bob@biller.com",
                phone=None,
                first_name="Bob",
                consent={"email": state},
            ),
            consent_update(KIM, "email", "subscribed", "2027-02-10T08:00:00Z"),
            customer_create(
                KIM,
                "2027-02-10T09:00:00Z",
                email="kim@example.com",
                phone=None,
                first_name="Kim",
                consent={"email": state},
                topic="customers/update",
            ),
        ]
    )

    # Then the profile's consent is as documented in docs/sources.md
    profiles = sim.profiles()
    assert profiles[str(BOB)]["consent"] == alone
    assert profiles[str(KIM)]["consent"] == after_a_grant
    if state == "maybe":  # and why nothing changed is kept with the event ingest applies
        record = customer_create(
            BOB,
            "2027-02-10T09:00:00Z",
            email=None,
            phone=None,
            first_name="Bob",
            consent={"email": state},
        )
        [update] = adapt_with_reason(record).events
        ignored = update["detail"]["properties"]["consent_ignored"]["email"]
        assert "'maybe' is not a documented state" in ignored


def test_not_subscribed_does_not_block_a_shop_that_emails_unless_withdrawn(sim, tmp_path):
    # settings `consent: {email: opt_out}`: a customer Shopify reports as never subscribed has not
    # withdrawn anything, so is not recorded as refusing (unsubscribed is)
    sim.run(
        [
            consent_update(
                BOB, "email", "not_subscribed", "2027-02-10T09:00:00Z", address="bob@biller.com"
            ),
            consent_update(
                KIM, "email", "unsubscribed", "2027-02-10T09:00:00Z", address="kim@example.com"
            ),
        ]
    )
    profiles = sim.profiles()
    assert profiles[str(BOB)]["consent"] == {} and profiles[str(BOB)]["email"] == "bob@biller.com"
    assert profiles[str(KIM)]["consent"] == {"email": False}


def test_shopifys_published_examples_through_the_ingest_handler(sim):
    from nudge.flows import ingest

    # Given Shopify's published example of every topic nudge maps, delivered in the partner
    # envelope (the order made a real one: Shopify's example is a test order), that day
    sim.advance(parse_time("2027-02-10T15:00:00Z"))
    results = [
        ingest.handle(_delivered("2026-04/customers/create")),
        ingest.handle(_delivered("2026-04/customers_email_marketing_consent/update")),
        ingest.handle(_delivered("2023-07/customers_marketing_consent/update")),
        ingest.handle(_delivered("2026-04/checkouts/create")),
        ingest.handle(_delivered("2026-04/checkouts/update")),
        ingest.handle(_delivered("2026-04/orders/create")),
        ingest.handle(_delivered("2026-04/orders/create", test=False)),
        ingest.handle(_delivered("2026-04/refunds/create")),
        ingest.handle(_delivered("2024-10/customers/create", email="bob@biller.com")),
    ]

    # Then each is applied or skipped with its reason; none is dead-lettered
    assert [r.get("customer_id") or r.get("skipped") for r in results] == [
        "706405506930370000",
        "706405506930370000",
        "sms_marketing_consent.state None is not a documented state: sms consent unchanged",
        "603851970716743400",
        "603851970716743400",
        'test order ("test": true): not a sale, so no revenue and no messages',
        "115310627314723950",
        "115310627314723950",
        "706405506930370000",
    ]
    assert sim.dead_letters() == []
    profiles = sim.profiles()
    bob, john, buyer = (
        profiles[c] for c in ("706405506930370000", "603851970716743400", "115310627314723950")
    )
    assert (bob["email"], bob["consent"]) == ("bob@biller.com", {})  # not_subscribed: no record
    assert (john["email"], john["cart"]["value"]) == ("john@example.com", 421.88)
    assert (buyer["email"], buyer["lifetime_value"]) == ("john@example.com", 319.95)  # 404.95-85


def test_a_topic_nudge_does_not_map_is_counted_logged_once_and_listed(sim, capsys, caplog):
    from nudge import cli
    from nudge.flows import ingest

    # Given a shop that subscribed a topic nudge has no mapping for, besides mapped ones, that day
    sim.advance(parse_time("2027-02-10T15:00:00Z"))

    def unmapped(n: int) -> dict:
        return shopify(
            "products/create",
            {"id": n},
            f"2027-02-10T1{n}:00:00Z",
            key=f"prod-{n}",
            sample_name="shopify_orders_create",
        )

    with caplog.at_level("WARNING", logger="nudge.ingest"):
        for n in range(3):
            ingest.handle(unmapped(n))
        ingest.handle(checkout(KIM, "tok-k", "10.00", [NANO], "2027-02-10T14:00:00Z"))

    # Then it is logged once, by name, and `nudge sources` lists it with its count
    logged = [r.getMessage() for r in caplog.records if "products/create" in r.getMessage()]
    assert len(logged) == 1 and "not mapped by nudge" in logged[0]
    assert cli.main(["sources", "--table", "nudge-sim"]) == 0
    out = capsys.readouterr().out
    lines = {tuple(line.split()[:5]) for line in out.splitlines()}
    assert ("shopify", "products/create", "0", "0", "3") in lines
    assert ("shopify", "checkouts/create", "1", "0", "0") in lines
    assert "3 event(s) of topics nudge does not map" in out


def test_a_repeated_customer_record_does_not_undo_an_unsubscribe_made_through_nudge(sim):
    from urllib.parse import parse_qs, urlparse

    from nudge.flows import unsubscribe

    # Given a customer subscribed in Shopify (API 2024-10 customer webhooks carry the state)
    # who got a cart reminder and unsubscribed with its one-click link
    sim.run(
        [
            customer_create(
                BOB,
                "2027-02-03T09:00:00Z",
                email="bob@biller.com",
                phone=None,
                first_name="Bob",
                consent={"email": "subscribed"},
            ),
            checkout(BOB, "tok-1", "398.00", [NANO, NANO], "2027-02-03T10:00:00Z"),
        ]
    )
    [mail] = sim.messages()
    token = parse_qs(urlparse(mail["headers"]["List-Unsubscribe"][1:-1]).query)["t"][0]
    done = unsubscribe.handle(
        {
            "requestContext": {"http": {"method": "POST"}},
            "queryStringParameters": {"t": token},
            "body": "List-Unsubscribe=One-Click",
        }
    )
    assert done["statusCode"] == 200
    assert sim.profiles()[str(BOB)]["consent"] == {"email": False}

    # When Shopify sends customers/update for another change, repeating the state it holds
    # (still "subscribed", changed at the same time), and he leaves another cart
    sim.run(
        [
            customer_create(
                BOB,
                "2027-02-05T09:00:00Z",
                email="bob@biller.com",
                phone=None,
                first_name="Bob",
                topic="customers/update",
                consent={"email": "subscribed"},
                consent_at="2027-02-03T09:00:00Z",
            ),
            checkout(BOB, "tok-2", "398.00", [NANO, NANO], "2027-02-12T10:00:00Z"),
        ]
    )

    # Then he stays unsubscribed: no second reminder
    assert sim.profiles()[str(BOB)]["consent"] == {"email": False}
    assert len(sim.messages()) == 1
    assert sim.decisions()[-1]["reason"] == "no_consent"

    # But subscribing again in Shopify (a new consent_updated_at) is a change, and counts
    sim.run(
        [
            customer_create(
                BOB,
                "2027-02-13T09:00:00Z",
                email="bob@biller.com",
                phone=None,
                first_name="Bob",
                topic="customers/update",
                consent={"email": "subscribed"},
            ),
        ]
    )
    assert sim.profiles()[str(BOB)]["consent"] == {"email": True}


def test_nudge_sources_says_which_table_it_needs(monkeypatch, capsys):
    from nudge import cli

    monkeypatch.delenv("NUDGE_TABLE", raising=False)
    assert cli.main(["sources"]) == 2
    assert "give --table or set NUDGE_TABLE" in capsys.readouterr().err
