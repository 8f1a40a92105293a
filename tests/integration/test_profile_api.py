"""The profile API through its Lambda handler, as API Gateway (payload 2.0) calls it: what the
website reads, what an unsigned or unknown request gets, and that docs/openapi.yaml matches."""

from __future__ import annotations

import json

import pytest
import yaml

from nudge.core.clock import parse_time
from nudge.flows import api
from tests.conftest import EVENTS, ROOT, customer, event


def _put(sim, *envelopes):
    for envelope in envelopes:
        sim.advance(parse_time(envelope["time"]))
        sim.put(envelope)


def _order(cid: str, at: str, order_id: str, value: float) -> dict:
    items = [
        {
            "product_id": "p-102",
            "name": "Diamond Stud Earrings",
            "category": "jewelry",
            "price": value,
            "quantity": 1,
        }
    ]
    return event("order_placed", cid, at, order_id=order_id, value=value, items=items)


@pytest.fixture
def shop(sim):
    """A VIP (600 spent this month), a lapsed customer (last order in July) and a new one."""
    _put(
        sim,
        customer("lapsed-lee", "2026-06-30T10:00:00Z"),
        _order("lapsed-lee", "2026-07-01T10:00:00Z", "o-1", 80.0),
        customer("vip-val", "2027-01-30T10:00:00Z"),
        _order("vip-val", "2027-02-01T10:00:00Z", "o-2", 600.0),
        customer("new-ned", "2027-02-09T10:00:00Z"),
    )
    sim.advance(parse_time("2027-02-10T14:00:00Z"))
    return sim


def test_content_blocks_for_a_vip_and_a_lapsed_customer_differ_as_configured(shop):
    # When the site asks for each customer's content blocks
    vip = shop.api("GET", "/profiles/vip-val/content")
    lapsed = shop.api("GET", "/profiles/lapsed-lee/content")
    new = shop.api("GET", "/profiles/new-ned/content")

    # Then each gets the home_hero variant config/content.yaml assigns to its segment
    assert (vip["status"], lapsed["status"], new["status"]) == (200, 200, 200)
    assert vip["body"]["blocks"]["home_hero"] == {
        "headline": "Early access: premium gift sets",
        "offer": "early_access",
    }
    assert lapsed["body"]["blocks"]["home_hero"] == {
        "headline": "Curated gifts, chosen for you",
        "offer": "comeback",
    }
    assert new["body"]["blocks"]["home_hero"]["offer"] == "none"
    assert vip["body"]["segments"] == ["vip"] and lapsed["body"]["segments"] == ["lapsed"]
    assert vip["headers"]["Cache-Control"] == "no-store"


def test_the_profile_has_segments_tier_and_money_but_not_the_internal_ledgers(shop):
    got = shop.api("GET", "/profiles/lapsed-lee")

    assert got["status"] == 200
    body = got["body"]
    assert body["customer_id"] == "lapsed-lee" and body["email"] == "lapsed-lee@shop.example"
    # the segment is time-driven: recomputed at request time, not read from the last event
    assert body["segments"] == ["lapsed"] and body["value_tier"] == "lost"
    assert body["orders_count"] == 1 and body["lifetime_value"] == 80.0
    assert body["days_since_last_order"] > 180
    assert not {"history", "seen", "sends", "waits"} & set(body)


def test_an_unknown_id_answers_404_with_a_json_body(shop):
    for path in ("/profiles/nobody", "/profiles/nobody/content", "/profiles/nobody/export"):
        got = shop.api("GET", path)
        assert got["status"] == 404, path
        assert got["body"]["error"] == "not_found"
    assert shop.api("DELETE", "/profiles/nobody")["status"] == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [(r.method, r.path.replace("{id}", "vip-val")) for r in api.ROUTES],
    ids=lambda v: str(v),
)
def test_a_request_without_iam_authorisation_is_refused_and_changes_nothing(shop, method, path):
    got = shop.api(method, path, signed=False)

    assert got["status"] == 403 and got["body"]["error"] == "forbidden"
    assert shop.api("GET", "/profiles/vip-val")["status"] == 200  # still there after a DELETE


def test_other_methods_and_paths_are_refused_with_json(shop):
    wrong = shop.api("POST", "/profiles/vip-val")
    assert wrong["status"] == 405 and wrong["headers"]["Allow"] == "DELETE, GET"
    assert shop.api("GET", "/customers/vip-val")["status"] == 404


def test_ids_are_url_decoded_and_a_merged_visitor_reads_as_its_customer(shop):
    from tests.partners import segment

    identify = segment(
        "identify",
        "2027-02-10T14:01:00Z",
        user_id="vip-val",
        anonymous_id="dev 1",
        message_id="id-1",
        traits={"consent": {"email": True}},
    )
    _put(shop, identify)

    got = shop.api("GET", "/profiles/anon:dev 1/content")  # sent as /profiles/anon:dev%201/...
    assert got["status"] == 200 and got["body"]["customer_id"] == "vip-val"


def test_the_sample_request_in_events_is_answered(shop):
    request = json.loads((EVENTS / "api_get_profile.json").read_text())
    request["rawPath"] = request["requestContext"]["http"]["path"] = "/profiles/vip-val"

    got = api.handle(request)
    assert got["statusCode"] == 200 and json.loads(got["body"])["segments"] == ["vip"]


def test_openapi_document_lists_exactly_the_routes_the_handler_serves():
    doc = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    documented = {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head", "options")
    }
    served = {(route.method, route.path) for route in api.ROUTES}
    assert documented == served
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert {"200", "403", "404"} <= set(operation["responses"]), (method, path)
    assert doc["security"] == [{"sigv4": []}]
