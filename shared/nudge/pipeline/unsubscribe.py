"""One-click unsubscribe endpoint (RFC 8058), behind a Lambda Function URL.

Accepts only a token signed with the deployment's secret (constant-time check). ``POST`` with
``List-Unsubscribe=One-Click`` (mail clients) and ``GET`` (the visible link) both withdraw
consent at once; a forged or altered token is refused with 403 and changes nothing.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

from nudge.pipeline.feedback import record
from nudge.unsubscribe import read_token

_PAGE = ("<!doctype html><meta charset=utf-8><title>{title}</title>"
         "<body style='font-family:sans-serif;max-width:32em;margin:4em auto'>"
         "<h1>{title}</h1><p>{text}</p></body>")  # fmt: skip


def _response(status: int, title: str, text: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
        "body": _PAGE.format(title=title, text=text),
    }


def _token(event: dict[str, Any]) -> str:
    query = event.get("queryStringParameters") or {}
    if query.get("t"):
        return str(query["t"])
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode(errors="replace")
    return (parse_qs(body).get("t") or [""])[0]


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: a Function URL (HTTP API v2 payload) request."""
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "GET")
    if method not in ("GET", "POST"):
        return _response(405, "Not allowed", "Use the link in the email.")
    found = read_token(_token(event))
    if found is None:
        return _response(403, "Link not valid", "This unsubscribe link is not valid.")
    customer_id, channel = found
    record(customer_id, "consent_updated", f"unsubscribe:{_token(event)}",
           {"channel": channel, "granted": False, "source": "unsubscribe_link"})  # fmt: skip
    label = "emails" if channel == "email" else "text messages"
    return _response(200, "You are unsubscribed", f"You will not receive marketing {label} "
                     "from us any more.")  # fmt: skip
