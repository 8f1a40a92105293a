"""Providers: SES v2 for email (raw MIME, so every header survives), SNS for SMS."""

from __future__ import annotations

import base64
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from nudge.aws.clients import client
from nudge.aws.mime import fast_email, unfold_tokens
from nudge.core.addresses import check_email
from nudge.core.clock import now
from nudge.env import get_env

_TAG_OK = re.compile(r"^[A-Za-z0-9_\-.@]{1,256}$")
_TRANSPORT = (ClientError, EndpointConnectionError, ConnectTimeoutError)


class ProviderError(Exception):
    """The provider refused the message (after the client's own retries)."""


class MessageError(ValueError):
    """The message cannot be built (an address that is not one addr-spec, a bad header name)."""


# Characters that end a line somewhere (str.splitlines: CR, LF, VT, FF, FS, GS, RS, NEL, U+2028,
# U+2029) and every other control character: never inside a header value.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")


def header_text(value: str) -> str:
    """A header value as one line: each run of line breaks and control characters becomes one
    space (``Bob<CR><LF>Bcc: x`` -> ``Bob Bcc: x``), so text can never start a new header."""
    return _BREAKS.sub(" ", value).strip()


def _address(value: str, *, display_name: bool) -> Address:
    """``value`` as an ``email.headerregistry.Address``: exactly one addr-spec (with a display
    name only where ``display_name``), or ``MessageError``."""
    checked = check_email(value, display_name=display_name)
    if checked.value is None:
        raise MessageError(f"not one email address: {checked.why}")
    return Address(display_name=header_text(checked.display_name), addr_spec=checked.value)


class ProviderUnavailable(ProviderError):
    """The provider did not take the message and may later: it throttled, or could not be
    reached at all (after the client's own retries). Safe to try again: nothing was sent."""


# error codes meaning "not accepted, slow down" (botocore's own list of throttling codes)
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestLimitExceeded",
    "SlowDown",
}


