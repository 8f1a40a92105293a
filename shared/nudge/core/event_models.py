"""The pydantic models of native events' ``detail`` and of their ``properties`` per event type,
and of the properties of the events nudge records itself (what ``nudge validate`` checks config
conditions and templates against).

Imported by ``nudge.core.events.parse_event`` on the first event, not when a handler's module is:
pydantic builds a model the first time it validates with it, so a container builds only the
models of the event types it sees (``make bench``, cold start).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

from nudge.core.events import ENGAGEMENT_TYPES, MAX_ALIASES
from nudge.core.limits import (
    MAX_ITEMS,
    MAX_QUANTITY,
    exact_amount,
    normal_currency,
    normal_id,
    to_minor_unit,
)


def _refund_amount(value: Any) -> Decimal:
    return abs(exact_amount(value))  # a refund's sign says nothing: both mean money returned


Id = Annotated[str, BeforeValidator(normal_id)]
Amount = Annotated[Decimal, BeforeValidator(exact_amount), Field(ge=0)]
RefundAmount = Annotated[Decimal, BeforeValidator(_refund_amount)]
Currency = Annotated[str | None, BeforeValidator(normal_currency)]


class _Open(BaseModel):
    # built on first use: a container builds only the models of the event types it sees
    model_config = ConfigDict(extra="allow", defer_build=True)


# Field types here are what `nudge validate` checks config conditions and templates against;
# optional fields the partner adapters add (sku, contact, referrer...) are listed so config may
# use them. The models stay open: other properties are kept (settings.custom_events declares them).
_Id = str | int | None  # partner ids are strings; a storefront may send numbers


class LineItem(_Open):
    """One product line in a cart or order."""

    product_id: Id | None = None
    name: str | None = None
    category: str | None = None
    price: Amount | None = None
    quantity: int = Field(default=1, ge=0, le=MAX_QUANTITY)
    sku: _Id = None
    variant_id: _Id = None
    url: str | None = None
    image_url: str | None = None


class _Priced(_Open):
    """Properties holding money: amounts rounded to the currency's minor unit (JPY 0 digits,
    KWD 3, most currencies 2), half to even."""

    @model_validator(mode="after")
    def _to_minor_unit(self) -> _Priced:
        currency = getattr(self, "currency", None)
        for name in ("value", "price"):
            amount = getattr(self, name, None)
            if isinstance(amount, Decimal):
                setattr(self, name, to_minor_unit(amount, currency))
        for item in getattr(self, "items", None) or ():
            if item.price is not None:
                item.price = to_minor_unit(item.price, currency)
        return self


class ProductProps(_Priced):
    product_id: Id
    name: str | None = None
    category: str | None = None
    price: Amount | None = None
    currency: Currency = None
    url: str | None = None
    sku: _Id = None
    image_url: str | None = None


class PageProps(_Open):
    path: str
    title: str | None = None
    url: str | None = None
    name: str | None = None
    referrer: str | None = None


class Contact(_Open):
    """The address and phone a partner body gave (for profiles that have none)."""

    email: str | None = None
    phone: str | None = None


class CartProps(_Priced):
    cart_id: Id | None = None
    value: Amount = Decimal(0)
    currency: Currency = None
    items: list[LineItem] = Field(default_factory=list, max_length=MAX_ITEMS)
    checkout_url: str | None = None
    contact: Contact | None = None


class OrderProps(_Priced):
    order_id: Id
    value: Amount
    currency: Currency = None
    items: list[LineItem] = Field(default_factory=list, max_length=MAX_ITEMS)
    contact: Contact | None = None


class RefundProps(_Priced):
    order_id: Id
    value: RefundAmount
    currency: Currency = None
    # what makes a redelivered refund the same refund (docs/sources.md, "Refunds")
    refund_id: Id | None = None


class ConsentProps(_Open):
    channel: str = Field(pattern="^(email|sms|webhook)$")
    granted: bool
    # a subscription topic (settings.topics); without one, the channel's master switch
    topic: str | None = Field(default=None, pattern="^[a-z0-9_-]{1,64}$")
    source: str | None = None
    addresses: int | None = None  # mailbox feedback: how many addresses it marked
    sub_type: str | None = None


class PreferenceProps(_Open):
    """``preferences_updated``: how often the customer wants marketing on a channel."""

    channel: str = Field(pattern="^(email|sms)$")
    frequency: Literal["any", "weekly", "monthly"]
    source: str | None = None


class Consent(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    email: bool | None = None
    sms: bool | None = None
    webhook: bool | None = None  # marketing through the shop's own webhook endpoint


class Detail(_Open):
    """``detail`` of every native event."""

    customer_id: Id
    event_id: Id | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    traits: dict[str, Any] = Field(default_factory=dict)
    consent: Consent | None = None
    # other ids of the same person (Segment ``anon:<anonymousId>``): ingest merges them in
    aliases: list[Id] = Field(default_factory=list, max_length=MAX_ALIASES)


class ProductUpdateProps(_Priced):
    """``product_updated``: the catalog's news about a product (price, stock, availability).
    Only what changed need be sent; ``available`` false or ``inventory`` 0 is out of stock.
    About no customer: ``detail.customer_id`` may be left out. From Shopify's
    ``inventory_levels/update`` it names the ``inventory_item_id`` (and ``location_id``) instead
    of the product, which nudge looks up (``inventory_item_ids`` of a ``products/update``)."""

    product_id: Id | None = None
    name: str | None = None
    category: str | None = None
    price: Amount | None = None
    currency: Currency = None
    inventory: int | None = None
    available: bool | None = None
    url: str | None = None
    image_url: str | None = None
    variant_id: _Id = None
    sku: _Id = None
    inventory_item_id: _Id = None
    location_id: _Id = None
    inventory_item_ids: list[str] = Field(default_factory=list, max_length=MAX_ITEMS)


PROPERTY_MODELS: dict[str, type[BaseModel]] = {
    "product_viewed": ProductProps,
    "product_updated": ProductUpdateProps,
    "page_viewed": PageProps,
    "cart_updated": CartProps,
    "checkout_started": CartProps,
    "order_placed": OrderProps,
    "order_refunded": RefundProps,
    "consent_updated": ConsentProps,
    "preferences_updated": PreferenceProps,
}


class SegmentChangeProps(_Open):
    """``segment_entered`` / ``segment_exited``."""

    segment: str


class TierChangeProps(_Open):
    """``value_tier_changed``: the tier before (``from``) and now (``to``); None = no tier."""

    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class DailyProps(_Open):
    """``daily``: the daily recompute found the customer due for a time-driven trigger; it
    fires at the trigger's ``at_local_time`` on the customer's local ``date``."""

    date: str
    at_local_time: str


class MilestoneProps(_Open):
    """``milestone_reached``: a profile number crossed a milestone's threshold (once ever)."""

    milestone: str
    field: str
    threshold: float
    value: float | None = None


