"""What partner events arrive: per partner topic, how many ingest mapped, skipped, found unmapped.

Ingest tallies each partner event here once it is done with it (a malformed one goes to the DLQ
instead, and one that fails and is retried is tallied when it succeeds); the tallies are written
at the end of each invocation as one DynamoDB ``ADD`` per topic (``store.add_source_counts``),
so a batch of ten order webhooks costs one extra write, not ten. ``nudge sources`` reads them.

A topic nudge has no mapping for is logged once per topic in each container, by name, so an
operator who subscribed a topic nudge ignores sees it in the logs too.
"""

from __future__ import annotations

import logging
from collections import Counter

from nudge.aws import store
from nudge.aws.errors import is_denied
from nudge.core.clock import iso
from nudge.core.clock import now as clock_now

log = logging.getLogger("nudge.ingest")

_pending: dict[tuple[str, str], Counter[str]] = {}
_reasons: dict[tuple[str, str], str] = {}
_logged_unmapped: set[tuple[str, str]] = set()


def tally(partner: str, topic: str | None, outcome: str, reason: str | None = None) -> None:
    """Count one partner event of ``topic`` as ``mapped``, ``skipped`` or ``unmapped``."""
    key = (partner, topic or "?")
    _pending.setdefault(key, Counter())[outcome] += 1
    if reason:
        _reasons[key] = reason
    if outcome == "unmapped" and key not in _logged_unmapped:
        _logged_unmapped.add(key)
        log.warning(
            "%s topic %r is not mapped by nudge: counted, not applied "
            "(`nudge sources` lists it; unsubscribe it or ask for a mapping)",
            partner,
            key[1],
            extra={"partner": partner, "topic": key[1]},
        )


def flush() -> None:
    """Write the pending tallies. Best effort: counting never fails an event; what could not be
    written stays pending for the next flush."""
    at = iso(clock_now())
    for key in list(_pending):
        counts = _pending[key]
        try:
            store.add_source_counts(key[0], key[1], dict(counts), at, _reasons.get(key))
        except Exception as exc:  # a counter must never fail the batch, unless it is not allowed
            if is_denied(exc):
                log.exception("not allowed to write source counts", extra={"topic": key[1]})
                raise
            log.warning("could not write source counts", exc_info=True, extra={"topic": key[1]})
            continue
        del _pending[key]
        _reasons.pop(key, None)
