"""The handlers started from the compiled-config artefact (``nudge validate --compile``, what
``make build`` deploys; docs/deploy.md) decide as from the YAML: the cart rescue journey
(tests/scenarios/test_journeys.py) played through the real handlers with the config every
function rebuilt from the artefact, as plain objects, without pydantic's models."""

from __future__ import annotations

from pathlib import Path

from nudge.config.artefact import write_artefact
from nudge.config.plain import Plain
from nudge.core.clock import parse_time
from tests.conftest import customer, event
from tests.scenarios.test_engagement import Shop
from tests.scenarios.test_journeys import (
    EMAIL_AT,
    OFFER_AT,
    TEXT_AT,
    cart,
    control_customer,
    journey_config,
    path,
    sent,
)


def test_the_cart_rescue_journey_from_the_artefact(tmp_path: Path) -> None:
    config = journey_config(tmp_path)
    write_artefact(config)
    ctl = control_customer()
    people = ["orders", "ignores", ctl]
    setup = [customer(cid, "2027-02-08T14:00:00Z") for cid in people]
    setup.append(customer("notext", "2027-02-08T14:00:00Z", sms_ok=False))
    carts = [cart(cid) for cid in [*people, "notext"]]
    order = event("order_placed", "orders", "2027-02-08T18:00:00Z", order_id="o-1", value=300.0)
    with Shop(config, start=parse_time("2027-02-01T00:00:00Z")) as shop:
        from nudge.flows.common import current_config

        # what every handler of this run decided with: the artefact's plain models
        assert isinstance(current_config().settings, Plain)
        assert isinstance(current_config().triggers["cart_rescue"].model, Plain)
        shop.run([*setup, *carts, order], until=parse_time("2027-02-14T00:00:00Z"))

        # ordered after the first email: the journey ended there
        assert sent(shop, "orders") == [("email", "remind", EMAIL_AT)]
        assert path(shop, "orders")[-1] == ("exited", "exit_if", "wait2")
        # ignored everything: email, the text the next day, the offer on Friday 10:00 New York
        assert sent(shop, "ignores") == [
            ("email", "remind", EMAIL_AT),
            ("sms", "text", TEXT_AT),
            ("email", "offer", OFFER_AT),
        ]
        assert ("split", None, "ab") in path(shop, "ignores")
        # no SMS consent: the text is suppressed, the offer still goes
        assert sent(shop, "notext") == [("email", "remind", EMAIL_AT), ("email", "offer", OFFER_AT)]
        assert ("suppressed", "no_consent", "text") in path(shop, "notext")
        # the global control group: through the journey, never a message
        assert sent(shop, ctl) == []
        assert ("held_out", "global", "remind") in path(shop, ctl)
