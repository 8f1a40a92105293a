"""The unsubscribe signing keys and the webhook signing key, read from Secrets Manager and
cached per container.

``NUDGE_UNSUBSCRIBE_SECRET_ARN`` names the secret (template.yaml generates it at deploy). Its
``AWSCURRENT`` version signs new links; its ``AWSPREVIOUS`` version, if any, still verifies links
sent before the last rotation. There is no fallback: without the variable, or without the secret,
the function fails loudly.
"""

from __future__ import annotations

import logging
import threading
import time

from nudge.aws.clients import client
from nudge.core.tokens import Keyring
from nudge.env import get_env

log = logging.getLogger(__name__)

REFRESH_SECONDS = 300.0  # a rotation reaches every warm container within this
MIN_REFETCH_SECONDS = 30.0  # an unknown key id refetches at most this often
_lock = threading.Lock()
_cached: tuple[float, str, Keyring] | None = None


class SecretMissing(RuntimeError):
    """The unsubscribe secret is not configured or cannot be read."""


def _fetch(arn: str, previous: bool = True) -> Keyring:
    """The secret's keys: ``AWSCURRENT``, and ``AWSPREVIOUS`` too unless ``previous`` is False
    (signing needs only the current one)."""
    sm = client("secretsmanager")
    current = sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
    keys = [str(current)]
    older = None
    if previous:
        try:
            older = sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")["SecretString"]
        except sm.exceptions.ResourceNotFoundException:
            older = None  # never rotated: only one version
    if older and older != current:
        keys.append(str(older))
    try:
        return Keyring(tuple(keys))
    except ValueError as exc:
        raise SecretMissing(f"unsubscribe secret {arn} is unusable: {exc}") from None


def unsubscribe_keys(refresh: bool = False) -> Keyring:
    """The keys that sign and verify unsubscribe tokens. ``refresh`` re-reads them now (a token
    named a key we do not know: the secret may have been rotated), at most every 30 s."""
    global _cached
    arn = get_env().unsubscribe_secret_arn
    if not arn:
        raise SecretMissing(
            "NUDGE_UNSUBSCRIBE_SECRET_ARN is not set: unsubscribe links can be neither signed nor "
            "checked (template.yaml sets it; see docs/deploy.md)"
        )
    with _lock:
        now = time.monotonic()
        if _cached is not None and _cached[1] == arn:
            age = now - _cached[0]
            if age < (MIN_REFETCH_SECONDS if refresh else REFRESH_SECONDS):
                return _cached[2]
        keys = _fetch(arn)
        _cached = (now, arn, keys)
        return keys


_signing: tuple[float, str, Keyring] | None = None


def signing_keys() -> Keyring:
    """The key that signs new unsubscribe tokens (dispatch): the secret's ``AWSCURRENT``
    version only, one read where verifying (``unsubscribe_keys``) needs two; cached for
    ``REFRESH_SECONDS`` like them, and taken from them when this container holds them fresh."""
    global _signing
    arn = get_env().unsubscribe_secret_arn
    if not arn:
        return unsubscribe_keys()  # fails loudly, saying what is missing
    with _lock:
        now = time.monotonic()
        for cached in (_cached, _signing):
            if cached is not None and cached[1] == arn and now - cached[0] < REFRESH_SECONDS:
                return cached[2]
        keys = _fetch(arn, previous=False)
        _signing = (now, arn, keys)
        return keys


def forget_keys() -> None:
    """Drop the cached keys (tests and the simulator change the secret under us)."""
    global _cached, _webhook, _signing
    with _lock:
        _cached = None
        _webhook = None
        _signing = None


_webhook: tuple[float, str, bytes] | None = None


def webhook_key() -> bytes:
    """The HMAC key that signs webhook messages (``NUDGE_WEBHOOK_SECRET_ARN``, its
    ``AWSCURRENT`` version, ``whsec_<base64>`` or bare base64; docs/delivery.md), cached for
    ``REFRESH_SECONDS``. Raises ``SecretMissing`` without it."""
    global _webhook
    from nudge.core.webhook import signing_key

    arn = get_env().webhook_secret_arn
    if not arn:
        raise SecretMissing(
            "NUDGE_WEBHOOK_SECRET_ARN is not set: webhook messages cannot be signed "
            "(template.yaml sets it; see docs/deploy.md)"
        )
    with _lock:
        now = time.monotonic()
        if _webhook is not None and _webhook[1] == arn and now - _webhook[0] < REFRESH_SECONDS:
            return _webhook[2]
        sm = client("secretsmanager")
        secret = str(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            key = signing_key(secret)
        except ValueError as exc:
            raise SecretMissing(f"webhook secret {arn} is unusable: {exc}") from None
        _webhook = (now, arn, key)
        return key
