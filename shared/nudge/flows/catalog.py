"""Catalog events: ``product_updated`` keeps each product's state, and a restock or a price drop
reaches the customers watching the product (docs/config.md, "Catalog events").

Ingest hands every ``product_updated`` here instead of to a profile. One optimistic write of the
product's state (``PRODUCT#<id>`` / ``STATE``); if it came back in stock or got cheaper and
``settings.catalog`` is set, its watchers are read by a Query on the product's partition (at most
``max_fanout``, never a scan) and each one who hears of it gets ``back_in_stock`` or
``price_dropped`` recorded and decided on in one write of their profile (``record_event``), and
announced on the bus. Event ids are stable per (product, view) and (product, new price), so a
redelivered update, or Shopify's ``products/update`` and ``inventory_levels/update`` for the
same change, reach nobody twice.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from nudge.aws import store
from nudge.core.catalog import changes, news_for, update_state
from nudge.core.clock import iso
from nudge.core.clock import now as clock_now
from nudge.core.decisions import stable_id
from nudge.core.durations import seconds
from nudge.core.events import NUDGE_SOURCE, Event
from nudge.flows.common import record_event

if TYPE_CHECKING:
    from nudge.config import CompiledConfig

log = logging.getLogger("nudge.catalog")
MAX_ATTEMPTS = 10


def apply_product_update(event: Event, config: CompiledConfig) -> dict[str, Any]:
    """Apply one ``product_updated``; returns a short summary (``product_id``, ``changes``,
    ``notified``), or ``skipped`` with the reason."""
    props = event.properties
    product_id = props.get("product_id")
    if product_id is None and props.get("inventory_item_id") is not None:
        product_id = store.product_of_inventory_item(str(props["inventory_item_id"]))
        if product_id is None:
            return {"skipped": "inventory item of a product nudge has not seen yet"}
    if product_id is None:
        return {"skipped": "product_updated without product_id"}
    product_id = str(product_id)
    for item_id in props.get("inventory_item_ids") or ():
        store.inventory_item_put(str(item_id), product_id)
    old: dict[str, Any] | None = None
    new: dict[str, Any] = {}
    for _ in range(MAX_ATTEMPTS):
        old, version = store.get_product(product_id)
        if old and str(old.get("updated_at") or "") > iso(event.time):
            return {"product_id": product_id, "skipped": "older than what nudge knows"}
        new = update_state(old, props, iso(event.time))
        if new == old:
            return {"product_id": product_id, "changes": []}
        try:
            store.put_product(product_id, new, version)
            break
        except store.VersionConflict:
            continue
    else:
        raise store.VersionConflict(product_id)
    kinds = changes(old, new)
    summary: dict[str, Any] = {"product_id": product_id, "changes": kinds, "notified": 0}
    settings = config.settings.catalog
    if not kinds or settings is None:
        return summary
    now = clock_now()
    window = seconds(settings.window)
    for watcher in store.watchers(product_id, settings.max_fanout):
        for kind, key, news in news_for(product_id, new, kinds, watcher, now, window):
            customer_id = watcher["customer_id"]
            derived = Event(
                id=stable_id(kind, customer_id, key),
                type=kind,
                source=NUDGE_SOURCE,
                time=now,
                customer_id=customer_id,
                properties=news,
            )
            if record_event(customer_id, derived, config, announce=True) is not None:
                summary["notified"] += 1
    log.info("product updated", extra={k: v for k, v in summary.items() if k != "product_id"})
    return summary


def watch_entry(event: Event, customer_id: str, config: CompiledConfig) -> dict[str, Any] | None:
    """The watcher item an event of ``settings.catalog.watch`` adds to its customer's write
    (None for any other event, or without ``settings.catalog``)."""
    settings = config.settings.catalog
    if settings is None or event.type not in settings.watch:
        return None
    product_id = event.properties.get("product_id")
    if product_id in (None, ""):
        return None
    price = event.properties.get("price")
    try:
        seen = float(price) if price is not None else None
    except (TypeError, ValueError):
        seen = None
    until = event.time.timestamp() + seconds(settings.window)
    return store.watch_put(str(product_id), customer_id, iso(event.time), seen, until)
