"""Partner formats on the nudge bus, mapped to native events (docs/reference.md#events).

Ingest calls ``adapt`` on every envelope before ``parse_event``::

    for native in adapt(envelope, order_owner=orders.owner_of):
        event = parse_event(native, allowed_sources)

- A Shopify partner event (``detail-type`` ``shopifyWebhook``) or a Segment one (``source``
  ``aws.partner/segment.com/...``, or a ``detail`` shaped like a Segment message) becomes zero or
  more native envelopes.
- Anything else comes back unchanged as ``[envelope]``.
- A partner event nudge does not map (another Shopify topic, a completed checkout, a Segment
  ``group`` call) gives ``[]``; ``adapt_with_reason`` says why, and which topic it was, for
  logs, metrics and ``nudge sources``.
- A partner event that cannot be read raises ``MalformedEvent`` (the reason goes to the DLQ).

Stdlib only: this is on the event path. docs/sources.md documents every mapping.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from nudge.adapters import segment, shopify
from nudge.adapters._native import Skipped
from nudge.adapters.shopify import OrderOwner

__all__ = ["Adaptation", "OrderOwner", "Skipped", "adapt", "adapt_with_reason", "partner_of"]


class Adaptation(NamedTuple):
    """What ``adapt_with_reason`` found: the native envelopes, and why there are none."""

    events: list[Any]
    skipped: str | None = None  # set when a partner event deliberately maps to nothing
    partner: str | None = None  # "shopify", "segment", or None for a native event
    topic: str | None = None  # the partner's name for it: Shopify topic, Segment message type
    unmapped: bool = False  # skipped because nudge has no mapping for the topic at all


def _segment_topic(envelope: dict[str, Any]) -> str | None:
    detail = envelope.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail)
        except ValueError:
            detail = None
    kind = detail.get("type") if isinstance(detail, dict) else None
    kind = kind or envelope.get("detail-type")
    return kind if isinstance(kind, str) and kind else None


def partner_of(envelope: Any) -> str | None:
    """``"shopify"`` or ``"segment"`` for a partner envelope, ``None`` for anything else."""
    if not isinstance(envelope, dict):
        return None
    if shopify.is_shopify(envelope):
        return "shopify"
    if segment.is_segment(envelope):
        return "segment"
    return None


def adapt_with_reason(envelope: Any, *, order_owner: OrderOwner | None = None) -> Adaptation:
    """Map one envelope (a dict, or its JSON text) to native envelopes, saying why if none.

    ``order_owner(order_id)`` returns the customer id of an order nudge has already seen; Shopify
    refunds need it because their body names the order, not the customer. Raises
    ``MalformedEvent`` for a partner event that cannot be read; never for a native one (those are
    returned unchanged, for ``parse_event`` to judge).
    """
    raw = envelope
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError:
            return Adaptation([envelope])  # parse_event reports "not JSON"
    partner = partner_of(raw)
    if partner is None:
        return Adaptation([envelope])
    topic = shopify.topic_of(raw) if partner == "shopify" else _segment_topic(raw)
    try:
        if partner == "shopify":
            events = shopify.to_native(raw, order_owner=order_owner)
        else:
            events = segment.to_native(raw)
    except Skipped as skip:
        return Adaptation([], skip.reason, partner, topic, isinstance(skip, shopify.Unmapped))
    return Adaptation(events, None, partner, topic)


def adapt(envelope: Any, *, order_owner: OrderOwner | None = None) -> list[Any]:
    """The native envelopes for ``envelope``: mapped if it is a partner event, else itself.

    See ``adapt_with_reason`` for the skipped reason and for ``order_owner``.
    """
    return adapt_with_reason(envelope, order_owner=order_owner).events
