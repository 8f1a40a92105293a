"""The token format on its own: what a genuine token says, and every way a bad one is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nudge.core.tokens import (
    DEFAULT_LIFETIME,
    InvalidToken,
    Keyring,
    key_id,
    make_token,
    read_token,
    unsubscribe_url,
)

A = "a" * 40
B = "b" * 40
AT = datetime(2027, 2, 3, 10, 0, tzinfo=UTC)


def _reason(token: str, keys: Keyring, now: datetime = AT) -> str:
    with pytest.raises(InvalidToken) as caught:
        read_token(token, keys, now)
    return caught.value.reason


def test_a_token_says_customer_channel_and_issue_time():
    token = make_token("c-1\x1fodd", "sms", AT, Keyring((A,)))
    said = read_token(token, Keyring((A,)), AT + timedelta(days=1))
    assert (said.customer_id, said.channel, said.issued_at) == ("c-1\x1fodd", "sms", AT)
    assert token.startswith(f"n2.{key_id(A)}.")
    assert A not in token and key_id(A) != key_id(B)


def test_current_and_previous_keys_verify_others_do_not():
    old = make_token("c-1", "email", AT, Keyring((A,)))
    assert read_token(old, Keyring((B, A)), AT).customer_id == "c-1"
    assert _reason(old, Keyring((B,))) == "unknown_key"


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda t: t.split(".", 1)[1].split(".", 1)[1], "old_format"),  # payload.mac
        (lambda t: "n3" + t[2:], "malformed"),
        (lambda t: t[:-3] + "xyz", "bad_signature"),
        (lambda t: "", "malformed"),
        (lambda t: "n2.x.y.z.w", "malformed"),
    ],
)
def test_mangled_tokens_are_refused_with_a_reason(mangle, reason):
    token = make_token("c-1", "email", AT, Keyring((A,)))
    assert _reason(mangle(token), Keyring((A,))) == reason


def test_lifetime_and_clock_skew():
    token = make_token("c-1", "email", AT, Keyring((A,)))
    assert read_token(token, Keyring((A,)), AT + DEFAULT_LIFETIME).channel == "email"
    assert _reason(token, Keyring((A,)), AT + DEFAULT_LIFETIME + timedelta(seconds=1)) == "expired"
    assert read_token(token, Keyring((A,)), AT - timedelta(minutes=4)).channel == "email"
    assert _reason(token, Keyring((A,)), AT - timedelta(minutes=6)) == "not_yet_valid"


def test_short_or_missing_keys_are_refused():
    with pytest.raises(ValueError):
        Keyring(())
    with pytest.raises(ValueError):
        Keyring(("nudge-local-secret",))


def test_the_url_keeps_the_base_query():
    assert unsubscribe_url("https://x.example/u", "T") == "https://x.example/u?t=T"
    assert unsubscribe_url("https://x.example/u?a=1", "T") == "https://x.example/u?a=1&t=T"
