"""Native storefront events (docs/reference.md#events): the EventBridge envelope and its ``detail``.

``parse_event`` turns an envelope (as delivered to a Lambda, as in ``events/*.json``) into an
``Event``; anything malformed raises ``MalformedEvent`` with a reason fit for the DLQ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nudge.core.clock import iso, parse_time
from nudge.core.limits import (
    MAX_PROPERTIES_BYTES,
    MAX_TRAITS_BYTES,
    MalformedEvent,
    check_size,
    check_values,
    content_key,
    money_number,
)

if TYPE_CHECKING:
    from pydantic import ValidationError

NUDGE_SOURCE = "nudge"
MAX_DETAIL_BYTES = 65_536  # a native event's whole detail as JSON
MAX_ALIASES = 20

__all__ = ["MalformedEvent"]  # defined with the limits it enforces; importable from here too


# the native event types with typed properties (``nudge.core.event_models.PROPERTY_MODELS``)
PROPERTY_TYPES = (
    "product_viewed",
    "product_updated",
    "page_viewed",
    "cart_updated",
    "checkout_started",
    "order_placed",
    "order_refunded",
    "consent_updated",
    "preferences_updated",
)
NATIVE_TYPES = (*PROPERTY_TYPES, "customer_updated")
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

# the pydantic models live in nudge.core.event_models, imported on the first parse_event (not
# with this module: a handler's cold start does not pay for them); reachable from here too
_MODEL_NAMES = frozenset(
    {
        "PROPERTY_MODELS",
        "OWN_PROPERTY_MODELS",
        "LineItem",
        "ProductProps",
        "PageProps",
        "Contact",
        "CartProps",
        "OrderProps",
        "RefundProps",
        "ConsentProps",
        "PreferenceProps",
        "Consent",
        "Detail",
        "ProductUpdateProps",
        "SegmentChangeProps",
        "TierChangeProps",
        "DailyProps",
        "MilestoneProps",
        "ReplenishmentProps",
        "CatalogNewsProps",
        "EngagementProps",
        "ClickProps",
        "BounceProps",
        "ComplaintProps",
        "ReplyProps",
    }
)


def __getattr__(name: str) -> Any:
    """The event models by their old address (``nudge.core.events.CartProps``), imported then."""
    if name in _MODEL_NAMES:
        from nudge.core import event_models

        return getattr(event_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    from pydantic import ValidationError

    from nudge.core.event_models import PROPERTY_MODELS, detail_adapter

    try:
        parsed = detail_adapter.validate_python(detail)
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