class ReplenishmentProps(_Open):
    """``replenishment_due``: the customer's supply of a product (or category) runs out in
    ``lead_days``, by its typical re-order interval."""

    product_id: str | None = None
    category: str | None = None
    name: str | None = None
    interval_days: float
    last_order_at: str
    due_at: str
    lead_days: float
    basis: str  # "product", "category" or "configured"


class CatalogNewsProps(_Open):
    """``back_in_stock`` / ``price_dropped``: a product the customer viewed changed for them."""

    product_id: str
    name: str | None = None
    price: float | None = None
    previous_price: float | None = None
    currency: str | None = None
    url: str | None = None
    image_url: str | None = None
    viewed_at: str | None = None


class EngagementProps(_Open):
    """What every engagement event carries about its message (docs/config.md)."""

    message_id: str
    trigger: str
    channel: str
    kind: str = "trigger"
    chain: list[str] = Field(default_factory=list)


class ClickProps(EngagementProps):
    link: str | None = None
    link_tags: dict[str, list[str]] | None = None


class BounceProps(EngagementProps):
    bounce_type: str | None = None
    sub_type: str | None = None
    addresses: int | None = None


class ComplaintProps(EngagementProps):
    feedback_type: str | None = None


class ReplyProps(EngagementProps):
    keyword: str | None = None


# the events nudge records itself (source ``nudge``) and the fields of their properties
OWN_PROPERTY_MODELS: dict[str, type[BaseModel]] = {
    "segment_entered": SegmentChangeProps,
    "segment_exited": SegmentChangeProps,
    "value_tier_changed": TierChangeProps,
    "daily": DailyProps,
    "milestone_reached": MilestoneProps,
    "replenishment_due": ReplenishmentProps,
    "back_in_stock": CatalogNewsProps,
    "price_dropped": CatalogNewsProps,
    **{name: EngagementProps for name in ENGAGEMENT_TYPES},
    "email_clicked": ClickProps,
    "email_bounced": BounceProps,
    "email_complained": ComplaintProps,
    "sms_replied": ReplyProps,
}

detail_adapter = TypeAdapter(Detail)
