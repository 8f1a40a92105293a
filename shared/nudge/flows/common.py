"""What every handler shares: the config, the one read-decide-write loop of a customer
(``write_customer``), applying a plan."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.aws import scheduler as schedule
from nudge.aws import store
from nudge.core import clock
from nudge.core.clock import now as clock_now
from nudge.core.clock import parse_time
from nudge.core.decide import message_chain
from nudge.core.decisions import Plan, stable_id
from nudge.core.events import NUDGE_SOURCE, Event
from nudge.core.profile import (
    SENDS_MAX,
    apply_event,
    is_duplicate,
    mark_addresses,
    new_profile,
)
from nudge.core.react import react
from nudge.env import get_env
from nudge.flows.identity import read_customer
from nudge.metrics import count_decisions

if TYPE_CHECKING:
    from nudge.config import CompiledConfig

log = logging.getLogger("nudge")
MAX_ATTEMPTS = 10  # reads of one customer's profile before a write gives up
BACKOFF_BASE = 0.02  # seconds: the first retry waits up to this, each next one up to twice
BACKOFF_CAP = 1.0  # seconds; ~2 s expected over all retries, well inside a 30 s run
# a customer this container wrote less than this long ago is read strongly consistently (an
# eventually consistent read shows a write "usually within a second": events of one customer
# in one SQS batch, or a retry, would otherwise read what they just wrote as missing)
RECENT_WRITE_S = 2.0
_RECENT_MAX = 512  # customers remembered (the oldest are forgotten first)
_recent: dict[str, float] = {}


def envelope_field(read: Callable[[], Any]) -> Any:
    """``read()`` on a Powertools event data class, or None where the event lacks the field (the
    data classes raise KeyError/TypeError on a missing or malformed key; bad input never raises)."""
    try:
        return read()
    except (KeyError, TypeError, AttributeError, IndexError):
        return None


WINNERS_REFRESH = 300.0  # seconds between reads of the recorded split winners


def current_config() -> CompiledConfig:
    """The compiled config of this container (built on first use, not at import), with the
    split winners recorded so far when it has a split with a ``winner`` rule (read at most
    every ``WINNERS_REFRESH`` seconds: one GetItem, not one per event)."""
    from nudge.config import get_config

    config = get_config(get_env().config_dir)
    if config.winner_splits:
        at = clock_now().timestamp()
        last = config.winners_read_at
        if last is None or not 0 <= at - last < WINNERS_REFRESH:
            config.split_winners = store.split_winners()
            config.winners_read_at = at
    return config


def record_event(
    customer_id: str,
    event: Event,
    config: CompiledConfig,
    flags: dict[str, Any] | None = None,
    announce: bool = False,
    addresses: dict[str, dict[str, Any]] | None = None,
) -> Plan | None:
    """Apply an event nudge learnt itself (provider feedback, its own sends) to the customer
    and decide on it in the same write, as ingest does for storefront events: triggers whose
    ``when`` it matches fire, running waits it meets a ``cancel_if`` of are cancelled, and
    ``did``/``did_not`` see it from now on. Never by reading it back from the bus, so no loop.

    ``flags`` are set on the profile too (``opened_at``…), ``addresses`` (normalised address ->
    feedback state) are marked (``profile.mark_addresses``); ``announce`` also puts
    the event on the bus after the write (``message_sent``). None when it was already applied
    or the customer was erased.
    """

    def change(profile: dict[str, Any], now: datetime) -> Plan | None:
        if is_duplicate(profile, event):
            return None
        apply_event(profile, event, config.history, now)
        profile.update(flags or {})
        if addresses:
            mark_addresses(profile, addresses)
        plan = react(profile, config, now, event)
        if announce:
            plan.emit.append(event.to_envelope())
        return plan

    return update_customer(customer_id, change)


def engagement_properties(message: dict[str, Any]) -> dict[str, Any]:
    """``message_id``, ``trigger``, ``channel``, ``kind`` and ``chain`` of an engagement event
    about an outbox message (``chain``: the triggers whose messages led to it, see
    ``message_chain``)."""
    return {
        "message_id": message["message_id"],
        "trigger": message["trigger"],  # a campaign's id for campaign messages
        "channel": message["channel"],
        "kind": message.get("kind") or "trigger",
        "chain": message_chain(message["trigger"], message.get("event")),
    }


def record_message_sent(message: dict[str, Any]) -> Plan | None:
    """The provider accepted ``message``: record ``message_sent`` on the customer (decided on
    in that write) and announce it on the bus. Idempotent per message id."""
    event = Event(
        id=stable_id("message_sent", message["message_id"]),
        type="message_sent",
        source=NUDGE_SOURCE,
        time=clock_now(),
        customer_id=message["customer_id"],
        properties=engagement_properties(message),
    )
    return record_event(message["customer_id"], event, current_config(), announce=True)


def apply_plan(profile: dict[str, Any], plan: Plan) -> None:
    """Fold a plan's waits and ledger entries into the profile document."""
    waits = profile.setdefault("waits", {})
    for wait_id in [*plan.cancelled_waits, *plan.ended_waits]:
        waits.pop(wait_id, None)
    for wait in plan.waits:
        waits[wait.wait_id] = {
            "trigger": wait.trigger,
            "created_at": wait.created_at,
            "due_at": wait.due_at,
            "event": wait.event,
        }
    if plan.sends:
        sends = profile.setdefault("sends", [])
        sends.extend(plan.sends)
        del sends[: max(0, len(sends) - SENDS_MAX)]


