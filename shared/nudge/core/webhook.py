"""Webhook messages, pure: the JSON body a template renders, and its Standard Webhooks signature
(docs/delivery.md, "Webhooks").

A body is a Jinja2 template of a JSON object in which every value is written
``{{ expression | tojson }}``: ``tojson`` writes a value as JSON (a string in quotes, its quotes,
backslashes and line breaks escaped), so no customer data can end a string and start a field.
``body_problems`` is what ``nudge validate`` checks; ``render_body`` is what dispatch sends.

Signing follows the Standard Webhooks specification (github.com/standard-webhooks/
standard-webhooks, spec/standard-webhooks.md): HMAC-SHA256 over ``<webhook-id>.<webhook-timestamp>.
<body>``, sent as ``webhook-signature: v1,<base64>``; the key is the base64-decoded secret (shown
to receivers as ``whsec_<secret>``). The ``webhook-id`` is nudge's message id: a retry carries the
same id, so a receiver that remembers ids processes each message once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from nudge.core.templates import TemplateError, compile_template, render

SIGNATURE_VERSION = "v1"
SECRET_PREFIX = "whsec_"
DETAIL_TYPE = "webhook"  # nudge's event on its bus that the API destination rule matches


@dataclass(frozen=True, slots=True)
class BodyProblem:
    """What is wrong with a body template: the template ``line``, a text to point the column
    at, and the message with its hint."""

    line: int
    needle: str
    message: str


def body_problems(source: str) -> list[BodyProblem]:
    """Why a body template cannot be sent safely, or ``[]``: a value not written
    ``{{ ... | tojson }}`` (customer data could break out of a string), or a body that is not a
    JSON object once rendered with every value ``null`` and every loop empty. Raises
    ``TemplateError`` if the template does not compile."""
    from jinja2 import nodes

    compile_template(source)  # raises TemplateError with Jinja's message
    from nudge.core.templates import _environment

    ast = _environment(False).parse(source)
    problems: list[BodyProblem] = []
    for output in ast.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData):
                continue
            if isinstance(node, nodes.Filter) and node.name == "tojson":
                continue
            problems.append(
                BodyProblem(
                    node.lineno,
                    "{{",
                    "a webhook body writes every value as {{ ... | tojson }} (without quotes "
                    'around it: "name": {{ first_name | tojson }}), so a quote or a line break '
                    "in customer data stays inside its string",
                )
            )
    if problems:
        return problems
    skeleton = _skeleton(source)
    try:
        parsed = json.loads(skeleton)
    except json.JSONDecodeError as exc:
        return [
            BodyProblem(
                exc.lineno,
                "",
                f"the body is not JSON ({exc.msg}, line {exc.lineno} column {exc.colno} of the "
                "body rendered with every value null); write a JSON object like "
                '{"customer": {{ customer_id | tojson }}}',
            )
        ]
    if not isinstance(parsed, dict):
        return [BodyProblem(1, "", "the body must be a JSON object ({...})")]
    return []


def _skeleton(source: str) -> str:
    """The body rendered with every ``tojson`` value ``null``, every name undefined (falsy,
    empty loops): its JSON structure."""
    from jinja2 import ChainableUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=ChainableUndefined, trim_blocks=True)
    env.filters["tojson"] = lambda _value, *_a, **_k: "null"
    try:
        return str(env.from_string(source).render())
    except Exception as exc:  # the structure check only; rendering errors show at dispatch
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def render_body(source: str, context: dict[str, Any]) -> str:
    """The body for one customer: rendered, parsed, and written compactly (no spaces, keys in
    the template's order, non-ASCII as is): exactly the bytes that are signed and posted.
    Raises ``TemplateError`` if it does not render to a JSON object."""
    text = render(compile_template(source), context)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TemplateError(f"the webhook body is not JSON: {exc.msg}") from None
    if not isinstance(parsed, dict):
        raise TemplateError("the webhook body is not a JSON object")
    return canonical(parsed)


def canonical(body: dict[str, Any]) -> str:
    """A JSON object written as nudge signs and posts it."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: ``whsec_<base64>`` or bare base64, decoded; raises
    ``ValueError`` for a secret that is not base64 (or too short to be a key)."""
    text = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not base64 (whsec_<base64>)") from None
    if len(key) < 24:
        raise ValueError("the webhook secret is too short (at least 24 bytes, base64-encoded)")
    return key


def sign(key: bytes, webhook_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256>`` of
    ``<webhook_id>.<timestamp>.<body>``."""
    content = f"{webhook_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(key: bytes, webhook_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers of one message."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(key, webhook_id, timestamp, body),
    }
