"""Journeys: a trigger with ``steps:`` walked one step at a time (docs/config.md#journeys).

Pure, like :mod:`nudge.core.decide`, which calls it: an event that fires a journey's ``when``
enters the customer (:func:`enter`); an event a running journey listens to (``exit_if``,
``wait_for``) moves it (:func:`on_event`); a wait ending moves it too (:func:`on_wake`). Each
step leaves a decision. The customer's state is one small entry per journey under the profile's
``journeys`` attribute, read and written only here (:func:`journey_states`); waits are ordinary
profile waits, so the Scheduler wakes them like a trigger's ``wait``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from nudge.core.clock import iso, parse_time
from nudge.core.decisions import Decision, Message, Plan, Wait, stable_id
from nudge.core.delivery import bucket, customer_zone, holdout_reason
from nudge.core.durations import seconds
from nudge.core.events import Event
from nudge.core.gate import SUPPRESS, choose_channel, decision, inactive
from nudge.core.localtime import next_local_time
from nudge.core.rules import Ctx

if TYPE_CHECKING:
    from nudge.config import CompiledConfig, CompiledTrigger
    from nudge.config.journeys import CompiledJourney, Node

STATE_KEY = "journeys"  # the one profile attribute holding journey state
MAX_STEPS = 1000  # a guard only: journeys go forward, so a walk ends within its step count

EventRef = Event | dict[str, Any]
_iso = lru_cache(maxsize=256)(iso)  # one event enters many journeys at the same instants


def journey_states(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The customer's journey states by journey id (created empty when missing).

    A running journey: ``{run, at, hash, entered, wait, splits, holdout}``; a finished one is
    compacted to ``{done, entered, how, splits}`` (kept only while its ``reentry`` needs it)."""
    states: dict[str, dict[str, Any]] = profile.setdefault(STATE_KEY, {})
    return states


