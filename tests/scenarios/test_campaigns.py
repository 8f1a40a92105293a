"""The monthly value-tier campaign: on the 1st at 09:00 shop time, every customer with consent in
each tier gets that tier's variant once, through the same consent, caps, quiet hours and control
groups as triggers."""

from __future__ import annotations

from nudge.core.clock import parse_time
from nudge.core.delivery import holdout_reason
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

RUN = "2027-03-01T14:00:00Z"  # 09:00 in New York


def _order(cid: str, at: str, n: int) -> dict:
    return event("order_placed", cid, at, order_id=f"{cid}-o{n}", value=60.0)


# (customer, first order, last order, expected tier on March 1st)
HISTORY = [
    ("champ", "2025-12-01T12:00:00Z", "2027-02-20T12:00:00Z", "champion"),
    ("loyal", "2026-09-01T12:00:00Z", "2027-02-20T12:00:00Z", "loyal"),
    ("rise", "2027-01-20T12:00:00Z", "2027-02-20T12:00:00Z", "rising"),
    ("stead", "2026-09-01T12:00:00Z", "2027-01-10T12:00:00Z", "steady"),
    ("fade", "2026-06-01T12:00:00Z", "2026-11-15T12:00:00Z", "fading"),
    ("gone", "2026-01-05T12:00:00Z", "2026-08-01T12:00:00Z", "lost"),
]
VARIANT_SUBJECT = {
    "champion": "early access",
    "loyal": "early access",
    "fading": "saved",
    "rising": "New this month",
    "steady": "New this month",
}


def _events(extra: list[dict] | None = None) -> list[dict]:
    out = []
    for cid, first, last, _tier in HISTORY:
        out += [customer(cid, "2025-11-01T00:00:00Z"), _order(cid, first, 1), _order(cid, last, 2)]
    return out + (extra or [])


def test_each_tier_gets_its_variant_once_at_0900_shop_time():
    with Simulation(CONFIG, start=parse_time("2025-10-01T00:00:00Z"), daily=False) as sim:
        sim.run(_events(), until=parse_time("2027-03-05T00:00:00Z"))
        # it runs on every 1st; look at March's run
        messages = [
            m for m in sim.messages() if m["trigger"] == "monthly_value_tiers" and m["at"] >= RUN
        ]
        decisions = [
            d for d in sim.decisions() if d["trigger"] == "monthly_value_tiers" and d["at"] >= RUN
        ]

    by_customer = {m["customer_id"]: m for m in messages}
    for cid, _first, _last, tier in HISTORY:
        held = holdout_reason(cid, "monthly_value_tiers", 5, "2027", 10)
        if tier == "lost":
            assert cid not in by_customer and not [d for d in decisions if d["customer_id"] == cid]
        elif held:
            assert cid not in by_customer
            assert [d["outcome"] for d in decisions if d["customer_id"] == cid] == ["held_out"]
        else:
            mail = by_customer[cid]
            assert VARIANT_SUBJECT[tier] in mail["subject"], (cid, mail["subject"])
            assert RUN <= mail["at"] <= "2027-03-01T14:05:00Z"
    assert len(messages) == len({m["customer_id"] for m in messages})  # once each


# The sample last-minute SMS stops at its Valentine's cut-off (Feb 12); this test needs a second
# trigger message on Feb 28, so it runs a copy of that trigger without the cut-off.
NO_CUTOFF = "\n".join(
    line
    for line in (CONFIG / "triggers" / "last_minute_delivery.yaml").read_text().splitlines()
    if not line.startswith("active:")
)


def test_no_consent_no_campaign_and_caps_are_shared_with_triggers(tmp_path):
    config = make_config(tmp_path, **{"triggers/last_minute_delivery.yaml": NO_CUTOFF})
    extra = [
        customer("quiet", "2025-11-01T00:00:00Z", email_ok=False),
        _order("quiet", "2026-09-01T12:00:00Z", 1),
        _order("quiet", "2027-02-20T12:00:00Z", 2),
        # "loyal" gets two trigger messages the day before (browse email, last-minute SMS):
        # the 2-a-day cap is full at 09:00
        *[
            event(
                "product_viewed", "loyal", f"2027-02-28T{h}:00:00Z", product_id="p-7", name="Ring"
            )
            for h in (16, 17, 18)
        ],
        event("page_viewed", "loyal", "2027-02-28T19:30:00Z", path="/pages/delivery"),
    ]
    with Simulation(config, start=parse_time("2025-10-01T00:00:00Z"), daily=False) as sim:
        sim.run(_events(extra), until=parse_time("2027-03-05T00:00:00Z"))
        decisions = [
            (d["customer_id"], d["outcome"], d["reason"], d["at"])
            for d in sim.decisions()
            if d["trigger"] == "monthly_value_tiers" and d["at"] >= RUN
        ]
        loyal_mail = [
            m
            for m in sim.messages()
            if m["customer_id"] == "loyal"
            and m["trigger"] == "monthly_value_tiers"
            and m["at"] >= RUN
        ]

    assert ("quiet", "suppressed", "no_consent", RUN) in decisions
    loyal = [(o, r) for c, o, r, _ in decisions if c == "loyal"]
    assert loyal[0] == ("deferred", "frequency_cap")
    assert loyal[-1] == ("sent", None)
    # it goes when the browse email's 24 hours have passed
    assert loyal_mail[0]["at"] == "2027-03-01T18:01:01Z"


def test_campaign_email_waits_for_quiet_hours_in_the_customers_time_zone(tmp_path):
    settings = (
        (CONFIG / "settings.yaml")
        .read_text()
        .replace("channels: [sms]}", "channels: [sms, email]}")
    )
    config = make_config(tmp_path, **{"settings.yaml": settings})
    tokyo = [
        customer("kenji", "2025-11-01T00:00:00Z", timezone="Asia/Tokyo"),
        _order("kenji", "2026-09-01T12:00:00Z", 1),
        _order("kenji", "2027-02-20T12:00:00Z", 2),
    ]
    assert holdout_reason("kenji", "monthly_value_tiers", 5, "2027", 10) is None
    with Simulation(config, start=parse_time("2025-10-01T00:00:00Z"), daily=False) as sim:
        sim.run(tokyo, until=parse_time("2027-03-03T00:00:00Z"))
        [mail] = [m for m in sim.messages() if m["customer_id"] == "kenji" and m["at"] >= RUN]
        outcomes = [
            (d["outcome"], d["reason"])
            for d in sim.decisions()
            if d["customer_id"] == "kenji" and d["at"] >= RUN
        ]

    # 09:00 New York is 23:00 in Tokyo: the email waits until 08:00 there (23:00Z)
    assert outcomes == [("deferred", "quiet_hours"), ("sent", None)]
    assert mail["at"] == "2027-03-01T23:00:00Z"