def schedule_waits(customer_id: str, plan: Plan) -> None:
    """Create the plan's wait schedules, and those of its messages due later, before the write:
    names are deterministic, so a retry does not duplicate them, and a schedule whose write
    never happened finds no wait (no message)."""
    schedule.schedule_messages(customer_id, plan.messages)
    for wait in plan.waits:
        schedule.create_wake(
            "wait",
            wait.wait_id,
            parse_time(wait.due_at),
            {"customer_id": customer_id, "wait_id": wait.wait_id},
        )


def after_write(customer_id: str, plan: Plan, also_cancelled: list[str] | None = None) -> None:
    """What follows a successful write: unschedule cancelled waits (a wake that finds no wait
    does nothing, so this may fail harmlessly), count the decisions, announce the changes."""
    for wait_id in [*plan.cancelled_waits, *(also_cancelled or [])]:
        schedule.delete_wake("wait", wait_id)
    count_decisions(plan.decisions)
    if plan.emit:
        announce(customer_id, plan.emit)


def announce(customer_id: str, envelopes: list[dict[str, Any]], sort_key: str = "") -> None:
    """Put nudge events on the bus, then delete the announcement item the write stored with
    them (``sort_key``; by default the one ``store.announce_item`` made of ``envelopes``). If
    the bus refuses them (``put_events`` raises: the caller's item fails and is retried) or we
    crash first, the item stays and the sweeper announces them again: at least once, never lost
    (consumers see ``detail.event_id`` twice at worst)."""
    from nudge.aws.bus import put_events

    put_events(envelopes)
    key = sort_key or store.announce_item(customer_id, envelopes)["Put"]["Item"]["sk"]["S"]
    store.announced(customer_id, key)


@dataclass(slots=True)
class Write:
    """What one attempt of a change writes besides the profile: its plan, store transaction
    entries that must be stored if and only if the profile change is (``extra``: merged alias
    stubs), plain puts that only need to follow it (``after``: the order index, a conversion,
    a watch; ``store.commit``), waits of other profiles to unschedule once it is written
    (``unschedule``) and items to delete then (``drop``: merged aliases' history segments)."""

    plan: Plan
    extra: list[dict[str, Any]] = field(default_factory=list)
    unschedule: list[str] = field(default_factory=list)
    after: list[dict[str, Any]] = field(default_factory=list)
    drop: list[dict[str, Any]] = field(default_factory=list)


Change = Callable[[dict[str, Any], datetime], Plan | Write | None]


@dataclass(slots=True)
class Written:
    """What ``write_customer`` did: whose profile it wrote (after following aliases) and the
    plan, or None when the change wanted nothing written or the customer is erased."""

    customer_id: str
    plan: Plan | None = None
    erased: bool = False
    redirected_from: str | None = None


