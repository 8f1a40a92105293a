"""Shopify customer records and consent topics, and who a Shopify body is about.

Split from :mod:`nudge.adapters.shopify` (which maps the envelope and the order/checkout
topics, and re-exports the public names here): the customer id (or, for a guest, the email's
alias), the contact a body gives, and the consent states Shopify reports, as native events
(``customer_updated``, ``consent_updated``). Pure, like the rest of the adapters.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from nudge.adapters._native import Envelope, Skipped, drop_none, first_time, ident
from nudge.core.events import MalformedEvent

if TYPE_CHECKING:  # the mappers' context and type live with the topic table
    from nudge.adapters.shopify import _Ctx, _Mapper

EMAIL_PREFIX = "email:"

# Every documented marketing state (CustomerEmailMarketingState / CustomerSmsMarketingState):
# is the customer's consent granted? ``pending`` is a double opt-in not confirmed yet.
# ``not_subscribed`` is Shopify's default for someone who never subscribed, not an opt-out: it
# withdraws a consent nudge recorded but creates no record (see pipeline.identity.apply_hints).
CONSENT_STATES: dict[str, bool] = {
    "subscribed": True,
    "pending": False,
    "not_subscribed": False,
    "unsubscribed": False,
    "redacted": False,
    "invalid": False,
}
NEVER_SUBSCRIBED = "not_subscribed"


def email_alias(email: Any) -> str | None:
    """``email:<hash>``: the id of whoever uses this email where no customer id is known.

    Deterministic (the same address, whatever its case or surrounding spaces, is the same id)
    and without the address itself, so ids in keys and logs carry no email.
    """
    if not isinstance(email, str):
        return None
    normalized = email.strip().lower()
    if "@" not in normalized or any(ch.isspace() for ch in normalized):
        return None
    return EMAIL_PREFIX + hashlib.sha256(normalized.encode()).hexdigest()[:32]


def shopify_customer_id(payload: dict[str, Any], *keys: str) -> str | None:
    """The Shopify customer id: ``payload.customer.id`` or a top-level key, or from its GID."""
    customer = payload.get("customer")
    if isinstance(customer, dict) and ident(customer.get("id")):
        return ident(customer.get("id"))
    for key in keys:
        found = ident(payload.get(key))
        if found:
            return found
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith("gid://shopify/Customer/"):
        return gid.rsplit("/", 1)[1] or None
    return None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class Buyer:
    """Who placed an order or a checkout: the customer id, else the email's alias; the emails
    and phone the body gives (as ``contact`` for profiles without them); the aliases to merge."""

    def __init__(self, payload: dict[str, Any]) -> None:
        block = payload.get("customer")
        customer = block if isinstance(block, dict) else {}
        emails = [e for e in (_text(customer.get("email")), _text(payload.get("email"))) if e]
        phones = (customer.get("phone"), payload.get("phone"), payload.get("sms_marketing_phone"))
        phone = next((p for p in map(_text, phones) if p), None)
        self.contact = drop_none({"email": emails[0] if emails else None, "phone": phone})
        aliases = list(dict.fromkeys(a for a in map(email_alias, emails) if a))
        customer_id = shopify_customer_id(payload)
        if customer_id is None and aliases:
            customer_id, aliases = aliases[0], aliases[1:]
        self.customer_id = customer_id
        self.aliases = aliases


_TRAIT_KEYS = ("email", "phone", "first_name", "last_name", "locale", "timezone")
_CONSENT_BLOCKS = (("email", "email_marketing_consent"), ("sms", "sms_marketing_consent"))


def _state(block: dict[str, Any]) -> str | None:
    """The documented state of a consent block, lowercase, or None if it is not one."""
    state = block.get("state")
    if isinstance(state, str) and state.strip().lower() in CONSENT_STATES:
        return state.strip().lower()
    return None


def _report(state: str, block: dict[str, Any]) -> dict[str, Any]:
    """A consent state as reported, with when the customer last changed it (UTC ``Z``)."""
    return {"state": state, "consent_updated_at": first_time(block.get("consent_updated_at"))}


def customer_updated(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
    customer_id = ident(payload.get("id")) or shopify_customer_id(payload)
    if customer_id is None:
        raise MalformedEvent("customer payload without id")
    traits = {k: payload[k] for k in _TRAIT_KEYS if payload.get(k) not in (None, "")}
    tags = payload.get("tags")
    if isinstance(tags, str) and tags.strip():
        traits["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    # Up to API 2024-10 the customer body carries its consent (2025-01 moved it to the consent
    # topics). It is a report of the record's state, resolved against the profile by ingest,
    # not an opt-in event: a stale "subscribed" must not undo an erasure (identity.reopts_in).
    states: dict[str, dict[str, Any]] = {}
    ignored: dict[str, str] = {}
    for channel, name in _CONSENT_BLOCKS:
        block = payload.get(name)
        if block is None:
            continue
        state = _state(block) if isinstance(block, dict) else None
        if state is None:
            shown = block.get("state") if isinstance(block, dict) else block
            ignored[channel] = f"{name}.state {shown!r} is not a documented state: unchanged"
        else:
            states[channel] = _report(state, block)
    properties = drop_none({"consent_states": states or None, "consent_ignored": ignored or None})
    email = email_alias(payload.get("email"))
    when = first_time(payload.get("updated_at"), payload.get("created_at"), ctx.triggered_at)
    return [
        ctx.native(
            env,
            "customer_updated",
            customer_id,
            when,
            traits=traits,
            properties=properties,
            aliases=[email] if email else None,
        )
    ]


def consent_topic(channel: str, block: str, id_keys: tuple[str, ...], address: str) -> _Mapper:
    """A consent topic: the customer's consent on one channel changed in Shopify."""
    trait = "email" if channel == "email" else "phone"

    def mapper(env: Envelope, payload: dict[str, Any], ctx: _Ctx) -> list[Envelope]:
        customer_id = shopify_customer_id(payload, *id_keys)
        if customer_id is None:
            raise MalformedEvent(f"{channel} consent update without customer id")
        consent = payload.get(block)
        if not isinstance(consent, dict):
            raise MalformedEvent(f"payload.{block} is missing")
        state = _state(consent)
        if state is None:
            raise Skipped(
                f"{block}.state {consent.get('state')!r} is not a documented state: "
                f"{channel} consent unchanged"
            )
        contact = drop_none({trait: _text(payload.get(address))}) or None
        when = first_time(consent.get("consent_updated_at"), ctx.triggered_at)
        if state == NEVER_SUBSCRIBED:
            # Shopify's default, not the customer's act: withdraws a recorded consent, records
            # none (pipeline.identity.apply_hints), so it is a customer update, not a consent one.
            states = {channel: _report(state, consent)}
            properties = drop_none({"consent_states": states, "contact": contact})
            return [ctx.native(env, "customer_updated", customer_id, when, properties=properties)]
        properties = drop_none(
            {
                "channel": channel,
                "granted": CONSENT_STATES[state],
                "source": "shopify",
                "state": state,
                "opt_in_level": consent.get("opt_in_level"),
                "consent_updated_at": first_time(consent.get("consent_updated_at")),
                "consent_collected_from": consent.get("consent_collected_from"),
                "contact": contact,
            }
        )
        return [ctx.native(env, "consent_updated", customer_id, when, properties=properties)]

    return mapper
