"""The webhook channel's config and signing (docs/delivery.md, "Webhooks"): nudge validate
rejects a body that could let customer data out of its string or that is not a JSON object, an
endpoint that is not HTTPS or not declared, each with file:line:column and a hint; signatures
match the Standard Webhooks reference vector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nudge.config import ConfigInvalid, load_config
from nudge.core.webhook import body_problems, headers, render_body, sign, signing_key
from tests.conftest import CONFIG, make_config

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "standard_webhooks"
GOOD_BODY = """    {"customer": {{ customer_id | tojson }},
     "name": {{ first_name | tojson }}}
"""


def _trigger(body: str, endpoint: str = "crm") -> str:
    return (
        "id: order_push\nwhen: {event: order_placed}\nchannel: webhook\nwebhook:\n"
        f"  endpoint: {endpoint}\n  body: |\n{body}"
    )


def _config(tmp_path, body: str = GOOD_BODY, url: str = "https://crm.rose.example/hook", **kw):
    settings = (CONFIG / "settings.yaml").read_text() + f"\nwebhooks:\n  crm: {{url: '{url}'}}\n"
    return make_config(
        tmp_path,
        **{"settings.yaml": settings, "triggers/order_push.yaml": _trigger(body, **kw)},
    )


def _errors(path) -> list[str]:
    with pytest.raises(ConfigInvalid) as caught:
        load_config(path, use_artefact=False)
    return [str(e) for e in caught.value.errors]


def test_a_good_webhook_config_loads(tmp_path):
    config = load_config(_config(tmp_path), use_artefact=False)
    trigger = config.triggers["order_push"]
    assert trigger.channel == "webhook"
    assert trigger.webhook is not None and trigger.webhook.endpoint == "crm"


def test_a_value_without_tojson_fails_validate_where_it_is(tmp_path):
    body = '    {"name": "{{ first_name }}"}\n'
    (error,) = _errors(_config(tmp_path, body))
    # the trigger file, the body's first line (the line after `body: |`), the column of {{
    assert error.startswith("triggers/order_push.yaml:7:15: ")
    assert "{{ ... | tojson }}" in error


def test_a_body_that_is_not_json_fails_validate_with_a_hint(tmp_path):
    body = (
        '    {"customer": {{ customer_id | tojson }},\n     "name": {{ first_name | tojson }},}\n'
    )
    (error,) = _errors(_config(tmp_path, body))
    assert error.startswith("triggers/order_push.yaml:8:")
    assert "the body is not JSON" in error and "write a JSON object like" in error


def test_a_body_that_is_a_list_fails_validate(tmp_path):
    (error,) = _errors(_config(tmp_path, "    [{{ customer_id | tojson }}]\n"))
    assert "must be a JSON object" in error


def test_an_unknown_variable_or_endpoint_fails_validate(tmp_path):
    errors = _errors(_config(tmp_path, '    {"x": {{ favourite | tojson }}}\n', endpoint="cms"))
    assert any("unknown webhook endpoint 'cms'; settings.webhooks has: crm" in e for e in errors)
    assert any("unknown variable 'favourite'" in e for e in errors)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://crm.rose.example/hook", True),
        ("http://localhost:8080/hook", True),  # the simulator's receiver
        ("http://127.0.0.1:9000/hook", True),
        ("http://crm.rose.example/hook", False),
        ("ftp://crm.rose.example/hook", False),
    ],
)
def test_webhook_urls_are_https_except_localhost(tmp_path, url, ok):
    path = _config(tmp_path, url=url)
    if ok:
        load_config(path, use_artefact=False)
    else:
        errors = _errors(path)
        assert any(
            e.startswith("settings.yaml:50:14: webhooks.crm.url: ") and "not an https:// URL" in e
            for e in errors
        )


def test_channel_webhook_needs_a_webhook_block(tmp_path):
    trigger = "id: order_push\nwhen: {event: order_placed}\nchannel: webhook\n"
    path = make_config(tmp_path, **{"triggers/order_push.yaml": trigger})
    (error,) = _errors(path)
    assert "channel: webhook needs a webhook: block" in error


def test_signatures_match_the_standard_webhooks_reference_vector():
    vector = json.loads((FIXTURES / "sign_vector.json").read_text())
    key = signing_key(vector["secret"])
    assert (
        sign(key, vector["msg_id"], vector["timestamp"], vector["payload"]) == (vector["signature"])
    )
    assert signing_key(vector["secret"].removeprefix("whsec_")) == key


def test_a_secret_that_is_not_a_key_is_refused():
    with pytest.raises(ValueError, match="not base64"):
        signing_key("whsec_not base64!")
    with pytest.raises(ValueError, match="too short"):
        signing_key("whsec_c2hvcnQ=")


def test_the_body_is_rendered_compactly_and_signed_as_sent():
    body = render_body(GOOD_BODY, {"customer_id": "c-1", "first_name": 'Zoë "Z"'})
    assert body == '{"customer":"c-1","name":"Zoë \\"Z\\""}'
    signed = headers(b"k" * 32, "m-1", 1800000000, body)
    assert signed["webhook-id"] == "m-1"
    assert signed["webhook-timestamp"] == "1800000000"
    assert signed["webhook-signature"] == sign(b"k" * 32, "m-1", 1800000000, body)


def test_loops_and_conditions_are_allowed_when_every_value_is_tojson():
    body = (
        '{"items": [{% for item in cart.items %}{{ item.name | tojson }}'
        "{% if not loop.last %},{% endif %}{% endfor %}]}"
    )
    assert body_problems(body) == []
    rendered = render_body(body, {"cart": {"items": [{"name": "Ring"}, {"name": 'Pin "A"'}]}})
    assert json.loads(rendered) == {"items": ["Ring", 'Pin "A"']}


def test_nudge_preview_shows_the_body_as_it_would_be_posted(tmp_path):
    from nudge.preview import render_preview

    shown = render_preview(_config(tmp_path), "order_push", {"first_name": 'Zoë "Z"'})
    assert shown.channel == "webhook"
    assert json.loads(shown.text or "") == {"customer": "c-preview", "name": 'Zoë "Z"'}