def _failure(exc: Exception) -> ProviderError:
    """What a provider call's exception means: unavailable (throttled, no connection made) or
    an error (refused, or an answer we cannot trust: it may have been sent)."""
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return ProviderUnavailable(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _THROTTLED:
            return ProviderUnavailable(str(exc))
    return ProviderError(str(exc))


def build_email(
    sender: str,
    to: str,
    subject: str,
    html: str | None,
    text: str | None,
    headers: dict[str, str],
) -> bytes:
    """A MIME message with text and HTML parts and our headers: the email library's message
    (``EmailMessage``, policy SMTP), its bytes written by ``nudge.aws.mime`` where that is safe.

    ``sender`` may carry a display name (``Rose & Co <hello@rose.example>``), ``to`` is one bare
    address; both must be exactly one address. Every other header value is made one line
    (``header_text``). Raises ``MessageError`` when the message cannot be built."""
    sender_address = _address(sender, display_name=True)
    recipient = _address(to, display_name=False)
    for name in headers:
        if not _HEADER_NAME.match(name):
            raise MessageError(f"not a header name: {name!r}")
    try:
        fields = [
            ("From", str(sender_address)),
            ("To", str(recipient)),
            ("Subject", header_text(subject)),
            ("Date", format_datetime(now())),
            ("Message-ID", make_msgid(domain=sender_address.domain)),
            *((name, header_text(value)) for name, value in headers.items()),
        ]
        # the library's bytes, written directly where that is safe (nudge.aws.mime)
        fast = fast_email(fields, text or "", html, list(headers))
        if fast is not None:
            return fast
        msg = EmailMessage(policy=SMTP)
        msg["From"] = sender_address
        msg["To"] = recipient
        for name, value in fields[2:]:
            msg[name] = value
        msg.set_content(text or "")
        if html:
            msg.add_alternative(html, subtype="html")
        return unfold_tokens(msg.as_bytes(), fields)  # links stay links (nudge.aws.mime)
    except MessageError:
        raise
    except Exception as exc:  # whatever the email library refuses, the message is not sent
        raise MessageError(f"{type(exc).__name__}: {exc}") from None


def send_email(
    sender: str,
    to: str,
    raw: bytes,
    tags: dict[str, str] | None = None,
    *,
    transactional: bool = False,
) -> str:
    """Send a message made by ``build_email`` through SES v2 to ``to`` (one address: the
    Destination names it alone); returns the provider's message id.

    ``tags`` come back on SES's bounce/complaint events, so feedback finds the customer. The
    transactional lane sends with its own configuration set (its reputation and events apart).
    """
    ses = client("sesv2")
    kwargs: dict[str, Any] = {
        "FromEmailAddress": str(_address(sender, display_name=True)),
        "Destination": {"ToAddresses": [_address(to, display_name=False).addr_spec]},
        "Content": {"Raw": {"Data": raw}},
    }
    if tags:
        kwargs["EmailTags"] = [{"Name": k, "Value": _tag(v)} for k, v in tags.items()]
    env = get_env()
    config_set = env.ses_configuration_set
    if transactional and env.ses_transactional_configuration_set:
        config_set = env.ses_transactional_configuration_set
    if config_set:
        kwargs["ConfigurationSetName"] = config_set
    try:
        return str(ses.send_email(**kwargs)["MessageId"])
    except _TRANSPORT as exc:
        raise _failure(exc) from None


def _tag(value: str) -> str:
    """SES tag values allow letters, digits, _ - . @ only; others are base32-encoded."""
    if _TAG_OK.match(value) and not value.startswith("b32_"):
        return value
    return "b32_" + base64.b32encode(value.encode()).decode().rstrip("=")


def untag(value: str) -> str:
    """The original value of a tag written by ``send_email``."""
    if not value.startswith("b32_"):
        return value
    data = value[4:]
    return base64.b32decode(data + "=" * (-len(data) % 8)).decode()


def send_sms(sender: str | None, to: str, text: str, *, transactional: bool = False) -> str:
    """Send an SMS through SNS (``Transactional`` type for the transactional lane, else
    ``Promotional``); returns the provider's message id."""
    sns = client("sns")
    kind = "Transactional" if transactional else "Promotional"
    attributes: dict[str, Any] = {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": kind},
    }
    if sender:
        attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": sender}
    try:
        return str(
            sns.publish(PhoneNumber=to, Message=text, MessageAttributes=attributes)["MessageId"]
        )
    except _TRANSPORT as exc:
        raise _failure(exc) from None


def send_webhook(endpoint: str, webhook_id: str, body: str, key: bytes) -> str:
    """Put a signed webhook message on nudge's bus; the rule of its endpoint posts it through an
    EventBridge API destination, retrying 429 and 5xx answers, then parking it in WebhookDLQ
    (docs/delivery.md, "Webhooks"). ``body`` is the compact JSON ``nudge.core.webhook``
    rendered; the headers sign it now. Returns the bus's event id."""
    import json

    from nudge.core.webhook import DETAIL_TYPE, headers

    stamp = int(now().timestamp())
    signed = headers(key, webhook_id, stamp, body)
    # WebhookRule's target takes each header from here by JSON path, and posts detail.body
    detail = {
        "endpoint": endpoint,
        "webhook_id": signed["webhook-id"],
        "webhook_timestamp": signed["webhook-timestamp"],
        "webhook_signature": signed["webhook-signature"],
        "body": json.loads(body),
    }
    events = client("events")
    entry = {
        "Source": "nudge",
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
        "Time": now(),
        "EventBusName": get_env().bus_name,
    }
    try:
        out = events.put_events(Entries=[entry])
    except _TRANSPORT as exc:
        raise _failure(exc) from None
    first = (out.get("Entries") or [{}])[0]
    if out.get("FailedEntryCount") or not first.get("EventId"):
        code = str(first.get("ErrorCode") or "")
        message = f"the bus did not take the webhook message: {code} {first.get('ErrorMessage')}"
        if code in _THROTTLED or code == "InternalFailure":
            raise ProviderUnavailable(message)
        raise ProviderError(message)
    return str(first["EventId"])
