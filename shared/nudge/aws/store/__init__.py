"""DynamoDB access: the only package that talks to the table.

Single-table design (``pk``, ``sk``), one module per item family; each module's docstring says
which items it owns (key shapes, attributes, TTL):

- ``profiles``: ``C#<customer>`` / ``PROFILE`` (the profile, or a merged alias stub),
  ``C#<customer>`` / ``PROFILE#S#<seq>#<token>`` (its old history, in segments) and
  ``ERASED#<customer>`` / ``ERASED`` (tombstones of erased customers);
- ``outbox``: ``C#<customer>`` / ``O#<message_id>`` (messages from pending to sent), and the
  reads and writes dispatch does on a message together with its profile;
- ``decisions``: ``C#<customer>`` / ``D#<at>#<id>`` (the decision log: one entry per event);
- ``transactions``: ``commit``, the one transaction writing a profile with its decisions,
  outbox items and extra entries, and what a cancelled one means;
- ``indexes``: ``ORDER#<order_id>`` and ``PHONE#<number>`` (who placed an order, who we texted);
- ``runs``: ``RUN#score#<date>`` (daily score run checkpoint, lease and chunks);
- ``sources``: ``SOURCES`` / ``<partner>#<topic>`` (what arrived from each partner);
- ``broadcasts``: ``BROADCAST#<campaign>`` / ``CANCEL`` (a cancelled broadcast);
- ``catalog``: ``PRODUCT#<id>`` / ``STATE``, ``W#<customer>`` and ``TOGETHER`` (a product, its
  watchers and what is bought with it),
  ``INVITEM#<id>`` (a Shopify inventory item's product);
- ``bulk``: paginated and parallel scans, partitions, batch deletes (no items of its own);
- ``_table``: the table name, key helpers and the write failures they all share.

Callers use the names re-exported here (``from nudge.aws import store``; ``store.commit``).
A test that replaces a function used *inside* the package patches it in its own module.
"""

from __future__ import annotations

from nudge.aws.store._table import (
    AlreadyExists,
    Erased,
    Gone,
    VersionConflict,
    item_size,
    table,
)
from nudge.aws.store.broadcasts import broadcast_cancelled, cancel_broadcast
from nudge.aws.store.bulk import (
    all_items,
    delete_keys,
    partition_items,
    plain_item,
    profile_docs,
    scan_kind,
    scan_profiles,
    table_item_count,
)
from nudge.aws.store.catalog import (
    TOGETHER_TTL_DAYS,
    bought_together,
    get_product,
    inventory_item_put,
    product_of_inventory_item,
    products,
    put_bought_together,
    put_product,
    watch_keys,
    watch_put,
    watchers,
)
from nudge.aws.store.decisions import (
    DECISION_TTL_DAYS,
    conversion_put,
    decision_item,
    decision_log_item,
    decisions_for,
    item_body,
    item_decisions,
    profile_decisions,
    put_decisions,
    stored_decisions,
    unique,
)
from nudge.aws.store.indexes import (
    ORDER_INDEX_TTL_DAYS,
    customer_for_phone,
    order_index_keys,
    order_index_put,
    order_owner,
    phone_index_keys,
    remember_phone,
)
from nudge.aws.store.outbox import (
    OUTBOX_TTL_DAYS,
    announce_item,
    announced,
    announcement,
    claim_message,
    customer_outbox,
    finish_message,
    get_message,
    in_flight,
    mark_calling,
    outbox_item,
    pending_messages,
    reserve_and_call,
    unclaim,
)
from nudge.aws.store.profiles import (
    Stored,
    alias_put,
    flush_pending,
    get_profile,
    is_erased,
    not_erased_check,
    profile_doc,
    put_tombstone,
    read_profile,
    segment_keys,
    tombstone_delete,
)
from nudge.aws.store.runs import (
    RUN_TTL_DAYS,
    RunBusy,
    claim_run,
    get_run,
    put_run_chunk,
    run_chunks,
    save_run,
)
from nudge.aws.store.sources import SOURCE_OUTCOMES, add_source_counts, source_counts
from nudge.aws.store.transactions import cancelled, commit, log_items, transaction
from nudge.aws.store.winners import save_split_winners, split_winners
from nudge.core.decisions import MISSES, MISSES_MAX

__all__ = [
    "DECISION_TTL_DAYS",
    "MISSES",
    "MISSES_MAX",
    "ORDER_INDEX_TTL_DAYS",
    "OUTBOX_TTL_DAYS",
    "RUN_TTL_DAYS",
    "SOURCE_OUTCOMES",
    "TOGETHER_TTL_DAYS",
    "AlreadyExists",
    "Erased",
    "Gone",
    "RunBusy",
    "Stored",
    "VersionConflict",
    "add_source_counts",
    "alias_put",
    "all_items",
    "announce_item",
    "announced",
    "announcement",
    "bought_together",
    "broadcast_cancelled",
    "cancel_broadcast",
    "cancelled",
    "claim_message",
    "claim_run",
    "commit",
    "conversion_put",
    "customer_for_phone",
    "customer_outbox",
    "decision_item",
    "decision_log_item",
    "decisions_for",
    "delete_keys",
    "finish_message",
    "flush_pending",
    "get_message",
    "get_product",
    "get_profile",
    "get_run",
    "in_flight",
    "inventory_item_put",
    "is_erased",
    "item_body",
    "item_decisions",
    "item_size",
    "log_items",
    "mark_calling",
    "not_erased_check",
    "order_index_keys",
    "order_index_put",
    "order_owner",
    "outbox_item",
    "partition_items",
    "pending_messages",
    "phone_index_keys",
    "plain_item",
    "product_of_inventory_item",
    "products",
    "profile_decisions",
    "profile_doc",
    "profile_docs",
    "put_bought_together",
    "put_decisions",
    "put_product",
    "put_run_chunk",
    "put_tombstone",
    "read_profile",
    "remember_phone",
    "reserve_and_call",
    "run_chunks",
    "save_run",
    "save_split_winners",
    "scan_kind",
    "scan_profiles",
    "segment_keys",
    "source_counts",
    "split_winners",
    "stored_decisions",
    "table",
    "table_item_count",
    "tombstone_delete",
    "transaction",
    "unclaim",
    "unique",
    "watch_keys",
    "watch_put",
    "watchers",
]
