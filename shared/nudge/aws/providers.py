"""Providers: SES v2 for email (raw MIME, so every header survives), SNS for SMS."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from nudge.aws.clients import client
from nudge.core.clock import now
from nudge.env import get_env

_TAG_OK = re.compile(r"^[A-Za-z0-9_\-.@]{1,256}$")
_TRANSPORT = (ClientError, EndpointConnectionError, ConnectTimeoutError)


class ProviderError(Exception):
    """The provider refused the message (after the client's own retries)."""


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
    """A MIME message with text and HTML parts and our headers."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now())
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip("> "))
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(text or "")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def send_email(
    sender: str,
    to: str,
    subject: str,
    html: str | None,
    text: str | None,
    headers: dict[str, str],
    tags: dict[str, str] | None = None,
) -> str:
    """Send through SES v2; returns the provider's message id.

    ``tags`` come back on SES's bounce/complaint events, so feedback finds the customer.
    """
    ses = client("sesv2")
    kwargs: dict[str, Any] = {
        "FromEmailAddress": sender,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": build_email(sender, to, subject, html, text, headers)}},
    }
    if tags:
        kwargs["EmailTags"] = [{"Name": k, "Value": _tag(v)} for k, v in tags.items()]
    config_set = get_env().ses_configuration_set
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


def send_sms(sender: str | None, to: str, text: str) -> str:
    """Send an SMS through SNS; returns the provider's message id."""
    sns = client("sns")
    attributes: dict[str, Any] = {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Promotional"},
    }
    if sender:
        attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": sender}
    try:
        return str(
            sns.publish(PhoneNumber=to, Message=text, MessageAttributes=attributes)["MessageId"]
        )
    except _TRANSPORT as exc:
        raise _failure(exc) from None
