"""The unsubscribe endpoint answers 400 to a body it cannot read, never 5xx, and changes nothing.

Requests are the Powertools sample Function URL event (tests/fixtures/function_url/) with only
the method, query, content type and body changed, sent to the real entry point
(``functions/unsubscribe/app.py``) with a Lambda context, so the Powertools Logger, Tracer and
Metrics wrap it as in AWS: an exception there is the 502 a mail client would see.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest

from nudge.core.clock import parse_time
from tests.conftest import ROOT, customer, event

FIXTURE = ROOT / "tests/fixtures/function_url/lambda_function_url_event.json"
ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]

_spec = importlib.util.spec_from_file_location(
    "unsubscribe_app", ROOT / "functions/unsubscribe/app.py"
)
assert _spec and _spec.loader
app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(app)

CONTEXT = SimpleNamespace(
    function_name="nudge-unsubscribe",
    function_version="$LATEST",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:nudge-unsubscribe",
    memory_limit_in_mb=256,
    aws_request_id="0f4b1c1e-6c38-4d0a-9d6a-1f2e3d4c5b6a",
    log_group_name="/aws/lambda/nudge-unsubscribe",
    log_stream_name="2027/02/03/[$LATEST]abc",
    get_remaining_time_in_millis=lambda: 3000,
)


def _link(sim) -> str:
    """The List-Unsubscribe link of the customer's first cart reminder."""
    sim.run(
        [
            customer("ada", "2027-02-03T09:00:00Z"),
            event("cart_updated", "ada", "2027-02-03T10:00:00Z", value=300.0, items=ITEMS),
        ],
        until=parse_time("2027-02-04T00:00:00Z"),
    )
    [mail] = sim.messages()
    return mail["headers"]["List-Unsubscribe"].strip("<>")


def _post(link: str, body: object, content_type: str, b64: bool) -> dict:
    request = copy.deepcopy(json.loads(FIXTURE.read_text()))
    query = urlparse(link).query
    request["rawQueryString"] = query
    request["queryStringParameters"] = {k: ",".join(v) for k, v in parse_qs(query).items()}
    request["requestContext"]["http"]["method"] = "POST"
    request["headers"]["content-type"] = content_type
    request["body"] = body
    request["isBase64Encoded"] = b64
    return request


URLENCODED = "application/x-www-form-urlencoded"
MALFORMED = [
    pytest.param("!!not*base64!!", URLENCODED, True, id="bad-base64"),
    pytest.param("TGlzdC1VbnN1YnNjcmliZT1PbmUtQ2xpY2s", URLENCODED, True, id="base64-no-padding"),
    pytest.param("Liste-désabonnement", URLENCODED, True, id="base64-not-ascii"),
    pytest.param(
        base64.b64encode(b"List-Unsubscribe=One-Click\xff\xfe").decode(),
        URLENCODED,
        True,
        id="not-utf8",
    ),
    pytest.param("List-Unsubscribe=One-Click&=&&%", URLENCODED, False, id="bad-form-fields"),
    pytest.param("List-Unsubscribe=One%ZZClick", URLENCODED, False, id="bad-percent-escape"),
    pytest.param(12345, URLENCODED, False, id="body-not-a-string"),
    pytest.param(["List-Unsubscribe=One-Click"], URLENCODED, True, id="b64-body-a-list"),
    pytest.param(
        "--x\r\nContent-Disposition: form-data\r\n\r\nOne-Click\r\n--x--\r\n",
        "multipart/form-data; boundary=x",
        False,
        id="multipart-field-without-name",
    ),
    pytest.param(
        "List-Unsubscribe=One-Click", "multipart/form-data", False, id="multipart-no-boundary"
    ),
]


@pytest.mark.parametrize(("body", "content_type", "b64"), MALFORMED)
def test_a_malformed_body_gets_400_and_changes_nothing(sim, body, content_type, b64):
    link = _link(sim)
    response = app.handler(_post(link, body, content_type, b64), CONTEXT)

    assert response["statusCode"] == 400
    assert "text/html" in response["headers"]["Content-Type"]
    assert sim.profiles()["ada"]["consent"]["email"] is True


def test_a_malformed_body_without_a_valid_token_is_still_400_not_5xx(sim):
    response = app.handler(_post("https://x.example/u?t=nope", "%%%", URLENCODED, True), CONTEXT)
    assert response["statusCode"] == 400


@pytest.mark.parametrize("encoding", ["plain", "base64"])
def test_the_same_request_well_formed_unsubscribes(sim, encoding):
    link = _link(sim)
    body = "List-Unsubscribe=One-Click"
    if encoding == "base64":
        body = base64.b64encode(body.encode()).decode()
    response = app.handler(_post(link, body, URLENCODED, encoding == "base64"), CONTEXT)

    assert response["statusCode"] == 200
    assert sim.profiles()["ada"]["consent"]["email"] is False
