"""Templates in the customer's language (docs/config.md, "Locales"): the `locale` trait picks a
translation, `fr-CA` falls back to `fr`, an unserved or missing locale gets the template's own text,
and the one-click unsubscribe header is there in every language."""

from __future__ import annotations

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import customer, event, make_config

TEMPLATE = """name: cart_reminder
subject: "{{ first_name | default('Hi') }}, your cart is waiting"
html: '<p>Your {{ event.properties.items[0].name }} is waiting.</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>'
text: "Your {{ event.properties.items[0].name }} is waiting. Unsubscribe: {{ unsubscribe_url }}"
locales:
  fr:
    subject: "{{ first_name | default('Bonjour') }}, votre panier vous attend"
    html: '<p>Votre {{ event.properties.items[0].name }} vous attend.</p><a href="{{ unsubscribe_url }}">Se désinscrire</a>'
    text: "Votre {{ event.properties.items[0].name }} vous attend. Se désinscrire : {{ unsubscribe_url }}"
  pt_BR:
    subject: "{{ first_name | default('Oi') }}, seu carrinho está esperando"
    html: '<p>Seu {{ event.properties.items[0].name }} está esperando.</p><a href="{{ unsubscribe_url }}">Cancelar</a>'
    text: "Seu {{ event.properties.items[0].name }} está esperando. Cancelar: {{ unsubscribe_url }}"
"""
ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_each_customer_gets_the_cart_reminder_in_their_language(tmp_path, backend):
    config = make_config(tmp_path, **{"templates/cart_reminder.yaml": TEMPLATE})
    people = {"ann": "fr-CA", "bea": "pt-br", "cid": "de", "dee": None, "eve": "FR"}
    start = parse_time("2027-02-03T00:00:00Z")
    with Simulation(config, start=start, backend=backend) as sim:
        day = []
        for cid, locale in people.items():
            day.append(customer(cid, "2027-02-03T09:00:00Z", locale=locale))
            day.append(event("cart_updated", cid, "2027-02-03T10:00:00Z", value=300.0, items=ITEMS))
        sim.run(day, until=parse_time("2027-02-04T00:00:00Z"))
        got = {m["customer_id"]: m for m in sim.messages()}

    assert sorted(got) == sorted(people)
    assert got["ann"]["subject"] == "Ann, votre panier vous attend"  # fr-CA -> fr
    assert got["eve"]["subject"] == "Eve, votre panier vous attend"  # case does not matter
    assert "Votre Ring vous attend" in got["ann"]["text"]
    assert got["bea"]["subject"] == "Bea, seu carrinho está esperando"  # pt_BR = pt-br
    assert "Seu Ring está esperando" in (got["bea"]["html"] or "")
    assert got["cid"]["subject"] == "Cid, your cart is waiting"  # no German: the default
    assert got["dee"]["subject"] == "Dee, your cart is waiting"  # no locale: the default
    for message in got.values():
        assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
