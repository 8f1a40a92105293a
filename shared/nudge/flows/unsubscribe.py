"""The unsubscribe link and its one-click endpoint (RFC 8058), behind a Lambda Function URL.

Mail security gateways and link scanners fetch every link in a message, so a ``GET`` must never
act. What each request does:

- ``GET`` (someone opened the link, or a scanner fetched it): a small page naming the shop with
  one button, a form that POSTs the token back. Changes nothing.
- ``POST`` whose body carries ``List-Unsubscribe=One-Click`` (what a mail client's unsubscribe
  button sends, RFC 8058 §3.2: ``multipart/form-data`` or ``application/x-www-form-urlencoded``,
  base64-encoded by the Function URL when it chooses to; the confirmation page's form sends the
  same field): withdraws consent for the token's channel and answers 200 with a short page, no
  redirect and no cookie (§3.1).
- A token that is missing, forged, altered, expired, of the first (unversioned) format, or that
  differs between the URL and the form: 403; a ``POST`` without the one-click field, or whose
  body cannot be read (bad base64, not UTF-8, not ``name=value`` pairs, multipart without its
  boundary): 400, whatever the token; any other method: 405. None of them change anything, and
  no request makes the function fail (5xx).

The token (``nudge.core.tokens``) is the only thing read from the request; nothing it carries but
the shop's name and the channel is echoed, and that is HTML-escaped.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from nudge.aws import store
from nudge.aws.secrets import unsubscribe_keys
from nudge.core.clock import iso
from nudge.core.clock import now as clock_now
from nudge.core.durations import parse_duration
from nudge.core.tokens import DEFAULT_LIFETIME, InvalidToken, Token, read_token
from nudge.flows.common import current_config, envelope_field
from nudge.flows.feedback import record

if TYPE_CHECKING:
    from nudge.config.schema import Settings

ONE_CLICK = ("List-Unsubscribe", "One-Click")  # the RFC 8058 POST body's only key and value
LABELS = {"email": "emails", "sms": "text messages"}
_STYLE = "font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em;line-height:1.5"
_CSS = (
    "button{font-size:1rem;padding:.6em 1.2em;margin:.6em 0;min-height:44px}"
    "fieldset{border:1px solid #bbb;margin:1em 0;padding:.5em 1em}"
    "label{padding:.4em;display:inline-block}input{width:1.2em;height:1.2em;vertical-align:middle}"
    ":focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}"
)
_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width,initial-scale=1'>"
    "<meta name=robots content=noindex><style>"
    + _CSS.replace("{", "{{").replace("}", "}}")
    + "</style><title>{title}</title>"
    f"<body style='{_STYLE}'><h1>{{title}}</h1>{{body}}</body></html>"
)
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    # the page has one button: no framing (clickjacking), no scripts, forms only back to us;
    # the token in the URL is not passed on to anyone
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(status: int, title: str, body: str, **headers: str) -> dict[str, Any]:
    """An HTML response; ``title`` is escaped here, ``body`` must already be safe HTML."""
    page = _PAGE.format(title=html.escape(title), body=body)
    return {"statusCode": status, "headers": {**_HEADERS, **headers}, "body": page}


def _para(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def shop_name(settings: Settings) -> str | None:
    """The shop's name for the page: ``unsubscribe.shop_name``, else the display name of
    ``sender.email`` (``Rose & Co <hello@rose.example>`` -> ``Rose & Co``)."""
    if settings.unsubscribe and settings.unsubscribe.shop_name:
        return settings.unsubscribe.shop_name
    name, _address = parseaddr(settings.sender.email or "")
    return name.strip() or None


def _header(event: dict[str, Any], name: str) -> str:
    for key, value in (event.get("headers") or {}).items():
        if str(key).lower() == name:
            return str(value)
    return ""


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _multipart(raw: bytes, content_type: str) -> dict[str, list[str]] | None:
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart() or message.defects:
        return None  # no boundary, or parts that do not parse
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields.setdefault(name, []).append(payload.decode("utf-8", "replace"))
    return fields


def form(event: dict[str, Any]) -> dict[str, list[str]] | None:
    """The POST body's fields (urlencoded or multipart, base64 or not); None if the body cannot
    be read: not a string, base64 that does not decode, urlencoded text that is not UTF-8 or
    not ``name=value`` pairs with valid ``%`` escapes, multipart without its boundary."""
    body = event.get("body")
    if body is None:
        return {}
    if not isinstance(body, str):
        return None
    try:
        raw = (
            base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
        )
        content_type = _header(event, "content-type")
        if content_type.lower().startswith("multipart/form-data"):
            return _multipart(raw, content_type)
        text = raw.decode("utf-8")
        if not text or text.isspace():
            return {}
        if _BAD_ESCAPE.search(text):
            return None
        return parse_qs(text.strip(), keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, binascii.Error, LookupError, TypeError):
        return None  # UnicodeDecodeError is a ValueError


def _token(event: dict[str, Any], fields: dict[str, list[str]]) -> str | None:
    """The token from the URL and/or the form; None if they disagree."""
    query = event.get("queryStringParameters") or {}
    found = {str(query["t"])} if query.get("t") else set()
    found |= {t.strip() for t in fields.get("t", []) if t.strip()}
    return found.pop() if len(found) == 1 else None


def _one_click(fields: dict[str, list[str]]) -> bool:
    key, value = ONE_CLICK
    return any(v.strip().lower() == value.lower() for v in fields.get(key, []))


def _label(channel: str, topic: str | None, settings: Settings) -> str:
    """``emails``, or ``"Offers" emails`` for a topic (its description, else its name)."""
    label = LABELS.get(channel, "messages")
    if topic is None:
        return label
    declared = settings.topics.get(topic)
    name = (declared.description if declared and declared.description else topic).strip()
    return f"\u201c{name}\u201d {label}"


FREQUENCIES = {
    "any": "Whenever there is something for you",
    "weekly": "At most once a week",
    "monthly": "At most once a month",
}


def _form(token: str, fields: dict[str, str], inner: str, button: str) -> str:
    """A form that POSTs back to this link with the token and ``fields`` (already safe
    ``inner`` HTML before the button)."""
    action = html.escape("?t=" + quote(token, safe=""), quote=True)
    hidden = "".join(
        f"<input type=hidden name={html.escape(k, quote=True)} value='{html.escape(v, quote=True)}'>"
        for k, v in {"t": token, **fields}.items()
    )
    return (
        f"<form method=post action='{action}'>{hidden}{inner}"
        f"<button type=submit>{html.escape(button)}</button></form>"
    )


def _confirm(
    token: str, found: Token, label: str, shop: str | None, settings: Settings
) -> dict[str, Any]:
    """The page the link opens: the one button that leaves what the message was about (the
    token's topic, else the channel), then the customer's preferences (docs/delivery.md,
    "Preference page"). Reading it changes nothing."""
    title = f"Unsubscribe from {shop}" if shop else "Unsubscribe"
    sender = shop or "us"
    channel = found.channel
    doc = store.get_profile(found.customer_id).doc or {}
    subscribed = (doc.get("consent") or {}).get(channel) is not False
    body = ""
    if subscribed:
        body += _para(
            f"Stop marketing {label} from {sender}? Nothing changes until you press the button."
        )
        body += _form(token, {"List-Unsubscribe": "One-Click"}, "", f"Unsubscribe from {label}")
    else:
        everything = LABELS.get(channel, "messages")
        body += _para(f"You do not receive marketing {everything} from {sender}.")
        body += _form(token, {"action": "resubscribe"}, "", f"Subscribe to {everything} again")
    body += _preferences(token, found, doc, settings, subscribed)
    return _page(200, title, body)


def _preferences(
    token: str, found: Token, doc: dict[str, Any], settings: Settings, subscribed: bool
) -> str:
    """The preferences form: each topic on this channel, how often, and leaving them all."""
    channel = found.channel
    everything = LABELS.get(channel, "messages")
    if not subscribed:
        return ""
    choices = (doc.get("topics") or {}) if settings.topics else {}
    inner = ""
    if settings.topics:
        boxes = ""
        for name, topic in settings.topics.items():
            chosen = (choices.get(name) or {}).get(channel)
            on = chosen is True or (chosen is None and topic.default == "opt_out")
            ident = html.escape(f"topic-{name}", quote=True)
            text = html.escape(topic.description or name)
            boxes += (
                f"<div><input type=checkbox id='{ident}' name=topic "
                f"value='{html.escape(name, quote=True)}'{' checked' if on else ''}>"
                f"<label for='{ident}'>{text}</label></div>"
            )
        inner += f"<fieldset><legend>What you get</legend>{boxes}</fieldset>"
    current = ((doc.get("preferences") or {}).get(channel)) or "any"
    radios = ""
    for value, text in FREQUENCIES.items():
        ident = f"frequency-{value}"
        radios += (
            f"<div><input type=radio id={ident} name=frequency value={value}"
            f"{' checked' if value == current else ''}><label for={ident}>{text}</label></div>"
        )
    inner += f"<fieldset><legend>How often</legend>{radios}</fieldset>"
    out = "<h2>Your preferences</h2>" + _form(token, {"action": "save"}, inner, "Save preferences")
    if found.topic is not None:
        out += _form(token, {"action": "all"}, "", f"Unsubscribe from all {everything}")
    return out


def _save(customer_id: str, found: Token, fields: dict[str, list[str]], key: str) -> str | None:
    """Record the preferences form: each topic's choice on this channel and how often; the
    text saying what changed, or None if the form is not one of ours."""
    settings = current_config().settings
    channel = found.channel
    frequency = (fields.get("frequency") or ["any"])[0]
    if frequency not in FREQUENCIES:
        return None
    wanted = set(fields.get("topic", []))
    if not wanted <= set(settings.topics):
        return None
    for name in settings.topics:
        chosen = {"channel": channel, "granted": name in wanted, "topic": name}
        chosen["source"] = "preference_page"
        record(customer_id, "consent_updated", f"{key}:topic:{name}", chosen)
    how_often = {"channel": channel, "frequency": frequency, "source": "preference_page"}
    record(customer_id, "preferences_updated", f"{key}:frequency", how_often)
    return f"Your preferences are saved: {FREQUENCIES[frequency].lower()}."


def check(token: str, settings: Settings) -> Token:
    """The token's customer and channel if it is genuine and unexpired (``InvalidToken`` if
    not). A key id we do not know re-reads the keys once: the secret may have been rotated."""
    lifetime = DEFAULT_LIFETIME
    if settings.unsubscribe:
        lifetime = parse_duration(settings.unsubscribe.token_lifetime)
    now = clock_now()
    try:
        return read_token(token, unsubscribe_keys(), now, lifetime)
    except InvalidToken as exc:
        if exc.reason != "unknown_key":
            raise
    return read_token(token, unsubscribe_keys(refresh=True), now, lifetime)


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: a Function URL (HTTP API v2 payload) request."""
    # Imported here, not with the module, to keep cold-start import time down (nudge.observe
    # has loaded Powertools by the first invoke).
    from aws_lambda_powertools.utilities.data_classes import LambdaFunctionUrlEvent

    request = LambdaFunctionUrlEvent(event)
    method = str(envelope_field(lambda: request.http_method) or "GET")
    if method.upper() not in ("GET", "POST"):
        return _page(405, "Not allowed", _para("Use the link in the message."), Allow="GET, POST")
    post = method.upper() == "POST"
    fields = form(event) if post else {}
    if fields is None:
        return _page(400, "Not understood", _para("Press the button on the unsubscribe page."))
    token = _token(event, fields)
    settings = current_config().settings
    try:
        if not token:
            raise InvalidToken("malformed")
        found = check(token, settings)
    except InvalidToken as exc:
        if exc.reason == "expired":
            text = "This unsubscribe link has expired. Use the link in a more recent message."
            return _page(403, "Link expired", _para(text))
        return _page(403, "Link not valid", _para("This unsubscribe link is not valid."))
    customer_id, channel = found.customer_id, found.channel
    shop = shop_name(settings)
    label = _label(channel, found.topic, settings)
    if not post:
        return _confirm(token, found, label, shop, settings)
    action = (fields.get("action") or [""])[0]
    if not _one_click(fields) and action not in ("all", "resubscribe", "save"):
        return _page(400, "Not understood", _para("Press the button on the unsubscribe page."))
    request_id = envelope_field(lambda: request.request_context.request_id) or ""
    # keyed by request and time: every click counts, even the same request replayed after the
    # customer subscribed again (withdrawing twice is harmless, ignoring a click is not)
    request_id = f"{request_id}:{iso(clock_now())}"
    key = f"unsubscribe:{token}:{request_id}"
    everything = LABELS.get(channel, "messages")
    if action == "save" and not _one_click(fields):
        saved = _save(customer_id, found, fields, key)
        if saved is None:
            return _page(400, "Not understood", _para("Use the form on the preferences page."))
        return _page(200, "Preferences saved", _para(saved))
    if action == "resubscribe" and not _one_click(fields):
        again = {"channel": channel, "granted": True, "source": "preference_page"}
        record(customer_id, "consent_updated", key, again)
        return _page(200, "Subscribed again", _para(f"You will receive {everything} again."))
    withdrawn = {"channel": channel, "granted": False, "source": "unsubscribe_link"}
    if found.topic and action != "all":  # one click leaves the message's topic only (RFC 8058)
        withdrawn["topic"] = found.topic
    else:
        label = everything
    record(customer_id, "consent_updated", key, withdrawn)
    done = f"You will not receive marketing {label} from {shop or 'us'} any more."
    return _page(200, "You are unsubscribed", _para(done))
