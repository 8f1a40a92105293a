"""At the moment of sending, the trigger (or campaign) must still be live: inside its ``active``
window, enabled, and still in the deployed config. A message held back by quiet hours, caps or a
``wait`` is otherwise ``suppressed`` / ``inactive`` and never reaches SES or SNS.

The sample last-minute text promises "order by Fri 2pm ET": its ``active.until`` is
2027-02-12T19:00:00Z (Friday 14:00 in New York).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nudge.config import get_config
from nudge.core.clock import parse_time
from nudge.core.delivery import holdout_reason
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config

CUT_OFF = "2027-02-12T19:00:00Z"
LAST_MINUTE = "triggers/last_minute_delivery.yaml"
ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


def _delivery_view(cid: str, at: str) -> dict:
    return event("page_viewed", cid, at, path="/pages/delivery", title="Delivery")


def _timeline(sim, cid: str, trigger: str) -> list[tuple[str, str, str | None]]:
    return [
        (d["at"], d["outcome"], d["reason"])
        for d in sim.decisions()
        if d["customer_id"] == cid and d["trigger"] == trigger
    ]


def _last(sim, cid: str, trigger: str) -> dict:
    return [d for d in sim.decisions() if d["customer_id"] == cid and d["trigger"] == trigger][-1]


def _redeploy(config_dir: Path, rel: str, text: str | None) -> None:
    """Deploy a changed config: handlers invoked from now on read it, as a new version's would."""
    path = config_dir / rel
    if text is None:
        path.unlink()
    else:
        path.write_text(text)
    get_config.cache_clear()


def test_a_text_held_by_quiet_hours_until_after_the_cut_off_is_dropped(sim):
    # Friday 22:00 in Tokyo (13:00Z): quiet until Saturday 08:00 there, 23:00Z, after 19:00Z
    sim.run(
        [
            customer("aiko", "2027-02-12T12:00:00Z", timezone="Asia/Tokyo"),
            _delivery_view("aiko", "2027-02-12T13:00:00Z"),
        ]
    )

    assert _timeline(sim, "aiko", "last_minute_delivery") == [
        ("2027-02-12T13:01:00Z", "deferred", "quiet_hours"),
        ("2027-02-12T23:00:00Z", "suppressed", "inactive"),
    ]
    dropped = _last(sim, "aiko", "last_minute_delivery")
    assert dropped["detail"] == {"at_send_time": True, "active_until": CUT_OFF}
    assert sim.messages() == []  # SNS never received it


def test_the_same_text_released_before_the_cut_off_goes_out(sim):
    # Thursday 22:00 in Tokyo: released Friday 08:00 there (Thursday 23:00Z), before the cut-off
    sim.run(
        [
            customer("akira", "2027-02-11T12:00:00Z", timezone="Asia/Tokyo"),
            _delivery_view("akira", "2027-02-11T13:00:00Z"),
        ]
    )

    [sms] = sim.messages()
    assert (sms["channel"], sms["at"]) == ("sms", "2027-02-11T23:00:00Z")
    assert "order by Fri 2pm ET" in sms["text"]


def test_a_text_held_by_the_daily_cap_until_after_the_cut_off_is_dropped(sim):
    cid = "carla"
    assert holdout_reason(cid, "last_minute_delivery", 5, "2027", 0) is None
    views = [
        event("product_viewed", cid, f"2027-02-12T09:{m}:00Z", product_id="p-7", name="Ring")
        for m in ("00", "10", "20")
    ]
    cart = event("cart_updated", cid, "2027-02-12T08:00:00Z", value=300.0, items=ITEMS)
    # two emails that morning fill the 2-a-day cap; the text at 09:00 ET must wait for the
    # window to free (Saturday 09:01Z), long after Friday 2pm
    sim.run(
        [
            customer(cid, "2027-02-12T07:00:00Z"),
            cart,
            *views,
            _delivery_view(cid, "2027-02-12T14:00:00Z"),
        ]
    )

    assert [m["channel"] for m in sim.messages()] == ["email", "email"]
    timeline = _timeline(sim, cid, "last_minute_delivery")
    assert timeline[0] == ("2027-02-12T14:01:00Z", "deferred", "frequency_cap")
    assert timeline[-1] == ("2027-02-13T09:01:01Z", "suppressed", "inactive")
    assert _last(sim, cid, "last_minute_delivery")["detail"]["active_until"] == CUT_OFF


