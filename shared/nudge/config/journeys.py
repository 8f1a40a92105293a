"""Journeys compiled: a trigger's ``steps:`` as a flat, forward-only graph (docs/config.md#journeys).

Steps are numbered in reading order (nested branch steps right after their branch), so "forward"
is a higher number; every ``goto`` must point forward, so a journey can never loop. Send steps
become one :class:`CompiledTrigger` each (per split variant when the template name reads
``{{ split.NAME }}``), which is what the outbox and the send-time verdict look up.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any

from nudge.config.raw import ConfigError
from nudge.config.targets import CancelTest, CompiledTrigger, Content
from nudge.core.durations import seconds
from nudge.core.events import ENGAGEMENT_TYPES
from nudge.core.localtime import parse_hhmm, weekdays
from nudge.core.rules import Ctx, RuleError, compile_condition

if TYPE_CHECKING:
    from nudge.config import schema
    from nudge.config.compiled import _Compiler
    from nudge.config.raw import SourceFile
    from nudge.config.templatecheck import Firing

SPLIT_REF = re.compile(r"\{\{\s*split\.([a-z0-9_\-]+)\s*\}\}")

ArmCheck = Callable[[Ctx, dict[str, Any], str], bool]  # (customer ctx, journey state, journey id)


@dataclass(slots=True)
class Arm:
    """One branch arm: its test, its label in decisions (``if_1``, ``else``), where it leads."""

    label: str
    check: ArmCheck
    target: str | None  # None: the step after the branch


@dataclass(slots=True)
class Node:
    """One compiled step."""

    id: str
    kind: str
    index: int
    next: str | None  # the step after this one when it simply completes (None: journey done)
    path: tuple[Any, ...]
    wait: float = 0.0  # wait, and wait_for's timeout
    wall: time | None = None  # wait_until
    days: frozenset[int] | None = None
    local_time: str = ""
    event: str = ""  # wait_for
    where: Callable[[Ctx], bool] | None = None
    same_journey: bool = False
    on_event: str | None = None
    on_timeout: str | None = None
    sends: dict[str, CompiledTrigger] = field(default_factory=dict)  # variant ("" if none) ->
    split_ref: str | None = None  # the split a send's template name reads
    holdout: float = 0.0
    arms: list[Arm] = field(default_factory=list)
    split: schema.SplitStep | None = None
    target: str | None = None  # goto


@dataclass(slots=True)
class CompiledJourney:
    """A trigger's steps, ready for :mod:`nudge.core.journey`."""

    id: str
    hash: str
    first: str
    nodes: dict[str, Node]
    exit_if: list[CancelTest]
    reentry: tuple[str, float]  # ("always", 0) | ("once", 0) | ("after", seconds)
    listens: frozenset[str]  # event types its exit_if and wait_for steps react to
    splits: dict[str, Node]

    def send_target(self, key: str) -> CompiledTrigger | None:
        """The compiled send of ``step`` or ``step:variant`` (the outbox message's ``step``)."""
        step, _, variant = key.partition(":")
        node = self.nodes.get(step)
        return node.sends.get(variant) if node is not None else None


@dataclass(frozen=True, slots=True)
class _Block:
    """A send step's content as a trigger's ``email:`` / ``sms:`` block (what
    ``_Compiler.content`` reads; the step itself was validated as a ``schema.SendStep``)."""

    template: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None


