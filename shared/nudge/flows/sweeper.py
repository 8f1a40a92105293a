"""Sweeper: nothing in flight is left to end silently.

Run by a schedule every few minutes (``SweeperFunction`` in template.yaml). It reads the sparse
``inflight`` index (a Query per shard, never a Scan) for what a crashed run left behind:

- outbox items still ``sending`` whose claim is older than ``dispatch.STALE_CLAIM`` (the longest
  a dispatch or wake run can last, plus a margin). Each ends exactly one way
  (``dispatch.resolve_claimed``): re-sent once if the provider call was never marked; ``sent``
  if the provider's message id is known; else ``failed`` / ``provider_error`` with the claim and
  call times as evidence. The same resolution serves a retry that finds the claim stale, and the
  retake is conditional on the very claim read, so the two never both send.
- announcement items (nudge events for the bus stored with the change they announce) older than
  the same bound: put on the bus again, then deleted.

Why a sweeper: Lambda retries an asynchronous invocation (wake) about 1 and 2 minutes after a
failure, then parks it in the DLQ; a stream record (dispatch) is retried within seconds. Neither
waits long enough to be sure the crashed run is over, so neither can safely take over a claim;
the sweeper can, and runs until the index is empty (docs/delivery.md).

``events/sweeper.json`` is the EventBridge scheduled event a rate rule delivers (its shape as in
the ``example-eventbridge-schedule.json`` fixture of aws/aws-lambda-rust-runtime).
"""

from __future__ import annotations

import logging
from typing import Any

from nudge.aws import store
from nudge.core.clock import now as clock_now

log = logging.getLogger("nudge.sweeper")
BATCH = 100  # items per run; the next run takes the rest


def sweep() -> dict[str, Any]:
    """Resolve every stale item in flight (up to ``BATCH``); returns counts by outcome and how
    many are still ``in_flight`` (claimed recently: a later run will look again)."""
    from nudge.flows.common import announce
    from nudge.flows.dispatch import STALE_CLAIM, dispatch_message

    now = clock_now()
    stale = store.in_flight((now - STALE_CLAIM).isoformat(), BATCH)
    outcomes: dict[str, int] = {}
    for customer_id, sort_key, _claimed_at in stale:
        if sort_key.startswith("A#"):
            envelopes = store.announcement(customer_id, sort_key)
            outcome = "announced"
            if envelopes is not None:
                announce(customer_id, envelopes, sort_key)
        else:
            outcome = dispatch_message(customer_id, sort_key[2:])
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        log.info("swept %s: %s", sort_key[:2], outcome)
    waiting = len(store.in_flight(now.isoformat(), BATCH))
    return {"swept": len(stale), "outcomes": outcomes, "in_flight": waiting}


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: the schedule's event (its content does not matter)."""
    from nudge.flows.dispatch import forget_companions

    forget_companions()  # a new invocation reads the latest bought-together lists
    return sweep()
