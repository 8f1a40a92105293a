"""Signed one-click unsubscribe tokens (RFC 8058 links): HMAC-SHA256, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac

from nudge.env import get_env


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(payload: str, secret: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:20])


def make_token(customer_id: str, channel: str = "email", secret: str | None = None) -> str:
    """A token naming the customer and channel, signed with the deployment's secret."""
    payload = _b64(f"{customer_id}\x1f{channel}".encode())
    return f"{payload}.{_mac(payload, secret or get_env().unsubscribe_secret)}"


def read_token(token: str, secret: str | None = None) -> tuple[str, str] | None:
    """(customer_id, channel) if the token is genuine, else None."""
    try:
        payload, mac = token.split(".", 1)
        expected = _mac(payload, secret or get_env().unsubscribe_secret)
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        customer_id, channel = _unb64(payload).decode().split("\x1f", 1)
    except (ValueError, UnicodeDecodeError):
        return None
    return customer_id, channel


def unsubscribe_url(base: str, customer_id: str, channel: str = "email") -> str:
    """The link put in emails and in the List-Unsubscribe header."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}t={make_token(customer_id, channel)}"