def active_journeys(profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The journeys the customer is walking now (read-only; no attribute is created)."""
    return {k: v for k, v in (profile.get(STATE_KEY) or {}).items() if "done" not in v}


def variant_text(state: dict[str, Any]) -> str | None:
    """The split variants chosen so far, as decisions and messages carry them:
    ``offer_test=ten`` (several: ``a=x,b=y``, by split name)."""
    splits = state.get("splits")
    if not splits:
        return None
    return ",".join(f"{k}={v}" for k, v in sorted(splits.items()))


def pick_variant(customer_id: str, journey_id: str, node: Node) -> str:
    """The split variant of a customer: a stable hash of customer x journey x split name over
    the weights, so it is the same on every run, retry and deploy."""
    split = node.split
    assert split is not None
    total = sum(split.variants.values())
    point = bucket(journey_id, split.name, customer_id) / 100 * total
    for name, weight in split.variants.items():
        if point < weight:
            return name
        point -= weight
    return list(split.variants)[-1]


class _Walk:
    """One pass through a customer's journey: decisions, waits and messages into ``plan``."""

    def __init__(
        self,
        profile: dict[str, Any],
        view: dict[str, Any],
        trigger: CompiledTrigger,
        state: dict[str, Any],
        envelope: dict[str, Any],
        config: CompiledConfig,
        now: datetime,
        plan: Plan,
    ) -> None:
        self.profile = profile
        self.view = view
        self.trigger = trigger
        self.journey: CompiledJourney = trigger.journey
        self.state = state
        self.envelope = envelope
        self.config = config
        self.now = now
        self.plan = plan
        self.cid = str(profile["customer_id"])

    def note(self, outcome: str, reason: str | None, step: str | None, **detail: Any) -> None:
        full: dict[str, Any] = {"step": step} if step else {}
        full.update(detail)
        full["seq"] = len(self.plan.decisions)  # their order within one instant (the log's key)
        variant = variant_text(self.state)
        if variant:
            full["variant"] = variant
        self.plan.decisions.append(
            _decision(self.cid, self.journey.id, self.now, outcome, reason, self.envelope, full)
        )

    def finish(self, outcome: str, reason: str | None, step: str | None, **detail: Any) -> None:
        """End the journey (``completed`` or ``exited``); its state is compacted."""
        self.note(outcome, reason, step, **detail)
        wait = self.state.get("wait")
        if wait:
            self.plan.cancelled_waits.append(wait)
        states = journey_states(self.profile)
        states[self.journey.id] = _finished(self.state, self.now, reason or outcome)
        _compact(states, self.config, self.now, keep=self.journey.id)

    def wait(self, node: Node, due: datetime, **detail: Any) -> None:
        wait_id = stable_id(self.cid, self.journey.id, str(self.state["run"]), node.id)
        due_at = _iso(due)
        self.plan.waits.append(
            Wait(wait_id, self.journey.id, _iso(self.now), due_at, self.envelope)
        )
        self.state["at"] = node.id
        self.state["wait"] = wait_id
        self.note("waiting", None, node.id, until=due_at, **detail)

    def run(self, step: str | None) -> None:
        """Walk from ``step`` until a wait, an exit or the end."""
        journey = self.journey
        for _ in range(MAX_STEPS):
            if step is None:
                self.state["at"] = None
                self.finish("completed", None, None)
                return
            node = journey.nodes[step]
            self.state["at"] = node.id
            self.state["wait"] = None
            kind = node.kind
            if kind == "wait":
                self.wait(node, self.now + timedelta(seconds=node.wait))
                return
            if kind == "wait_until":
                zone = customer_zone(self.view, self.config.settings.timezone)
                assert node.wall is not None
                due = next_local_time(self.now, zone, node.wall, node.days)
                self.wait(node, due, local_time=f"{node.local_time} {zone.key}")
                return
            if kind == "wait_for":
                due = self.now + timedelta(seconds=node.wait)
                self.wait(node, due, wait_for=node.event)
                return
            if kind == "exit":
                self.finish("exited", "exit_step", node.id)
                return
            if kind == "goto":
                step = node.target
                continue
            if kind == "split":
                self.split(node)
                step = node.next
                continue
            if kind == "branch":
                step = self.branch(node)
                continue
            self.send(node)
            step = node.next
        raise RuntimeError(f"journey {journey.id} did not end")  # pragma: no cover

    def split(self, node: Node) -> str:
        assert node.split is not None
        splits = self.state.setdefault("splits", {})
        name = node.split.name
        if name not in splits:
            won = self.config.split_winners.get(f"{self.journey.id}/{name}")
            entered = float(self.state.get("entered") or 0)
            if won is not None and entered >= parse_time(won["at"]).timestamp():
                splits[name] = won["variant"]  # entered after the split's winner was found
                self.note("split", None, node.id, split=name, winner_since=won["at"])
            else:
                splits[name] = pick_variant(self.cid, self.journey.id, node)
                self.note("split", None, node.id, split=name)
        return str(splits[name])

    def branch(self, node: Node) -> str | None:
        ctx = Ctx(self.view, self.view.get("history") or (), self.now.timestamp())
        for arm in node.arms:
            if arm.check(ctx, self.state, self.journey.id):
                target = arm.target or node.next
                self.note("branched", None, node.id, branch=arm.label, to=target or "end")
                return target
        self.note("branched", None, node.id, branch="none", to=node.next or "end")
        return node.next

    def send(self, node: Node) -> None:
        """A send step: the journey's holdout, the step's, then channel and consent; the message
        goes to the outbox, where quiet hours, caps and the rest apply as for any trigger."""
        key = node.id
        if node.split_ref is not None:
            variant = self.split(self.journey.splits[node.split_ref])
            key = f"{node.id}:{variant}"
        target = self.journey.send_target(key)
        if target is None:  # pragma: no cover - validate makes one per variant
            self.note(SUPPRESS, "inactive", node.id, send=key)
            return
        held = self.state.get("holdout")
        if not held and node.holdout:
            salt = self.config.settings.holdout.salt if self.config.settings.holdout else ""
            if bucket(salt, f"{self.journey.id}.{node.id}", self.cid) < node.holdout:
                held = "step"
        if held:
            self.note("held_out", held, node.id)
            return
        channel, reason, detail = choose_channel(target, self.view, self.config)
        if channel is None:
            self.note(SUPPRESS, reason, node.id, **detail)
            return
        message_id = stable_id(self.cid, self.journey.id, str(self.state["run"]), node.id)
        arbitration = seconds(self.config.settings.arbitration_window)
        expires = target.expires
        self.plan.messages.append(
            Message(
                message_id=message_id,
                customer_id=self.cid,
                trigger=self.journey.id,
                channel=channel,
                created_at=iso(self.now),
                send_at=iso(self.now + timedelta(seconds=arbitration)),
                priority=target.priority,
                event=self.envelope,
                expires_at=iso(self.now + timedelta(seconds=expires)) if expires else None,
                step=key,
                split=variant_text(self.state),
            )
        )
        self.plan.sends.append(
            {
                "trigger": self.journey.id,
                "channel": channel,
                "ts": self.now.timestamp(),
                "mid": message_id,
                "state": "queued",
            }
        )


def _envelope(event: EventRef) -> dict[str, Any]:
    return event.to_envelope() if isinstance(event, Event) else event


def admit(
    profile: dict[str, Any],
    trigger: CompiledTrigger,
    envelope: dict[str, Any],
    now: datetime,
    plan: Plan,
) -> bool:
    """May the customer enter this journey now? Not while they walk it (``in_journey``), nor
    inside its ``reentry`` window after they last entered (``reentry``): recorded as suppressed.
    Asked before the gate (activity, audience, cooldown), as the cheaper and truer answer."""
    journey: CompiledJourney = trigger.journey
    old = (profile.get(STATE_KEY) or {}).get(journey.id)
    if old is None:
        return True
    cid = str(profile["customer_id"])
    if "done" not in old:
        detail = {"step": old.get("at"), "entered_at": _iso_ts(old.get("entered"))}
        plan.decisions.append(
            _decision(cid, journey.id, now, SUPPRESS, "in_journey", envelope, detail)
        )
        return False
    mode, after = journey.reentry
    last = float(old.get("entered") or old["done"])
    if mode == "once" or (mode == "after" and now.timestamp() < last + after):
        detail = {"reentry": _reentry_text(trigger), "last_entered_at": _iso_ts(last)}
        plan.decisions.append(
            _decision(cid, journey.id, now, SUPPRESS, "reentry", envelope, detail)
        )
        return False
    return True


def enter(
    profile: dict[str, Any],
    view: dict[str, Any],
    trigger: CompiledTrigger,
    event: Event,
    envelope: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    plan: Plan,
) -> None:
    """The journey's ``when`` matched, :func:`admit` and the gate let the customer through:
    enter, decide the control group, and walk to the first wait. ``envelope`` is the event's
    (the messages and waits carry it)."""
    journey: CompiledJourney = trigger.journey
    cid = str(profile["customer_id"])
    states = journey_states(profile)
    holdout = config.settings.holdout
    held = holdout_reason(
        cid,
        journey.id,
        holdout.percent if holdout else 0,
        holdout.salt if holdout else "",
        trigger.model.holdout,
    )
    state: dict[str, Any] = {
        "run": stable_id(cid, journey.id, event.id, length=12),
        "at": journey.first,
        "hash": journey.hash,
        "entered": now.timestamp(),
        "wait": None,
        "splits": {},
    }
    if held:
        state["holdout"] = held
    states[journey.id] = state
    walk = _Walk(profile, view, trigger, state, envelope, config, now, plan)
    walk.note("entered", held, None, version=journey.hash)
    walk.run(journey.first)


def on_event(
    profile: dict[str, Any],
    view: dict[str, Any],
    event: Event,
    config: CompiledConfig,
    now: datetime,
    plan: Plan,
) -> None:
    """An event for the journeys the customer is in: ``exit_if`` ends one; the event a
    ``wait_for`` step waits for moves it on."""
    doc: dict[str, Any] | None = None
    for journey_id, state in sorted(active_journeys(profile).items()):
        trigger = config.triggers.get(journey_id)
        journey = trigger.journey if trigger is not None else None
        if journey is None or event.type not in journey.listens:
            continue
        assert trigger is not None
        doc = doc or event.as_doc()
        wait = (profile.get("waits") or {}).get(state.get("wait") or "") or {}
        why = inactive(trigger, now)
        if why is not None:  # disabled or past its active window: the customer leaves it
            if state.get("wait"):
                plan.cancelled_waits.append(state["wait"])
            _finish_gone(profile, journey_id, state, wait.get("event") or {}, now, plan, why)
            continue
        walk = _Walk(profile, view, trigger, state, wait.get("event") or {}, config, now, plan)
        node = _current(walk)
        if node is None:
            continue
        ctx = Ctx(doc)
        test = next((t for t in journey.exit_if if t.event == event.type and t.where(ctx)), None)
        if test is not None:
            walk.finish("exited", "exit_if", node.id, exit_by=event.type, exit_event=event.id)
            continue
        if node.kind != "wait_for" or event.type != node.event or not state.get("wait"):
            continue
        if node.where is not None and not node.where(ctx):
            continue
        if node.same_journey and event.properties.get("trigger") != journey_id:
            continue
        if event.ts < float(state.get("entered") or 0):
            continue
        plan.cancelled_waits.append(state["wait"])
        target = node.on_event or node.next
        walk.note("branched", None, node.id, branch="event", event=event.type, to=target or "end")
        walk.run(target)


def on_wake(
    profile: dict[str, Any],
    view: dict[str, Any],
    wait_id: str,
    wait: dict[str, Any],
    config: CompiledConfig,
    now: datetime,
    plan: Plan,
) -> None:
    """A journey's wait ended (``wait``, ``wait_until``, or a ``wait_for`` timing out)."""
    journey_id = str(wait["trigger"])
    state = active_journeys(profile).get(journey_id)
    if state is None or state.get("wait") != wait_id:
        return  # already moved on (an event, an exit, a repeated wake-up)
    trigger = config.triggers.get(journey_id)
    envelope = wait.get("event") or {}
    why = inactive(trigger, now)
    if trigger is None or trigger.journey is None or why is not None:
        state["wait"] = None
        _finish_gone(profile, journey_id, state, envelope, now, plan, why or {"steps": None})
        return
    walk = _Walk(profile, view, trigger, state, envelope, config, now, plan)
    state["wait"] = None
    node = _current(walk)
    if node is None:
        return
    if node.kind == "wait_for":
        target = node.on_timeout or node.next
        walk.note("branched", None, node.id, branch="timeout", to=target or "end")
        walk.run(target)
        return
    walk.run(node.next)


def _current(walk: _Walk) -> Node | None:
    """The step the customer is at, under the deployed definition: an edited journey continues
    at the same step id, or exits ``journey_changed`` when that step is gone."""
    state, journey = walk.state, walk.journey
    at = state.get("at")
    if state.get("hash") != journey.hash:
        if at not in journey.nodes:
            walk.finish("exited", "journey_changed", at, version=journey.hash)
            return None
        state["hash"] = journey.hash
    return journey.nodes.get(at) if at else None


def _finish_gone(
    profile: dict[str, Any],
    journey_id: str,
    state: dict[str, Any],
    envelope: dict[str, Any],
    now: datetime,
    plan: Plan,
    why: dict[str, Any],
) -> None:
    """A journey removed, disabled or out of its active window: the customer exits it."""
    detail = {"step": state.get("at"), **why}
    cid = str(profile["customer_id"])
    plan.decisions.append(
        decision(cid, journey_id, now, "exited", "inactive", envelope, detail=detail)
    )
    journey_states(profile)[journey_id] = _finished(state, now, "inactive")


def _finished(state: dict[str, Any], now: datetime, how: str) -> dict[str, Any]:
    """A finished walk, compacted: when it ended and how, when it began, its split variants
    (what ``reentry`` and a split's tally need)."""
    done: dict[str, Any] = {"done": now.timestamp(), "entered": state.get("entered"), "how": how}
    if state.get("splits"):
        done["splits"] = state["splits"]
    return done


def _compact(
    states: dict[str, dict[str, Any]], config: CompiledConfig, now: datetime, keep: str = ""
) -> None:
    """Drop finished journeys nothing needs any more: removed from the config, or past their
    reentry window (``always``: at once; ``once``: kept); ``keep`` (the one just finished) stays.
    Run whenever a journey finishes, so the attribute never outgrows the config's journeys."""
    ts = now.timestamp()
    for journey_id, state in list(states.items()):
        if "done" not in state or journey_id == keep:
            continue
        trigger = config.triggers.get(journey_id)
        journey = trigger.journey if trigger is not None else None
        if journey is None:
            del states[journey_id]
            continue
        mode, after = journey.reentry
        last = float(state.get("entered") or state["done"])
        if mode == "always" or (mode == "after" and ts >= last + after):
            del states[journey_id]


@lru_cache(maxsize=256)
def _iso_ts(ts: Any) -> str | None:
    return iso(datetime.fromtimestamp(float(ts), UTC)) if ts is not None else None


def _decision(
    customer_id: str,
    journey_id: str,
    now: datetime,
    outcome: str,
    reason: str | None,
    envelope: dict[str, Any],
    detail: dict[str, Any],
) -> Decision:
    """A journey decision about the event of ``envelope`` (as ``gate.decision`` builds them;
    this one is on the hot path of an event entering many journeys)."""
    return Decision(
        customer_id=customer_id,
        trigger=journey_id,
        at=_iso(now),
        outcome=outcome,
        reason=reason,
        event_id=(envelope.get("detail") or {}).get("event_id") or envelope.get("id"),
        event_type=envelope.get("detail-type"),
        detail=detail,
    )


def _reentry_text(trigger: CompiledTrigger) -> str:
    reentry = getattr(trigger.model, "reentry", None)
    if reentry is None or isinstance(reentry, str):
        return str(reentry or "always")
    return f"after {reentry.after}"