def backoff(conflicts: int) -> None:
    """Wait before retrying after the ``conflicts``-th version conflict in a row: exponential
    with full jitter (a random wait up to ``BACKOFF_BASE * 2**(conflicts - 1)``, at most
    ``BACKOFF_CAP``), so writers that collided do not collide again. On ``nudge.core.clock``, so a
    simulated clock does not wait at all."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (conflicts - 1))
    clock.sleep(random.uniform(0, ceiling))  # jitter, not secrecy


def write_customer(
    customer_id: str,
    change: Change,
    *,
    follow_aliases: bool = False,
    reopens: bool = False,
) -> Written:
    """The one customer loop: read the profile, let ``change`` mutate it and plan, then write
    it all in one ``store.commit``; on a version conflict, back off, read again and redo the
    change, so concurrent writers are all applied.

    - The first read is eventually consistent (half the read units), unless this container
      wrote the customer less than ``RECENT_WRITE_S`` ago. What it read is only ever written
      back conditionally on its version: a write made since fails that condition. Anything
      else it leads to (nothing to write, a refusal, a pending item found missing) is judged
      again on a strongly consistent read, as is every retry.
    - ``follow_aliases``: a merged alias's profile stands for its customer (ingest).
    - An erased customer is never recreated: creating a profile checks for a tombstone
      (``store.commit``'s ``creates``: in the transaction, or read right after a plain put,
      which is undone if there is one); once one was found, the change is refused, unless
      ``reopens`` (an explicit opt-in), which removes the tombstone in the write.
    - The items the profile's last write was followed by are made sure of first
      (``store.flush_pending``), so a crash between those writes loses no decision.
    - Waits are scheduled before the write (names are deterministic, so a retry does not
      duplicate them; a write that never happens leaves wakes that find no wait); cancelled
      ones are unscheduled after it (a wake that finds no wait does nothing).
    - An outbox item already there means an earlier attempt of this very work was written
      (``AlreadyExists``): nothing more is done.
    """
    redirected_from: str | None = None
    erased = False  # learnt from the tombstone check of a profile's creation
    conflicts = 0
    consistent = _wrote_lately(customer_id)
    for _attempt in range(MAX_ATTEMPTS):
        target, stored = read_customer(customer_id, follow_aliases, consistent)
        if target != customer_id:
            redirected_from, customer_id = redirected_from or customer_id, target
        consistent = True  # whatever happens next, a next round reads the latest
        guard: list[dict[str, Any]] = []
        if stored.doc is None:
            if erased and not reopens:
                return Written(customer_id, erased=True, redirected_from=redirected_from)
            if erased:
                guard.append(store.tombstone_delete(customer_id))
        if not store.flush_pending(stored):
            continue  # read perhaps too early to tell a crash from an erasure: read again
        profile = stored.doc or new_profile(customer_id)
        now = clock_now()
        try:
            done = change(profile, now)
        except Exception:
            if stored.consistent:
                raise
            continue  # refused on what may be an older version: judged again on the latest
        if done is None:
            if not stored.consistent:
                continue  # nothing to write, perhaps only on an older version: read again
            return Written(customer_id, redirected_from=redirected_from)
        write = done if isinstance(done, Write) else Write(done)
        plan = write.plan
        apply_plan(profile, plan)
        schedule_waits(customer_id, plan)
        # nudge events for the bus are stored with the change, so a crash after it loses none:
        # put after it (the profile carries them until then) when a decision log entry, which
        # nobody deletes, follows them (store.flush_pending), else in its transaction
        announcing = [store.announce_item(customer_id, plan.emit)] if plan.emit else []
        atomic = [] if plan.decisions else announcing
        try:
            store.commit(
                customer_id,
                profile,
                stored.version,
                plan.decisions,
                plan.messages,
                [*guard, *write.extra, *atomic],
                [*announcing[len(atomic) :], *write.after],
                creates=stored.doc is None and not guard,
            )
        except store.Erased:
            erased = True  # the next round refuses the change, unless it reopens
            for wait in plan.waits:
                schedule.delete_wake("wait", wait.wait_id)
            continue
        except store.VersionConflict:
            conflicts += 1
            # after an eventually consistent read, most likely a version it had not seen yet
            # (docs/storage.md "Reading the profile"): operators can count these
            log.info(
                "version conflict, retrying",
                extra={"customer_id": customer_id, "eventual_read": not stored.consistent},
            )
            if _attempt < MAX_ATTEMPTS - 1:
                backoff(conflicts)
            continue
        except store.AlreadyExists:
            log.info("outbox item already written", extra={"customer_id": customer_id})
            return Written(customer_id, plan, redirected_from=redirected_from)
        _wrote(customer_id)
        if write.drop:
            store.delete_keys(write.drop)
        after_write(customer_id, plan, write.unschedule)
        return Written(customer_id, plan, redirected_from=redirected_from)
    raise RuntimeError(f"profile kept changing under us after {MAX_ATTEMPTS} attempts")


def _wrote_lately(customer_id: str) -> bool:
    """Did this container write ``customer_id`` less than ``RECENT_WRITE_S`` ago?"""
    at = _recent.get(customer_id)
    return at is not None and clock_now().timestamp() - at < RECENT_WRITE_S


def _wrote(customer_id: str) -> None:
    """Remember that this container has just written ``customer_id``."""
    _recent.pop(customer_id, None)
    _recent[customer_id] = clock_now().timestamp()
    if len(_recent) > _RECENT_MAX:
        del _recent[next(iter(_recent))]  # the one written longest ago


def update_customer(customer_id: str, change: Change) -> Plan | None:
    """``write_customer`` for callers that need only the plan (None: nothing was written, or
    the customer is erased)."""
    return write_customer(customer_id, change).plan
