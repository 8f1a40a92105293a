"""Signed one-click unsubscribe tokens (RFC 8058 links): HMAC-SHA256, checked in constant time.

A token is ``n2.<key id>.<payload>.<signature>``:

- ``payload`` is base64url of ``customer_id``, ``channel`` and the issue time (epoch seconds);
- ``key id`` names the key that signed it (a fingerprint of the key, not the key), so a key can be
  rotated without breaking links already sent: the signing key and the previous one are accepted;
- ``signature`` is HMAC-SHA256 over ``n2.<key id>.<payload>``, truncated to 160 bits.

A token is valid from its issue time (a few minutes of clock skew allowed) for its lifetime (one
year unless ``unsubscribe.token_lifetime`` says otherwise). Tokens of the first format
(``<payload>.<signature>``: no key id, no issue time, never expiring) are rejected.

Pure: keys and times are passed in (``nudge.aws.secrets`` reads the keys, the flows the clock).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION = "n2"
DEFAULT_LIFETIME = timedelta(days=365)
CLOCK_SKEW = timedelta(minutes=5)  # a token "issued" this far ahead of our clock still counts
MIN_KEY_LENGTH = 32
_SEP = "\x1f"


class InvalidToken(ValueError):
    """The token cannot be honoured; ``reason`` is one of ``malformed``, ``old_format``,
    ``unknown_key``, ``bad_signature``, ``expired``, ``not_yet_valid``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Keyring:
    """Signing keys, newest first: ``keys[0]`` signs new tokens, all of them verify."""

    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("an unsubscribe keyring needs at least one key")
        for key in self.keys:
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"unsubscribe keys must be at least {MIN_KEY_LENGTH} characters")

    @property
    def current(self) -> str:
        """The key new tokens are signed with."""
        return self.keys[0]

    def find(self, kid: str) -> str | None:
        """The key whose id is ``kid``, if it is one of ours."""
        for key in self.keys:
            if hmac.compare_digest(key_id(key), kid):
                return key
        return None


@dataclass(frozen=True)
class Token:
    """What a genuine token says."""

    customer_id: str
    channel: str
    issued_at: datetime
    topic: str | None = None  # the message's subscription topic: one click leaves only it


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: str) -> str:
    """A short public name for a key (an HMAC of a constant under it: reveals nothing of it)."""
    return _b64(hmac.new(key.encode(), b"nudge-unsubscribe-key-id", hashlib.sha256).digest()[:6])


def _mac(signed: str, key: str) -> str:
    return _b64(hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()[:20])


def make_token(
    customer_id: str,
    channel: str,
    issued_at: datetime,
    keys: Keyring,
    topic: str | None = None,
) -> str:
    """A token naming the customer, the channel (and the message's topic, written
    ``channel:topic``), issued at ``issued_at``, signed with the current key."""
    stamp = int(issued_at.timestamp())
    scope = f"{channel}:{topic}" if topic else channel
    payload = _b64(_SEP.join((customer_id, scope, str(stamp))).encode())
    signed = f"{VERSION}.{key_id(keys.current)}.{payload}"
    return f"{signed}.{_mac(signed, keys.current)}"


def read_token(
    token: str, keys: Keyring, now: datetime, lifetime: timedelta = DEFAULT_LIFETIME
) -> Token:
    """What a genuine, unexpired token says; raises :class:`InvalidToken` with the reason."""
    parts = token.split(".")
    if len(parts) == 2:
        raise InvalidToken("old_format")
    if len(parts) != 4 or parts[0] != VERSION:
        raise InvalidToken("malformed")
    _version, kid, payload, mac = parts
    key = keys.find(kid)
    if key is None:
        raise InvalidToken("unknown_key")
    if not hmac.compare_digest(mac.encode(), _mac(f"{VERSION}.{kid}.{payload}", key).encode()):
        raise InvalidToken("bad_signature")
    try:
        customer_id, scope, stamp = _unb64(payload).decode().rsplit(_SEP, 2)
        channel, _colon, topic = scope.partition(":")
        issued_at = datetime.fromtimestamp(int(stamp), UTC)
    except (ValueError, UnicodeDecodeError, OverflowError, OSError):
        raise InvalidToken("malformed") from None
    if issued_at > now + CLOCK_SKEW:
        raise InvalidToken("not_yet_valid")
    if now - issued_at > lifetime:
        raise InvalidToken("expired")
    return Token(customer_id, channel, issued_at, topic or None)


def unsubscribe_url(base: str, token: str) -> str:
    """The link put in messages and in the List-Unsubscribe header."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}t={token}"
