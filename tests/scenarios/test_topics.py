"""Subscription topics (docs/config.md, "Topics"): consent per channel and topic, the channel's
switch as master. A customer who leaves "offers" still gets "new arrivals"; the one-click link of
a message leaves its topic only; an opt-in topic needs a yes; the master switch still stops all."""

from __future__ import annotations

from nudge.core.clock import parse_time
from nudge.flows import unsubscribe
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config
from tests.scenarios.test_unsubscribe_link import _one_click, _request

TOPICS = """
topics:
  offers: {description: "Offers and discounts"}
  new_arrivals: {description: "New arrivals"}
  previews: {description: "Private previews", default: opt_in}
"""


def _trigger(topic: str) -> str:
    return f"""id: {topic}_on_view
when: {{event: product_viewed}}
topic: {topic}
email:
  subject: "{topic}"
  text: "{topic} for {{{{ first_name | default('you') }}}}. Unsubscribe: {{{{ unsubscribe_url }}}}"
"""


def _config(tmp_path):
    files = {
        f"triggers/{t}_on_view.yaml": _trigger(t) for t in ("offers", "new_arrivals", "previews")
    }
    path = make_config(tmp_path, **files)
    settings = path / "settings.yaml"
    text = settings.read_text().replace("max: 2, per: 1d", "max: 9, per: 1d")
    settings.write_text(text + TOPICS)
    return path


def _choice(cid: str, at: str, topic: str | None, granted: bool) -> dict:
    properties = {"channel": "email", "granted": granted, "source": "preference_center"}
    if topic:
        properties["topic"] = topic
    env = event("consent_updated", cid, at, **properties)
    if not topic:
        env["detail"]["properties"].pop("topic", None)
    return env


def _view(cid: str, at: str) -> dict:
    return event("product_viewed", cid, at, event_id=f"{cid}-view-{at}")


def _got(sim, cid: str, since: str = "") -> list[str]:
    return sorted(
        m["subject"] for m in sim.messages() if m["customer_id"] == cid and m["at"] >= since
    )


def test_leaving_offers_keeps_new_arrivals_and_an_opt_in_topic_needs_a_yes(tmp_path):
    with Simulation(_config(tmp_path), start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [
                customer("ann", "2027-03-02T12:00:00Z"),
                _choice("ann", "2027-03-02T12:01:00Z", "offers", False),
                _view("ann", "2027-03-02T13:00:00Z"),
                customer("bob", "2027-03-02T12:00:00Z"),
                _choice("bob", "2027-03-02T12:01:00Z", "previews", True),
                _view("bob", "2027-03-02T13:00:00Z"),
                customer("cat", "2027-03-02T12:00:00Z"),
                _choice("cat", "2027-03-02T12:01:00Z", "new_arrivals", True),
                _choice("cat", "2027-03-02T12:02:00Z", None, False),  # the master switch
                _view("cat", "2027-03-02T13:00:00Z"),
            ],
            until=parse_time("2027-03-03T00:00:00Z"),
        )
        ann_offer = [
            d
            for d in sim.decisions()
            if d["customer_id"] == "ann" and d["trigger"] == "offers_on_view"
        ]
        assert _got(sim, "ann") == ["new_arrivals"]  # not offers, not previews (opt-in)
        assert _got(sim, "bob") == ["new_arrivals", "offers", "previews"]
        assert _got(sim, "cat") == []  # no email consent: no topic overrides it
        [decision] = ann_offer
        assert (decision["outcome"], decision["reason"]) == ("suppressed", "no_consent")
        assert decision["detail"]["topic"] == "offers"
        assert decision["detail"]["topics.offers.email"] is False
        assert sim.profiles()["ann"]["topics"] == {"offers": {"email": False}}
        assert sim.profiles()["ann"]["consent"]["email"] is True


def test_one_click_on_a_topic_message_leaves_that_topic_only(tmp_path):
    with Simulation(_config(tmp_path), start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [customer("dee", "2027-03-02T12:00:00Z"), _view("dee", "2027-03-02T13:00:00Z")],
            until=parse_time("2027-03-03T00:00:00Z"),
        )
        mail = next(m for m in sim.messages() if m["subject"] == "offers")
        link = mail["headers"]["List-Unsubscribe"][1:-1]
        page = unsubscribe.handle(_request("GET", link))["body"]
        assert "\u201cOffers and discounts\u201d emails" in page
        assert unsubscribe.handle(_one_click(link))["statusCode"] == 200

        sim.run([_view("dee", "2027-03-04T13:00:00Z")], until=parse_time("2027-03-05T00:00:00Z"))

        assert _got(sim, "dee", since="2027-03-04") == ["new_arrivals"]
        assert sim.profiles()["dee"]["consent"]["email"] is True
        assert sim.profiles()["dee"]["topics"] == {"offers": {"email": False}}


def test_a_cap_of_one_topic_limits_only_that_topic(tmp_path):
    """``frequency_caps: [{topic: offers, max: 1, per: 2d}]``: a second offer within two days
    waits; new arrivals are not held back by it. A cap group works the same way."""
    config = _config(tmp_path)
    settings = config / "settings.yaml"
    text = settings.read_text().replace(
        "  - {channel: any, max: 9, per: 1d}",
        "  - {channel: any, max: 9, per: 1d}\n  - {topic: offers, max: 1, per: 2d}",
    )
    settings.write_text(text)
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [
                customer("gus", "2027-03-02T12:00:00Z"),
                _view("gus", "2027-03-02T13:00:00Z"),
                _view("gus", "2027-03-03T13:00:00Z"),
            ],
            until=parse_time("2027-03-06T00:00:00Z"),
        )
        sent = [(m["subject"], m["at"][:10]) for m in sim.messages() if m["subject"] != "previews"]
        waits = [
            d["detail"]["cap"]
            for d in sim.decisions()
            if d["reason"] == "frequency_cap" and d["trigger"] == "offers_on_view"
        ]
    assert sent.count(("new_arrivals", "2027-03-02")) == 1
    assert sent.count(("new_arrivals", "2027-03-03")) == 1  # not held back by the offers cap
    assert ("offers", "2027-03-02") in sent
    assert ("offers", "2027-03-03") not in sent  # waits for the two days to pass
    assert ("offers", "2027-03-04") in sent
    assert waits == ["any 1/2d (topic offers)"]