def definition_hash(model: schema.Trigger) -> str:
    """A short hash of what the journey does: its steps, exit_if and reentry."""
    body = model.model_dump(mode="json", include={"steps", "exit_if", "reentry"}, by_alias=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


def journey_did(spec: dict[str, Any], negate: bool) -> ArmCheck:
    """``did``/``did_not`` with ``same_journey: true``: an event of that type about a message of
    this journey (``properties.trigger``) since the customer entered it."""
    name = spec["event"]
    where = compile_condition(spec.get("where")) if spec.get("where") else None

    def check(ctx: Ctx, state: dict[str, Any], journey_id: str) -> bool:
        since = float(state.get("entered") or 0)
        found = False
        for entry in reversed(ctx.history):
            if entry["ts"] < since:
                break
            if entry["type"] != name or entry["ts"] > ctx.now:
                continue
            if (entry.get("properties") or {}).get("trigger") != journey_id:
                continue
            if where is None or where(Ctx(entry)):
                found = True
                break
        return found != negate

    return check


class JourneyCompiler:
    """Compiles one trigger's steps, reporting problems at file:line:column."""

    def __init__(
        self,
        parent: _Compiler,
        t: schema.Trigger,
        src: SourceFile,
        base: CompiledTrigger,
        firing: Firing | None,
    ) -> None:
        self.firing = firing
        self.parent = parent
        self.t = t
        self.src = src
        self.base = base
        self.nodes: dict[str, Node] = {}
        self.pending: list[tuple[Node, schema.Step]] = []

    def fail(self, path: tuple[Any, ...], message: str) -> None:
        self.parent.fail(self.src, path, message)

    def flatten(self, steps: list[schema.Step], path: tuple[Any, ...], after: str | None) -> None:
        for i, step in enumerate(steps):
            at = (*path, i)
            nxt = steps[i + 1].id if i + 1 < len(steps) else after
            if step.id in self.nodes:
                self.fail((*at, "id"), f"step id {step.id!r} is used twice in this journey")
                continue
            node = Node(step.id, step.kind, len(self.nodes), nxt, at)
            self.nodes[step.id] = node
            self.pending.append((node, step))
            if step.branch:
                for j, arm in enumerate(step.branch):
                    if arm.steps:
                        self.flatten(arm.steps, (*at, "branch", j, "steps"), nxt)

    def forward(self, node: Node, target: str, path: tuple[Any, ...]) -> str | None:
        """``target`` if it is a later step of this journey; reported otherwise."""
        found = self.nodes.get(target)
        if found is None:
            known = ", ".join(self.nodes)
            self.fail(path, f"unknown step id {target!r}; this journey's steps are: {known}")
            return None
        if found.index <= node.index:
            self.fail(
                path,
                f"goto {target!r} goes back to an earlier step (a cycle): journeys only go "
                "forward; to repeat a message, let the journey end and use reentry",
            )
            return None
        return target

    def compile(self) -> CompiledJourney:
        t = self.t
        assert t.steps is not None
        self.flatten(t.steps, ("steps",), None)
        for node, step in self.pending:
            getattr(self, f"_{node.kind}")(node, step)
        splits = {n.split.name: n for n in self.nodes.values() if n.split is not None}
        for node in self.nodes.values():
            if node.split_ref is not None and node.split_ref not in splits:
                self.fail(
                    (*node.path, "send", "template"),
                    f"the template name reads split.{node.split_ref}, but no split step of this "
                    f"journey is named {node.split_ref!r}",
                )
        self.check_reachable()
        exit_if = []
        for i, test in enumerate(t.exit_if):
            ok = self.parent.event_name(self.src, ("exit_if", i, "event"), test.event)
            past = self.parent.event_doc(test.event, past=True) if ok else None
            check = self.parent.condition(
                self.src, ("exit_if", i, "where"), test.where, audience=False, doc=past
            )
            if test.same_message:
                self.fail(("exit_if", i, "same_message"), "same_message belongs in cancel_if")
            exit_if.append(CancelTest(test.event, check))
        reentry: tuple[str, float] = ("always", 0.0)
        if t.reentry == "once":
            reentry = ("once", 0.0)
        elif t.reentry is not None and not isinstance(t.reentry, str):  # Reentry, either form
            reentry = ("after", seconds(t.reentry.after))
        listens = {c.event for c in exit_if} | {n.event for n in self.nodes.values() if n.event}
        return CompiledJourney(
            id=t.id,
            hash=definition_hash(t),
            first=t.steps[0].id,
            nodes=self.nodes,
            exit_if=exit_if,
            reentry=reentry,
            listens=frozenset(listens),
            splits=splits,
        )

    def edges(self, node: Node) -> list[str | None]:
        """The steps ``node`` may lead to (None: the journey ends there)."""
        if node.kind == "exit":
            return []
        if node.kind == "goto":
            return [node.target]
        if node.kind == "wait_for":
            return [node.on_event or node.next, node.on_timeout or node.next]
        if node.kind == "branch":
            out = [a.target or node.next for a in node.arms]
            if not any(a.label == "else" for a in node.arms):
                out.append(node.next)
            return out
        return [node.next]

    def check_reachable(self) -> None:
        if not self.nodes:
            return
        seen = set()
        todo = [next(iter(self.nodes))]
        while todo:
            step = todo.pop()
            if step in seen or step not in self.nodes:
                continue
            seen.add(step)
            todo += [s for s in self.edges(self.nodes[step]) if s is not None]
        for node in self.nodes.values():
            if node.id not in seen:
                self.fail(
                    (*node.path, "id"),
                    f"step {node.id!r} can never be reached: every way into it is cut off by a "
                    "goto, exit or branch before it; remove it or point a goto at it",
                )

    # one method per step kind -------------------------------------------------------------

    def _wait(self, node: Node, step: schema.Step) -> None:
        assert step.wait is not None
        node.wait = seconds(step.wait)

    def _wait_until(self, node: Node, step: schema.Step) -> None:
        spec = step.wait_until
        assert spec is not None
        node.wall = parse_hhmm(spec.local_time)
        node.local_time = spec.local_time
        node.days = weekdays(spec.days) if spec.days else None

    def _wait_for(self, node: Node, step: schema.Step) -> None:
        spec = step.wait_for
        assert spec is not None
        path = (*node.path, "wait_for")
        node.event = spec.event
        node.wait = seconds(spec.timeout)
        node.same_journey = spec.same_journey
        known = self.parent.event_name(self.src, (*path, "event"), spec.event)
        doc = self.parent.event_doc(spec.event) if known else None
        node.where = self.parent.condition(
            self.src, (*path, "where"), spec.where, audience=False, doc=doc
        )
        if spec.same_journey and spec.event not in ENGAGEMENT_TYPES:
            self.fail(
                (*path, "same_journey"),
                f"same_journey needs an engagement event ({', '.join(ENGAGEMENT_TYPES)}); "
                f"{spec.event!r} is not about a message",
            )
        if spec.on_event:
            node.on_event = self.forward(node, spec.on_event, (*path, "on_event"))
        if spec.on_timeout:
            node.on_timeout = self.forward(node, spec.on_timeout, (*path, "on_timeout"))

    def _goto(self, node: Node, step: schema.Step) -> None:
        assert step.goto is not None
        node.target = self.forward(node, step.goto, (*node.path, "goto"))

    def _exit(self, node: Node, step: schema.Step) -> None:
        pass

    def _split(self, node: Node, step: schema.Step) -> None:
        node.split = step.split

    def _branch(self, node: Node, step: schema.Step) -> None:
        assert step.branch is not None
        for j, arm in enumerate(step.branch):
            path = (*node.path, "branch", j)
            label = "else" if arm.else_ else f"if_{j + 1}"
            check: ArmCheck = _always
            if arm.if_ is not None:
                check = self.arm_check(arm.if_, (*path, "if"))
            target: str | None = None
            if arm.goto:
                target = self.forward(node, arm.goto, (*path, "goto"))
            elif arm.steps:
                target = arm.steps[0].id
            node.arms.append(Arm(label, check, target))
            if arm.else_ and j != len(step.branch) - 1:
                self.fail((*path, "else"), "else: true must be the last arm of a branch")

    def arm_check(self, who: schema.Who, path: tuple[Any, ...]) -> ArmCheck:
        """A branch arm's ``if``: a ``who`` whose did/did_not may say ``same_journey: true``."""
        extra: list[ArmCheck] = []
        plain: dict[str, Any] = {}
        for name in ("did", "did_not"):
            spec = getattr(who, name)
            if spec and spec.get("same_journey"):
                rest = {k: v for k, v in spec.items() if k != "same_journey"}
                unknown = set(rest) - {"event", "where"}
                if "event" not in rest or unknown:
                    self.fail(
                        (*path, name),
                        "with same_journey, did/did_not take event and where only",
                    )
                    continue
                if rest["event"] not in ENGAGEMENT_TYPES:
                    self.fail(
                        (*path, name, "same_journey"),
                        f"same_journey needs an engagement event ({', '.join(ENGAGEMENT_TYPES)})",
                    )
                try:
                    extra.append(journey_did(rest, negate=name == "did_not"))
                except RuleError as err:
                    self.fail((*path, name, *err.path), err.message)
                plain[name] = None
        who = who.model_copy(update=plain)
        audience = self.parent.who(self.src, path, who)
        self.parent.check_tiers(self.src, path, who)

        def check(ctx: Ctx, state: dict[str, Any], journey_id: str) -> bool:
            return audience(ctx) and all(e(ctx, state, journey_id) for e in extra)

        return check

    def _send(self, node: Node, step: schema.Step) -> None:
        spec = step.send
        assert spec is not None
        node.holdout = spec.holdout
        path = (*node.path, "send")
        variants = [""]
        if spec.template:
            ref = SPLIT_REF.search(spec.template)
            if ref:
                node.split_ref = ref.group(1)
                split = self._split_spec(ref.group(1))
                variants = list(split.variants) if split else []
        for variant in variants:
            name = SPLIT_REF.sub(variant, spec.template) if spec.template else None
            target = self.send_target(node, spec, name, path)
            if target is not None:
                node.sends[variant] = target

    def _split_spec(self, name: str) -> schema.SplitStep | None:
        for _node, step in self.pending:
            if step.split is not None and step.split.name == name:
                return step.split
        return None

    def send_target(
        self, node: Node, spec: schema.SendStep, template: str | None, path: tuple[Any, ...]
    ) -> CompiledTrigger | None:
        """The compiled trigger a send step's messages belong to."""
        parent = self.parent
        channels = list(parent.raw.settings.channels) if spec.channel == "best" else [spec.channel]
        email: Content | None = None
        sms: Content | None = None
        if template is not None:
            found = parent.raw.templates.get(template)
            if found is None:
                known = ", ".join(sorted(parent.raw.templates)) or "none defined"
                self.fail(
                    (*path, "template"), f"unknown template {template!r}; templates/ has: {known}"
                )
                return None
            tpl = found[0]
            if "email" in channels and (tpl.subject or spec.channel == "email"):
                email = parent.content(self.src, path, _Block(template), "email", self.firing)
            if "sms" in channels and (tpl.text or spec.channel == "sms"):
                sms = parent.content(self.src, path, _Block(template), "sms", self.firing)
        else:
            if "email" in channels and spec.subject:
                block = _Block(subject=spec.subject, html=spec.html, text=spec.text)
                email = parent.content(self.src, path, block, "email", self.firing)
            if "sms" in channels and spec.text:
                sms = parent.content(self.src, path, _Block(text=spec.text), "sms", self.firing)
        if email is None and sms is None:
            self.fail(path, f"send step {node.id!r} has no content for channel {spec.channel}")
            return None
        base = self.base
        return CompiledTrigger(
            id=base.id,
            model=base.model,
            where=base.where,
            count=None,
            who=base.who,
            cancel_if=[],
            wait=None,
            cooldown=None,
            expires=base.expires,
            email=email,
            sms=sms,
            channel=spec.channel,
            why_not=base.why_not,
        )


def _always(ctx: Ctx, state: dict[str, Any], journey_id: str) -> bool:
    return True


def compile_journey(
    parent: _Compiler,
    t: schema.Trigger,
    src: SourceFile,
    base: CompiledTrigger,
    firing: Firing | None,
) -> CompiledJourney:
    """Compile ``t.steps`` (errors go to ``parent``)."""
    return JourneyCompiler(parent, t, src, base, firing).compile()


def journey_changes(
    config: Any, profiles: Iterable[dict[str, Any]], sources: dict[str, SourceFile]
) -> list[ConfigError]:
    """``nudge validate --table``: for each journey whose definition changed while customers
    were in it (their state's hash differs), a warning with how many will continue at the same
    step id and how many will exit ``journey_changed`` (their step is gone)."""
    from nudge.core.journey import active_journeys

    kept: dict[str, int] = {}
    gone: dict[str, dict[str, int]] = {}
    for profile in profiles:
        for journey_id, state in active_journeys(profile).items():
            trigger = config.triggers.get(journey_id)
            journey = trigger.journey if trigger is not None else None
            if journey is None or state.get("hash") == journey.hash:
                continue
            at = state.get("at")
            if at in journey.nodes:
                kept[journey_id] = kept.get(journey_id, 0) + 1
            else:
                steps = gone.setdefault(journey_id, {})
                steps[str(at)] = steps.get(str(at), 0) + 1
    out = []
    for journey_id in sorted(set(kept) | set(gone)):
        lost = gone.get(journey_id, {})
        n_lost = sum(lost.values())
        where = ", ".join(f"{step} ({n})" for step, n in sorted(lost.items()))
        message = (
            f"journey {journey_id!r} changed while {kept.get(journey_id, 0) + n_lost} customer(s) "
            f"were in it: {kept.get(journey_id, 0)} continue at the same step id; {n_lost} wait "
            "at a step that is gone"
            + (f" ({where})" if where else "")
            + " and will exit with journey_changed when it is due"
        )
        src = sources.get(journey_id)
        if src is None:
            out.append(ConfigError("?", 1, 1, "steps", message, "warning"))
        else:
            error = src.error(("steps",), message, key=True)
            out.append(
                ConfigError(error.file, error.line, error.column, error.key, message, "warning")
            )
    return out
