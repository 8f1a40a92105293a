"""The config compiled for the event path: conditions as closures, triggers indexed by event.

``compile_config`` also performs the checks that need more than one file (unknown segments,
templates, tiers; template variables), so ``nudge validate`` reports everything in one run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nudge.config.campaigns import compile_campaigns
from nudge.config.history import history_policy
from nudge.config.journeys import compile_journey
from nudge.config.raw import ConfigError, ConfigInvalid, RawConfig, SourceFile
from nudge.config.targets import (
    CancelTest,
    CompiledCampaign,
    CompiledTrigger,
    Content,
    locale_tag,
)
from nudge.core.durations import seconds
from nudge.core.events import ENGAGEMENT_TYPES
from nudge.core.localtime import parse_hhmm
from nudge.core.profile import HISTORY_DEFAULT_SECONDS, HistoryPolicy
from nudge.core.rules import (
    Check,
    Ctx,
    RuleError,
    all_of,
    compile_condition,
    compile_path,
    negate,
    why_not_who,
)
from nudge.core.templates import TemplateError, known_names, unknown_names

if TYPE_CHECKING:
    from nudge.config import schema
    from nudge.config.fields import Catalogue, Shape
    from nudge.config.templatecheck import Firing, Read, TemplateChecker

LOCALE_TAG = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")  # fr, de, fr-CA, zh-Hant-TW


def _fields_shown(source: str) -> set[str]:
    """The fields a template shows, as dotted names without list positions (a loop over
    ``items`` showing ``item.name`` and ``items[0].name`` both show ``items.name``)."""
    from nudge.config.templatecheck import template_reads

    names = {".".join(p for p in r.chain if isinstance(p, str)) for r in template_reads(source)}
    return {n for n in names if not any(other.startswith(n + ".") for other in names)}


_EVERYTHING = {"*": (float(HISTORY_DEFAULT_SECONDS), True)}


@dataclass
class CompiledConfig:
    """Everything the handlers need, built once per container."""

    root: Path
    settings: schema.Settings
    segments: dict[str, Check]
    value_tiers: schema.ValueTiers | None
    triggers: dict[str, CompiledTrigger]
    by_event: dict[str, list[CompiledTrigger]]
    cancel_types: frozenset[str]
    content_blocks: dict[str, list[tuple[Check, dict[str, Any]]]]
    campaigns: dict[str, CompiledCampaign] = field(default_factory=dict)
    rfm_rules: list[dict[str, Any]] | None = None  # segments.yaml `rfm:`; None = standard map
    history_seconds: float = 90 * 86400  # the longest any event type is kept (``history``)
    history: HistoryPolicy = field(default_factory=lambda: HistoryPolicy(_EVERYTHING))
    journey_types: frozenset[str] = frozenset()  # events a journey's exit_if / wait_for reacts to
    # journey splits with a `winner` rule: (journey, split) -> the rule
    winner_splits: dict[tuple[str, str], schema.Winner] = field(default_factory=dict)
    # the winners recorded so far ("<journey>/<split>" -> {variant, at, why}); set by the flows
    split_winners: dict[str, dict[str, Any]] = field(default_factory=dict)
    winners_read_at: float | None = None  # when the flows last read them (the simulated clock)
    # segments.yaml `milestones:` name -> (profile field, threshold)
    milestones: dict[str, tuple[str, float]] = field(default_factory=dict)
    churn_cuts: tuple[float, float] = (0.3, 0.7)  # segments.yaml `churn_risk:` (high, medium)

    def target(
        self, name: str, variant: int | None = None, step: str | None = None
    ) -> CompiledTrigger | None:
        """The trigger, the campaign variant or the journey send step (``step``, as the outbox
        message names it) an outbox message belongs to."""
        if step is not None:
            journey = getattr(self.triggers.get(name), "journey", None)
            return journey.send_target(step) if journey is not None else None
        if variant is None:
            return self.triggers.get(name)
        campaign = self.campaigns.get(name)
        if campaign is None or variant >= len(campaign.variants):
            return None
        return campaign.variants[variant]


def compile_who(
    who: schema.Who | list[schema.Who] | None, segments: set[str], zone: str = "UTC"
) -> Check:
    """Compile an audience (`who`) into one check over a profile context (date operators count
    days in the customer's time zone, else ``zone``)."""
    items = who if isinstance(who, list) else ([who] if who else [])
    checks: list[Check] = []
    for i, item in enumerate(items):
        prefix: tuple[Any, ...] = (i,) if isinstance(who, list) else ()
        for name in ("segment", "not_segment"):
            value = getattr(item, name)
            if value is None:
                continue
            wanted = {value} if isinstance(value, str) else set(value)
            for seg in wanted - segments:
                raise RuleError(
                    (*prefix, name), f"unknown segment {seg!r}; define it in segments.yaml"
                )
            member = _in_segments(frozenset(wanted))
            checks.append(member if name == "segment" else negate(member))
        if item.value_tier is not None:
            tiers = {item.value_tier} if isinstance(item.value_tier, str) else set(item.value_tier)
            checks.append(_in_tiers(frozenset(tiers)))
        for name in ("where", "did", "did_not"):
            value = getattr(item, name)
            if value is None:
                continue
            spec = value if name == "where" else {name: value}
            try:
                checks.append(compile_condition(spec, audience=True, zone=zone))
            except RuleError as err:
                path = err.path if name == "where" else err.path[1:]
                raise RuleError((*prefix, name, *path), err.message) from None
    return all_of(checks) if checks else (lambda c: True)


def _in_segments(wanted: frozenset[str]) -> Check:
    return lambda c: not wanted.isdisjoint(c.doc.get("segments") or ())


def _in_tiers(tiers: frozenset[str]) -> Check:
    return lambda c: c.doc.get("value_tier") in tiers


class _Compiler:
    def __init__(self, raw: RawConfig, *, checks: bool = True) -> None:
        self.raw = raw
        # False when the compiled-config artefact says these files passed every check already:
        # then only what the handlers run is built (no field catalogue, no type or template
        # checks, none of their imports: the event models among them), see ``load_config``
        self.checks = checks
        self.errors: list[ConfigError] = list(raw.errors)
        self.segment_names = set(raw.segments.segments)
        self.template_users: dict[str, list[Firing]] = {}
        if not checks:
            return
        from nudge.config.fields import build_catalogue
        from nudge.config.templatecheck import TemplateChecker

        self.allowed_names = known_names(tuple(raw.settings.traits))
        tiers = raw.segments.value_tiers
        targets = {t.id for t, _ in raw.triggers} | {c.id for c, _ in raw.campaigns}
        self.catalogue: Catalogue = build_catalogue(
            raw.settings,
            self.segment_names,
            {n for row in tiers.grid for n in row} if tiers else set(),
            targets,
        )
        self.template_checker: TemplateChecker = TemplateChecker(
            self.catalogue,
            raw.content,
            tuple(raw.settings.traits),
            bought_together=raw.settings.recommendations.bought_together is not None,
        )

    def firing(self, label: str, event: str | None) -> Firing | None:
        """What a message's templates are checked against (None when not checking)."""
        if not self.checks:
            return None
        from nudge.config.templatecheck import Firing

        return Firing(label, event)

    def event_doc(self, event: str, past: bool = False) -> Shape | None:
        """The shape conditions on ``event`` are checked against (``past``: as history keeps
        it); None when not checking."""
        if not self.checks:
            return None
        return self.catalogue.history_doc(event) if past else self.catalogue.event_doc(event)

    def fail(
        self, src: SourceFile | None, path: tuple[Any, ...], message: str, *, key: bool = False
    ) -> None:
        if src is None:
            self.errors.append(ConfigError("?", 1, 1, ".".join(map(str, path)), message))
        else:
            self.errors.append(src.error(path, message, key=key))

    def typed(self, src: SourceFile | None, path: tuple[Any, ...], check: Any, *args: Any) -> bool:
        """Run a ``ConditionChecker`` method; report its problems under ``path`` (True when
        not checking)."""
        if not self.checks:
            return True
        from nudge.config.typecheck import ConditionChecker

        checker = ConditionChecker(self.catalogue)
        check(checker, *args)
        for p in checker.problems:
            self.fail(src, (*path, *p.path), p.message, key=p.at_key)
        return not checker.problems

    def condition(
        self,
        src: SourceFile | None,
        path: tuple[Any, ...],
        spec: Any,
        audience: bool,
        doc: Shape | None = None,
    ) -> Check:
        try:
            check = compile_condition(spec, audience=audience, zone=self.raw.settings.timezone)
        except RuleError as err:
            self.fail(src, (*path, *err.path), err.message)
            return lambda c: False
        if self.checks and (doc is not None or audience):  # no doc: the event is unknown
            from nudge.config.typecheck import ConditionChecker

            self.typed(
                src, path, ConditionChecker.condition, spec, doc or self.catalogue.profile, ()
            )
        return check

    def who(self, src: SourceFile | None, path: tuple[Any, ...], who: Any) -> Check:
        try:
            check = compile_who(who, self.segment_names, self.raw.settings.timezone)
        except RuleError as err:
            self.fail(src, (*path, *err.path), err.message)
            return lambda c: False
        if not self.checks:
            return check
        from nudge.config.typecheck import ConditionChecker

        items = who if isinstance(who, list) else ([who] if who else [])
        for i, item in enumerate(items):
            at = (*path, i) if isinstance(who, list) else path
            profile = self.catalogue.profile
            if item.where is not None:
                self.typed(src, (*at, "where"), ConditionChecker.condition, item.where, profile, ())
            for name in ("did", "did_not"):
                if getattr(item, name) is not None:
                    test = getattr(item, name)
                    self.typed(src, (*at, name), ConditionChecker.history_test, test, ())
        return check

    def event_name(self, src: SourceFile | None, path: tuple[Any, ...], name: str) -> bool:
        """Is ``name`` a known or declared event? Reported at ``path`` if not (True when not
        checking)."""
        if not self.checks:
            return True
        from nudge.config.typecheck import ConditionChecker

        return self.typed(src, path, ConditionChecker.event_name, (), name)

    def why_not(self, *whos: Any) -> Callable[[Ctx], str | None]:
        """Explains an audience made of these ``who`` values (see :func:`why_not_who`)."""
        items = [i for who in whos for i in (who if isinstance(who, list) else [who]) if i]
        where = {name: seg.where for name, seg in self.raw.segments.segments.items()}
        return lambda ctx: why_not_who(items, ctx, where)

    def check_tiers(self, src: SourceFile | None, path: tuple[Any, ...], who: Any) -> None:
        tiers = self.raw.segments.value_tiers
        names = {n for row in tiers.grid for n in row} if tiers else set()
        items = who if isinstance(who, list) else ([who] if who else [])
        for i, item in enumerate(items):
            value = item.value_tier
            if value is None:
                continue
            for tier in [value] if isinstance(value, str) else value:
                if tier not in names:
                    hint = f"; known tiers: {', '.join(sorted(names))}" if names else ""
                    where = (*path, i) if isinstance(who, list) else path
                    self.fail(src, (*where, "value_tier"), f"unknown value tier {tier!r}{hint}")

    def template_source(
        self,
        src: SourceFile,
        path: tuple[Any, ...],
        text: str | None,
        html: bool,
        firing: Firing | None = None,
    ) -> None:
        """Check one template string: it compiles, names known variables, and (for ``firing``)
        reads only fields the trigger or campaign gives it."""
        if text is None or not self.checks:
            return
        from nudge.config.templatecheck import locate, template_reads

        try:
            from nudge.core.templates import compile_template

            compile_template(text, html=html)
            missing = unknown_names(text, self.allowed_names)
        except TemplateError as exc:
            self.fail(src, path, f"template does not compile: {exc}")
            return
        reads = template_reads(text)
        for name in missing:
            line = next((r.line for r in reads if r.chain[0] == name), 1)
            message = (
                f"unknown variable {name!r}; templates see profile fields (first_name, cart, "
                "lifetime_value, ...), event, content and unsubscribe_url "
                "(declare custom traits under settings.traits)"
            )
            self.errors.append(locate(self.raw.root, src, path, line, (name,), message))
        if firing is not None:
            self.template_reads_for(src, path, reads, [firing])

    def template_reads_for(
        self, src: SourceFile, path: tuple[Any, ...], reads: list[Read], firings: list[Firing]
    ) -> None:
        """Report each read that one of ``firings`` cannot give (once per message)."""
        from nudge.config.templatecheck import locate

        seen: set[str] = set()
        for firing in firings:
            for read in reads:
                message = self.template_checker.check(read, firing)
                if message is None or message in seen:
                    continue
                seen.add(message)
                last = next((p for p in reversed(read.chain) if isinstance(p, str)), "")
                needles = (read.dotted, f".{last}", str(read.chain[0]))
                self.errors.append(locate(self.raw.root, src, path, read.line, needles, message))

    def content(
        self,
        src: SourceFile,
        path: tuple[Any, ...],
        block: Any,
        channel: str,
        firing: Firing | None = None,
    ) -> Content | None:
        if block is None:
            return None
        if block.template:
            found = self.raw.templates.get(block.template)
            if found is None:
                known = ", ".join(sorted(self.raw.templates)) or "none defined"
                self.fail(
                    src,
                    (*path, "template"),
                    f"unknown template {block.template!r}; templates/ has: {known}",
                )
                return None
            tpl, _ = found
            needed = ("subject",) if channel == "email" else ("text",)
            for name in needed:
                if not getattr(tpl, name):
                    self.fail(src, (*path, "template"), f"template {tpl.name!r} has no {name}")
            if firing is not None:
                self.template_users.setdefault(tpl.name, []).append(firing)
            email = channel == "email"
            return Content(
                subject=tpl.subject if email else None,
                html=tpl.html if email else None,
                text=tpl.text,
                template=tpl.name,
                locales={
                    locale_tag(tag): Content(
                        subject=part.subject if email else None,
                        html=part.html if email else None,
                        text=part.text,
                        template=tpl.name,
                    )
                    for tag, part in tpl.locales.items()
                },
            )
        for key in ("subject", "html", "text"):
            value = getattr(block, key, None)
            self.template_source(src, (*path, key), value, html=key == "html", firing=firing)
        return Content(
            subject=getattr(block, "subject", None),
            html=getattr(block, "html", None),
            text=block.text,
        )

    def webhook(
        self,
        src: SourceFile,
        path: tuple[Any, ...],
        block: schema.WebhookContent | None,
        firing: Firing | None = None,
    ) -> Content | None:
        """A webhook block: its endpoint is in settings.webhooks, its body a template that
        compiles, names known variables, writes every value ``| tojson`` and is a JSON object."""
        if block is None:
            return None
        endpoints = self.raw.settings.webhooks
        if block.endpoint not in endpoints:
            known = ", ".join(sorted(endpoints)) or "none defined"
            self.fail(
                src,
                (*path, "endpoint"),
                f"unknown webhook endpoint {block.endpoint!r}; settings.webhooks has: {known}",
            )
        where = (*path, "body")
        self.template_source(src, where, block.body, html=False, firing=firing)
        if self.checks:
            from nudge.config.templatecheck import locate
            from nudge.core.webhook import body_problems

            try:
                problems = body_problems(block.body)
            except TemplateError:
                problems = []  # template_source reported it where it is
            for problem in problems:
                needles = (problem.needle,) if problem.needle else ()
                self.errors.append(
                    locate(self.raw.root, src, where, problem.line, needles, problem.message)
                )
        return Content(body=block.body, endpoint=block.endpoint)

    def check_template_users(self) -> None:
        """Each named template against every trigger and campaign that uses it."""
        if not self.checks:
            return
        from nudge.config.templatecheck import template_reads

        for name, firings in self.template_users.items():
            tpl, src = self.raw.templates[name]
            for key in ("subject", "html", "text"):
                text = getattr(tpl, key)
                parts: list[tuple[tuple[str, ...], Any]] = [((key,), text)]
                parts += [
                    (("locales", tag, key), getattr(p, key)) for tag, p in tpl.locales.items()
                ]
                for path, source in parts:
                    if not source:
                        continue
                    try:
                        reads = template_reads(source)
                    except TemplateError:
                        continue  # a syntax error: template_source has reported it where it is
                    self.template_reads_for(src, path, reads, firings)

    def check_locales(self, src: SourceFile, data: dict[str, Any]) -> None:
        """Each translation of a template: a valid tag, the same parts as the template, each
        compiling, and reading the same variables as the template's own text."""
        locales = data.get("locales")
        if not isinstance(locales, dict) or not self.checks:
            return
        seen: dict[str, str] = {}
        for tag, part in locales.items():
            where = ("locales", tag)
            if not isinstance(tag, str) or not LOCALE_TAG.fullmatch(tag):
                self.fail(
                    src,
                    where,
                    f"{tag!r} is not a locale tag; write it like fr, de or fr-CA",
                    key=True,
                )
                continue
            if locale_tag(tag) in seen:
                self.fail(
                    src, where, f"locale {tag!r} is the same as {seen[locale_tag(tag)]!r}", key=True
                )
                continue
            seen[locale_tag(tag)] = tag
            if not isinstance(part, dict):
                continue
            for key in ("subject", "html", "text"):
                base, own = data.get(key), part.get(key)
                if isinstance(base, str) and not isinstance(own, str):
                    self.fail(
                        src, where, f"locale {tag!r} has no {key}; the template has one (add it)"
                    )
                    continue
                if not isinstance(own, str):
                    continue
                if not isinstance(base, str):
                    message = f"locale {tag!r} has a {key} the template itself lacks (remove it)"
                    self.fail(src, (*where, key), message)
                    continue
                self.template_source(src, (*where, key), own, html=key == "html")
                ours, theirs = _fields_shown(base), _fields_shown(own)
                if ours != theirs:
                    gaps = [f"missing {n}" for n in sorted(ours - theirs)]
                    gaps += [f"extra {n}" for n in sorted(theirs - ours)]
                    message = (
                        f"locale {tag!r} {key} does not use the same variables as the template "
                        f"({', '.join(gaps)}); every translation shows the same fields"
                    )
                    self.fail(src, (*where, key), message)

    def check_same_message(
        self, src: SourceFile, path: tuple[Any, ...], fired_by: str, event: str
    ) -> None:
        """``same_message`` compares message ids: both events must be about a message."""
        names = ", ".join(ENGAGEMENT_TYPES)
        if event not in ENGAGEMENT_TYPES:
            message = f"same_message needs an engagement event ({names}); {event!r} is not one"
            self.fail(src, (*path, "event"), message)
        if fired_by not in ENGAGEMENT_TYPES:
            message = (
                "same_message means 'the message this wait is about', so the trigger must fire "
                f"on an engagement event (when.event: {names}); {fired_by!r} is not about a message"
            )
            self.fail(src, (*path, "same_message"), message)

    def trigger(self, t: schema.Trigger, src: SourceFile) -> CompiledTrigger:
        known = self.event_name(src, ("when", "event"), t.when.event)
        label = f"{src.rel} (when.event: {t.when.event})"
        firing = self.firing(label, t.when.event) if known else None
        # a counted trigger tests its where on past events too, which keep only type + properties
        doc = self.event_doc(t.when.event, past=bool(t.when.count))
        where = self.condition(
            src, ("when", "where"), t.when.where, audience=False, doc=doc if known else None
        )
        count = None
        if t.when.count:
            same = compile_path(t.when.count.same) if t.when.count.same else None
            if t.when.count.same and known and self.checks:
                from nudge.config.fields import PathError, resolve

                try:
                    resolve(self.catalogue.history_doc(t.when.event), t.when.count.same)
                except PathError as exc:
                    self.fail(src, ("when", "count", "same"), str(exc))
            count = (t.when.count.at_least, seconds(t.when.count.within), same)
        cancel = []
        for i, test in enumerate(t.cancel_if):
            ok = self.event_name(src, ("cancel_if", i, "event"), test.event)
            past = self.event_doc(test.event, past=True) if ok else None
            check = self.condition(
                src, ("cancel_if", i, "where"), test.where, audience=False, doc=past
            )
            if test.same_message:
                self.check_same_message(src, ("cancel_if", i), t.when.event, test.event)
            cancel.append(CancelTest(test.event, check, test.same_message))
        self.check_tiers(src, ("who",), t.who)
        compiled = CompiledTrigger(
            id=t.id,
            model=t,
            where=where,
            count=count,
            who=self.who(src, ("who",), t.who),
            cancel_if=cancel,
            wait=seconds(t.wait) if t.wait else None,
            cooldown=seconds(t.cooldown) if t.cooldown else None,
            expires=seconds(t.expires) if t.expires else None,
            email=self.content(src, ("email",), t.email, "email", firing),
            sms=self.content(src, ("sms",), t.sms, "sms", firing),
            webhook=self.webhook(src, ("webhook",), t.webhook, firing),
            channel=t.channel,
            why_not=self.why_not(t.who),
            max_age=seconds(t.when.max_age) if t.when.max_age else None,
            at_local=parse_hhmm(t.at_local_time) if t.at_local_time else None,
        )
        if t.steps is not None:
            compiled.journey = compile_journey(self, t, src, compiled, firing)
        return compiled

    def run(self) -> CompiledConfig:
        raw = self.raw
        segs_src = raw.files.get("segments.yaml") or raw.files.get("segments.yml")
        segments: dict[str, Check] = {}
        for name, seg in raw.segments.segments.items():
            segments[name] = self.condition(segs_src, ("segments", name, "where"), seg.where, True)
        settings_src = raw.files.get("settings.yaml") or raw.files.get("settings.yml")
        self.event_name(settings_src, ("attribution", "event"), raw.settings.attribution.event)
        for rel, src in raw.files.items():
            if not rel.startswith("templates/"):
                continue
            data = src.located.data or {}
            for key in ("subject", "html", "text"):
                if isinstance(data.get(key), str):
                    self.template_source(src, (key,), data[key], html=key == "html")
            if isinstance(data, dict):
                self.check_locales(src, data)
        triggers: dict[str, CompiledTrigger] = {}
        for t, src in raw.triggers:
            if t.id in triggers:
                self.fail(src, ("id",), f"trigger id {t.id!r} is used by another file too")
                continue
            triggers[t.id] = self.trigger(t, src)
        by_event: dict[str, list[CompiledTrigger]] = {}
        for t, _src in raw.triggers:
            if t.enabled and t.id in triggers:
                by_event.setdefault(t.when.event, []).append(triggers[t.id])
        for lst in by_event.values():
            lst.sort(key=lambda c: -c.priority)
        content_src = raw.files.get("content.yaml")
        blocks: dict[str, list[tuple[Check, dict[str, Any]]]] = {}
        for slot, variants in raw.content.blocks.items():
            blocks[slot] = [
                (self.who(content_src, ("blocks", slot, i, "who"), v.who), v.data)
                for i, v in enumerate(variants)
            ]
        cancel_types = frozenset(c.event for ct in triggers.values() for c in ct.cancel_if)
        config = CompiledConfig(
            root=raw.root,
            settings=raw.settings,
            segments=segments,
            value_tiers=raw.segments.value_tiers,
            triggers=triggers,
            by_event=by_event,
            cancel_types=cancel_types,
            content_blocks=blocks,
            rfm_rules=[r.model_dump() for r in raw.segments.rfm] if raw.segments.rfm else None,
            milestones={n: (m.field, m.reaches) for n, m in raw.segments.milestones.items()},
            churn_cuts=(raw.segments.churn_risk.high, raw.segments.churn_risk.medium),
        )
        config.history = history_policy(raw)
        config.history_seconds = config.history.seconds
        config.journey_types = frozenset(
            e for ct in triggers.values() if ct.journey is not None for e in ct.journey.listens
        )
        config.winner_splits = {
            (ct.id, name): node.split.winner
            for ct in triggers.values()
            if ct.journey is not None
            for name, node in ct.journey.splits.items()
            if node.split is not None and node.split.winner is not None
        }
        config.campaigns = compile_campaigns(self, triggers)
        self.check_template_users()
        return config


def compile_config(
    raw: RawConfig, *, checks: bool = True
) -> tuple[CompiledConfig, list[ConfigError]]:
    """Compile validated models; returns the config and every error found (``checks`` False:
    only what the handlers run, for files that passed every check already). (``nudge validate``
    adds the whole-config checks of ``nudge.config.whole``.)"""
    compiler = _Compiler(raw, checks=checks)
    config = compiler.run()
    return config, compiler.errors


def compile_checked(raw: RawConfig, *, checks: bool = True) -> CompiledConfig:
    """``compile_config``, raising ``ConfigInvalid`` on any error (warnings do not stop it)."""
    config, problems = compile_config(raw, checks=checks)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ConfigInvalid(errors)
    return config


def load_config(directory: str | Path, *, use_artefact: bool = True) -> CompiledConfig:
    """Read, validate and compile a config directory; raises ``ConfigInvalid`` on any error
    (warnings do not stop it). A compiled-config artefact that matches the files
    (``nudge.config.artefact``) stands in for them: its models are already validated (plain
    objects, no pydantic), and the checks that only report problems (condition field types,
    templates) are not run again: they passed when it was written."""
    from nudge.config.artefact import read_artefact

    stored = read_artefact(Path(directory)) if use_artefact else None
    if stored is not None:
        return compile_checked(stored, checks=False)
    from nudge.config.load import read_config

    return compile_checked(read_config(directory))


def evaluate_content(config: CompiledConfig, ctx: Ctx) -> dict[str, Any]:
    """The content blocks this customer sees: first matching variant per slot."""
    out: dict[str, Any] = {}
    for slot, variants in config.content_blocks.items():
        for check, data in variants:
            if check(ctx):
                out[slot] = data
                break
    return out