def test_a_delivery_page_view_after_the_cut_off_sends_nothing(sim):
    sim.run([customer("dina", "2027-02-12T18:00:00Z"), _delivery_view("dina", CUT_OFF)])

    assert sim.messages() == []
    assert _timeline(sim, "dina", "last_minute_delivery") == [(CUT_OFF, "suppressed", "inactive")]
    assert _last(sim, "dina", "last_minute_delivery")["detail"] == {"active_until": CUT_OFF}


ORIGINAL = (CONFIG / LAST_MINUTE).read_text()
CHANGES = {
    "unchanged": (ORIGINAL, None),
    "disabled": (ORIGINAL.replace("enabled: true", "enabled: false"), {"enabled": False}),
    "removed": (None, {"trigger_removed": True}),
    "cut-off brought forward": (
        ORIGINAL.replace(CUT_OFF, "2027-02-11T12:00:00Z"),
        {"active_until": "2027-02-11T12:00:00Z"},
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_trigger_changed_while_its_text_waits_for_quiet_hours_to_end(tmp_path, change):
    text, detail = CHANGES[change]
    config = make_config(tmp_path)
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        # Wednesday 22:15 in New York: the text waits until Thursday 08:00 there (13:00Z)
        sim.run(
            [
                customer("owen", "2027-02-10T20:00:00Z"),
                _delivery_view("owen", "2027-02-11T03:15:00Z"),
            ],
            until=parse_time("2027-02-11T09:00:00Z"),
        )
        assert _timeline(sim, "owen", "last_minute_delivery")[-1][1:] == ("deferred", "quiet_hours")

        _redeploy(config, LAST_MINUTE, text)
        sim.run([], until=parse_time("2027-02-12T00:00:00Z"))
        last = _last(sim, "owen", "last_minute_delivery")
        messages = sim.messages()

    assert last["at"] == "2027-02-11T13:00:00Z"
    if detail is None:
        assert (last["outcome"], last["reason"]) == ("sent", None)
        assert [(m["channel"], m["at"]) for m in messages] == [("sms", "2027-02-11T13:00:00Z")]
    else:
        assert (last["outcome"], last["reason"]) == ("suppressed", "inactive")
        assert last["detail"] == {"at_send_time": True, **detail}
        assert messages == []


def _cart(cid: str, at: str) -> dict:
    return event("cart_updated", cid, at, value=300.0, items=ITEMS, event_id=f"{cid}-{at}")


def test_a_cart_reminder_whose_season_ends_during_its_wait_is_not_sent(sim):
    # the cart trigger runs until 2027-02-15T00:00Z; the hour's wait ends at 00:30Z
    sim.run([customer("eli", "2027-02-14T20:00:00Z"), _cart("eli", "2027-02-14T23:30:00Z")])

    assert sim.messages() == []
    assert _timeline(sim, "eli", "cart_jewelry_high_value") == [
        ("2027-02-14T23:30:00Z", "scheduled", None),
        ("2027-02-15T00:30:00Z", "suppressed", "inactive"),
    ]
    detail = _last(sim, "eli", "cart_jewelry_high_value")["detail"]
    assert detail == {"active_until": "2027-02-15T00:00:00Z"}


@pytest.mark.parametrize("removed", [False, True])
def test_a_cart_trigger_disabled_or_removed_during_its_wait_sends_nothing(tmp_path, removed):
    rel = "triggers/cart_jewelry_high_value.yaml"
    text = (
        None if removed else (CONFIG / rel).read_text().replace("enabled: true", "enabled: false")
    )
    config = make_config(tmp_path)
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run(
            [customer("fern", "2027-02-10T09:00:00Z"), _cart("fern", "2027-02-10T10:00:00Z")],
            until=parse_time("2027-02-10T10:30:00Z"),
        )
        _redeploy(config, rel, text)
        sim.run([], until=parse_time("2027-02-11T00:00:00Z"))
        timeline = _timeline(sim, "fern", "cart_jewelry_high_value")
        detail = _last(sim, "fern", "cart_jewelry_high_value")["detail"]
        messages = sim.messages()

    assert messages == []
    assert timeline == [
        ("2027-02-10T10:00:00Z", "scheduled", None),
        ("2027-02-10T11:00:00Z", "suppressed", "inactive"),
    ]
    assert detail == ({"trigger_removed": True} if removed else {"enabled": False})


def test_a_campaign_disabled_while_its_email_waits_for_quiet_hours_sends_nothing(tmp_path):
    settings = (
        (CONFIG / "settings.yaml")
        .read_text()
        .replace("channels: [sms]}", "channels: [sms, email]}")
    )
    config = make_config(tmp_path, **{"settings.yaml": settings})
    rel = "campaigns/monthly_value_tiers.yaml"
    disabled = (CONFIG / rel).read_text().replace("schedule:", "enabled: false\nschedule:")
    tokyo = [
        customer("kenji", "2025-11-01T00:00:00Z", timezone="Asia/Tokyo"),
        event("order_placed", "kenji", "2026-09-01T12:00:00Z", order_id="k-1", value=60.0),
        event("order_placed", "kenji", "2027-02-20T12:00:00Z", order_id="k-2", value=60.0),
    ]
    assert holdout_reason("kenji", "monthly_value_tiers", 5, "2027", 10) is None
    with Simulation(config, start=parse_time("2025-10-01T00:00:00Z"), daily=False) as sim:
        # 09:00 New York on March 1st is 23:00 in Tokyo: the email waits until 08:00 there
        sim.run(tokyo, until=parse_time("2027-03-01T15:00:00Z"))
        assert _timeline(sim, "kenji", "monthly_value_tiers")[-1][1:] == ("deferred", "quiet_hours")
        _redeploy(config, rel, disabled)
        sim.run([], until=parse_time("2027-03-03T00:00:00Z"))
        last = _last(sim, "kenji", "monthly_value_tiers")
        mails = [m for m in sim.messages() if m["at"] >= "2027-03-01"]

    assert mails == []
    assert (last["at"], last["outcome"], last["reason"]) == (
        "2027-03-01T23:00:00Z",
        "suppressed",
        "inactive",
    )
    assert last["detail"] == {"at_send_time": True, "enabled": False}


CAP_ONE_A_DAY = (
    (CONFIG / "settings.yaml")
    .read_text()
    .replace("  - {channel: any, max: 2, per: 1d}", "  - {channel: any, max: 1, per: 1d}")
    .replace("holdout: {percent: 5", "holdout: {percent: 0")
    # config may name only known or declared events (settings.yaml custom_events)
    + "  promo_seen: {description: A promotion shown on the site}\n"
)
FLASH_SALE = """\
id: flash_sale
when: {event: promo_seen}
active: {until: "2027-02-10T15:00:30Z"}
priority: 90
channel: email
email: {subject: "Flash sale", text: "30 seconds only"}
"""
NEWSLETTER = """\
id: newsletter
when: {event: promo_seen}
priority: 10
channel: email
email: {subject: "News", text: "This week"}
"""


def test_a_higher_priority_message_past_its_window_does_not_take_the_cap_slot(tmp_path):
    config = make_config(
        tmp_path,
        **{
            "settings.yaml": CAP_ONE_A_DAY,
            "triggers/flash_sale.yaml": FLASH_SALE,
            "triggers/newsletter.yaml": NEWSLETTER,
        },
    )
    promo = event("promo_seen", "pia", "2027-02-10T15:00:00Z", base="wishlist_added")
    with Simulation(config, start=parse_time("2027-02-10T00:00:00Z")) as sim:
        sim.run([customer("pia", "2027-02-10T14:00:00Z"), promo])
        messages = [(m["trigger"], m["at"]) for m in sim.messages()]
        flash = _last(sim, "pia", "flash_sale")

    # both were decided at 15:00 and wait the 1-minute arbitration window; by 15:01 the flash
    # sale is over, so the one slot of the day goes to the newsletter at once
    assert (flash["outcome"], flash["reason"]) == ("suppressed", "inactive")
    assert messages == [("newsletter", "2027-02-10T15:01:00Z")]
