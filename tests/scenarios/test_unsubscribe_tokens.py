"""Unsubscribe tokens that cannot be forged or outlive their lifetime, under a key that is
generated at deploy (Secrets Manager) and rotated without breaking the links already sent.

Every link here is the one the real dispatch put in a real message (its List-Unsubscribe header),
clicked through the real unsubscribe handler; the secret is a Secrets Manager secret in moto.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

import pytest

from nudge.aws import clients
from nudge.aws.secrets import SecretMissing, forget_keys, unsubscribe_keys
from nudge.core.clock import parse_time
from nudge.env import reset_env
from nudge.flows import unsubscribe
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config
from tests.scenarios.test_unsubscribe_link import (
    _cart,
    _consent,
    _first_email,
    _history_of_unsubscribes,
    _later_cart,
    _one_click,
    _request,
    _token,
)


def _rotate() -> None:
    """What docs/deploy.md says to run: a new AWSCURRENT; the old one becomes AWSPREVIOUS.
    (A warm container sees it within REFRESH_SECONDS; forgetting the cache stands for that.)"""
    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    clients.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=secrets.token_urlsafe(48)
    )
    forget_keys()


def _page(link: str) -> tuple[int, str]:
    response = unsubscribe.handle(_request("GET", link))
    return response["statusCode"], response["body"]


@pytest.mark.keeps({"consent_updated": ["source"]})
def test_the_same_link_clicked_after_re_opting_in_unsubscribes_again(sim):
    link = _first_email(sim, "ann")
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 200
    assert _consent(sim, "ann")["email"] is False

    # she opts in again at the checkout two days later, and gets a cart reminder again
    sim.run([customer("ann", "2027-02-05T09:00:00Z")], until=parse_time("2027-02-05T10:00:00Z"))
    assert _consent(sim, "ann")["email"] is True
    assert _later_cart(sim, "ann")[-1] == ("sent", None)
    assert [m["customer_id"] for m in sim.messages()] == ["ann", "ann"]

    # then presses the button of the FIRST message again, byte for byte the same request
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 200

    assert _consent(sim, "ann")["email"] is False
    assert len(_history_of_unsubscribes(sim, "ann")) == 2
    assert len(sim.messages()) == 2


def test_a_link_works_for_a_year_then_expires_and_changes_nothing(sim):
    link = _first_email(sim, "ben")  # sent 2027-02-03
    sim.advance(parse_time("2028-02-02T00:00:00Z"))  # 364 days later
    assert _page(link)[0] == 200

    sim.advance(parse_time("2028-02-05T00:00:00Z"))  # 367 days later
    status, body = _page(link)
    assert status == 403 and "expired" in body
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 403
    assert _consent(sim, "ben")["email"] is True


def test_the_token_lifetime_is_configurable(tmp_path):
    settings = (CONFIG / "settings.yaml").read_text()
    settings = settings.replace(
        'unsubscribe: {url: "https://rose.example/u"}',
        'unsubscribe: {url: "https://rose.example/u", token_lifetime: 30d}',
    )
    assert "token_lifetime: 30d" in settings
    config = make_config(tmp_path, **{"settings.yaml": settings})
    with Simulation(config, start=parse_time("2027-01-01T00:00:00Z")) as sim:
        link = _first_email(sim, "ivo")
        sim.advance(parse_time("2027-03-04T00:00:00Z"))  # 29 days
        assert _page(link)[0] == 200
        sim.advance(parse_time("2027-03-07T00:00:00Z"))  # 32 days
        assert _page(link)[0] == 403
        assert unsubscribe.handle(_one_click(link))["statusCode"] == 403
        assert _consent(sim, "ivo")["email"] is True


def test_a_rotated_key_still_honours_links_until_the_next_rotation(sim):
    first = _first_email(sim, "ada")  # signed with key A
    _rotate()  # B signs, A still verifies
    sim.run(
        [customer("bo", "2027-02-04T09:00:00Z"), _cart("bo", "2027-02-04T10:00:00Z")],
        until=parse_time("2027-02-05T00:00:00Z"),
    )
    second = sim.messages()[-1]["headers"]["List-Unsubscribe"][1:-1]  # signed with key B
    assert _token(first).split(".")[1] != _token(second).split(".")[1]  # another key id
    assert _page(first)[0] == _page(second)[0] == 200

    _rotate()  # C signs, B verifies, A is gone
    assert _page(first)[0] == 403
    assert unsubscribe.handle(_one_click(second))["statusCode"] == 200
    assert _consent(sim, "bo")["email"] is False
    assert _consent(sim, "ada")["email"] is True


def test_a_link_signed_with_a_key_newer_than_the_cache_is_honoured(sim, monkeypatch):
    import nudge.aws.secrets as secret_module

    monkeypatch.setattr(secret_module, "MIN_REFETCH_SECONDS", 0.0)
    _first_email(sim, "cy")
    cached = unsubscribe_keys()
    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    clients.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=secrets.token_urlsafe(48)
    )
    assert unsubscribe_keys() is cached  # this container has not seen the rotation yet
    # another container (dispatch, already refreshed) signs the next link with the new key
    from nudge.core.tokens import Keyring, make_token

    new = clients.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    token = make_token("cy", "email", sim.clock.current, Keyring((new,)))
    link = f"https://rose.example/u?t={token}"

    assert unsubscribe.handle(_one_click(link))["statusCode"] == 200
    assert _consent(sim, "cy")["email"] is False


def test_without_the_secret_both_functions_fail_loudly(sim, monkeypatch):
    link = _first_email(sim, "gil")
    monkeypatch.setenv("NUDGE_UNSUBSCRIBE_SECRET_ARN", "")
    reset_env()
    forget_keys()

    with pytest.raises(SecretMissing, match="NUDGE_UNSUBSCRIBE_SECRET_ARN"):
        unsubscribe.handle(_one_click(link))
    with pytest.raises(SecretMissing):
        unsubscribe_keys()
    assert _consent(sim, "gil")["email"] is True

    # the next reminder (sent by the wake function when its wait is over) cannot be signed:
    # the invocation fails (Lambda retries it after about 1 and 2 minutes, then WakeDLQ);
    # nothing goes out with an unsigned or default-signed link
    sim.run([_cart("gil", "2027-02-11T10:00:00Z")], until=parse_time("2027-02-12T00:00:00Z"))
    assert len(sim.messages()) == 1
    failed = [(fn, error) for _at, fn, error in sim.failures if "SecretMissing" in error]
    assert failed and {fn for fn, _ in failed} <= {"wake", "dispatch", "sweeper"}


def test_a_deleted_secret_is_not_a_silent_fallback(sim):
    link = _first_email(sim, "hal")
    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    clients.client("secretsmanager").delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    forget_keys()

    with pytest.raises(clients.client("secretsmanager").exceptions.ResourceNotFoundException):
        unsubscribe.handle(_one_click(link))
    assert _consent(sim, "hal")["email"] is True


def test_a_link_dated_in_the_future_is_refused(sim):
    from nudge.core.tokens import make_token

    _first_email(sim, "ivy")
    ahead = make_token("ivy", "email", sim.clock.current + timedelta(hours=1), unsubscribe_keys())
    link = f"https://rose.example/u?t={ahead}"
    assert unsubscribe.handle(_one_click(link))["statusCode"] == 403
    assert _consent(sim, "ivy")["email"] is True


def test_consent_events_do_not_need_the_link(sim):
    """The consent event path is independent of tokens (a re-opt-in is a consent event)."""
    sim.run([customer("jay", "2027-02-03T09:00:00Z")], until=parse_time("2027-02-03T10:00:00Z"))
    again = event("consent_updated", "jay", "2027-02-05T10:00:00Z", channel="email", granted=False)
    sim.run([again], until=parse_time("2027-02-06T00:00:00Z"))
    assert _consent(sim, "jay")["email"] is False


def test_dispatch_signs_with_one_read_of_the_secret_and_the_link_still_verifies(sim):
    from nudge.aws.secrets import signing_keys
    from nudge.core.tokens import make_token

    first = _first_email(sim, "dot")
    _rotate()  # the secret has an AWSPREVIOUS now: verifying needs both versions
    calls: list[str] = []
    clients.client("secretsmanager").meta.events.register(
        "before-call.secretsmanager.GetSecretValue", lambda **_: calls.append("get")
    )
    keys = signing_keys()
    assert calls == ["get"]  # signing needs the current version only
    assert signing_keys() is keys and calls == ["get"]  # cached, as the full keyring is
    token = make_token("dot", "email", sim.clock.current, keys)
    assert _page(f"https://rose.example/u?t={token}")[0] == 200
    assert _page(first)[0] == 200  # the unsubscribe function reads both
