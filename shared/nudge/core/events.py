"""Native storefront events (docs/reference.md#events): the EventBridge envelope and its ``detail``.

``parse_event`` turns an envelope (as delivered to a Lambda, as in ``events/*.json``) into an
``Event``; anything malformed raises ``MalformedEvent`` with a reason fit for the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from nudge.core.clock import iso, parse_time
from nudge.core.limits import (
    MAX_ITEMS,
    MAX_PROPERTIES_BYTES,
    MAX_QUANTITY,
    MAX_TRAITS_BYTES,
    MalformedEvent,
    check_size,
    check_values,
    content_key,
    exact_amount,
    money_number,
    normal_currency,
    normal_id,
    to_minor_unit,
)

NUDGE_SOURCE = "nudge"
MAX_DETAIL_BYTES = 65_536  # a native event's whole detail as JSON
MAX_ALIASES = 20

__all__ = ["MalformedEvent"]  # defined with the limits it enforces; importable from here too


def _refund_amount(value: Any) -> Decimal:
    return abs(exact_amount(value))  # a refund's sign says nothing: both mean money returned


Id = Annotated[str, BeforeValidator(normal_id)]
Amount = Annotated[Decimal, BeforeValidator(exact_amount), Field(ge=0)]
RefundAmount = Annotated[Decimal, BeforeValidator(_refund_amount)]
Currency = Annotated[str | None, BeforeValidator(normal_currency)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


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
    model_config = ConfigDict(extra="forbid")
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
NATIVE_TYPES = (*PROPERTY_MODELS, "customer_updated")
# events about the catalog, not a customer: ingest hands them to nudge.flows.catalog
CATALOG_TYPES = ("product_updated",)
CATALOG_CUSTOMER = "catalog"  # the customer_id a catalog event stands under
# what nudge records itself about its messages (docs/config.md, "Engagement events"): each has
# properties.message_id, trigger and channel, and is decided on in the pass that records it
ENGAGEMENT_TYPES = (
    "message_sent",
    "email_delivered",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "email_complained",
    "sms_replied",
)


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

_detail_adapter = TypeAdapter(Detail)


@dataclass(slots=True)
class Event:
    """A validated event, the unit ingest applies and decide reacts to."""

    id: str  # idempotency key: detail.event_id, else the envelope id
    type: str  # detail-type
    source: str
    time: datetime
    customer_id: str
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)

    @property
    def ts(self) -> float:
        """Event time as epoch seconds."""
        return self.time.timestamp()

    def as_doc(self) -> dict[str, Any]:
        """The event as conditions and templates see it."""
        return {
            "id": self.id,
            "type": self.type,
            "event": self.type,
            "source": self.source,
            "time": iso(self.time),
            "customer_id": self.customer_id,
            "properties": self.properties,
            "traits": self.traits,
        }

    def to_envelope(self) -> dict[str, Any]:
        """Back to an EventBridge envelope (used to replay a waiting trigger's event)."""
        detail: dict[str, Any] = {"customer_id": self.customer_id, "event_id": self.id}
        if self.properties:
            detail["properties"] = self.properties
        if self.traits:
            detail["traits"] = self.traits
        if self.consent:
            detail["consent"] = self.consent
        if self.aliases:
            detail["aliases"] = self.aliases
        return {
            "id": self.id,
            "source": self.source,
            "detail-type": self.type,
            "time": iso(self.time),
            "detail": detail,
        }


def _reason(err: ValidationError, prefix: str) -> str:
    parts = []
    for e in err.errors()[:5]:
        loc = ".".join(str(p) for p in e["loc"])
        parts.append(f"{prefix}{loc}: {e['msg']}")
    return "; ".join(parts)


def source_allowed(source: str, allowed: list[str] | None) -> bool:
    """Is ``source`` one of ``allowed`` (``settings.sources``)? No list allows every source.

    An entry matches its exact name, or as a prefix up to a ``/``: ``aws.partner/shopify.com``
    accepts ``aws.partner/shopify.com/7183745/nudge-rose`` (partner source names end with the
    shop's app id and event source name), while ``shop.storefront`` still matches only itself
    and ``shop.storefront/...``.
    """
    if not allowed:
        return True
    for entry in allowed:
        entry = entry.rstrip("/")
        if entry and (source == entry or source.startswith(entry + "/")):
            return True
    return False


def json_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` as a dict: a JSON object, or JSON text of one; else ``MalformedEvent``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise MalformedEvent(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is not a JSON object")
    return value


def parse_event(raw: Any, allowed_sources: list[str] | None = None) -> Event:
    """Validate an EventBridge envelope (dict or JSON text) into an ``Event``.

    Raises ``MalformedEvent`` naming what is wrong; never anything else for bad input.
    """
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MalformedEvent("event is not a JSON object")
    detail_type = raw.get("detail-type")
    if not isinstance(detail_type, str) or not detail_type:
        raise MalformedEvent("detail-type is missing")
    source = raw.get("source")
    if not isinstance(source, str) or not source:
        raise MalformedEvent("source is missing")
    if source == NUDGE_SOURCE:
        raise MalformedEvent("source 'nudge' is nudge's own; storefront events need another source")
    if not source_allowed(source, allowed_sources):
        raise MalformedEvent(f"source {source!r} is not in settings.sources")
    try:
        when = parse_time(raw.get("time") or "")
    except (ValueError, TypeError, AttributeError, OverflowError):
        raise MalformedEvent(
            f"time {raw.get('time')!r:.64} is not ISO 8601 with an offset"
        ) from None
    detail = json_object(raw.get("detail"), "detail")
    if not detail.get("customer_id") and detail_type in CATALOG_TYPES:
        detail = {**detail, "customer_id": CATALOG_CUSTOMER}
    if not detail.get("customer_id"):
        raise MalformedEvent("detail.customer_id is missing")
    check_values(detail, "detail")
    check_size(detail, "detail", MAX_DETAIL_BYTES)
    check_size(detail.get("properties"), "detail.properties", MAX_PROPERTIES_BYTES)
    check_size(detail.get("traits"), "detail.traits", MAX_TRAITS_BYTES)
    try:
        parsed = _detail_adapter.validate_python(detail)
    except ValidationError as err:
        raise MalformedEvent(_reason(err, "detail.")) from None
    _check_traits(parsed.traits)
    props_model = PROPERTY_MODELS.get(detail_type)
    properties = parsed.properties
    if props_model is not None:
        try:
            model = props_model.model_validate(properties)
        except ValidationError as err:
            raise MalformedEvent(_reason(err, "detail.properties.")) from None
        properties = _json_ready(model.model_dump(exclude_none=True))
    # no event_id: the content is the key, so a retried PutEvents (new envelope id) is a duplicate
    event_id = parsed.event_id or content_key(source, detail_type, when, detail)
    consent = {}
    if parsed.consent is not None:
        consent = {k: v for k, v in parsed.consent.model_dump().items() if v is not None}
    return Event(
        id=event_id,
        type=detail_type,
        source=source,
        time=when,
        customer_id=str(parsed.customer_id),
        properties=properties,
        traits=dict(parsed.traits),
        consent=consent,
        aliases=[str(a) for a in parsed.aliases if a and str(a) != str(parsed.customer_id)],
    )


def _json_ready(value: Any) -> Any:
    """Validated properties as JSON: rounded amounts (Decimal) as numbers."""
    if isinstance(value, Decimal):
        return money_number(value)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def _check_traits(traits: dict[str, Any]) -> None:
    """The traits nudge reads itself (address, phone, zone, name) are text when given."""
    for key in ("email", "phone", "timezone", "first_name"):
        value = traits.get(key)
        if value is not None and not isinstance(value, str):
            raise MalformedEvent(f"detail.traits.{key}: not text")


def envelope_doc(envelope: dict[str, Any] | None) -> dict[str, Any]:
    """The doc conditions and templates see, from a stored envelope (``event.properties``)."""
    if not envelope:
        return {}
    detail = envelope.get("detail") or {}
    return {
        "id": detail.get("event_id") or envelope.get("id"),
        "type": envelope.get("detail-type"),
        "event": envelope.get("detail-type"),
        "source": envelope.get("source"),
        "time": envelope.get("time"),
        "customer_id": detail.get("customer_id"),
        "properties": detail.get("properties") or {},
        "traits": detail.get("traits") or {},
    }
