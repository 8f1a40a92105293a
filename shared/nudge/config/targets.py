"""What the compiled config is made of: triggers, their content, campaigns.

A leaf module (schema, rules and cron only), so that ``compiled`` and ``campaigns`` both build
these without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from typing import TYPE_CHECKING, Any

from nudge.core.cron import Cron
from nudge.core.rules import Check, Ctx

if TYPE_CHECKING:
    from nudge.config import schema

STALE_GRACE = 86400.0  # default window of a trigger: its wait + this


@dataclass(slots=True)
class Content:
    """Message content for one channel: subject/html/text sources (already checked)."""

    subject: str | None = None
    html: str | None = None
    text: str | None = None
    template: str | None = None
    locales: dict[str, Content] = field(default_factory=dict)  # tag (lowercase) -> translation
    body: str | None = None  # a webhook's JSON body template (nudge.core.webhook)
    endpoint: str | None = None  # a webhook's endpoint: a name in settings.webhooks

    def for_locale(self, wanted: str | None) -> tuple[str | None, Content]:
        """The translation for a customer's ``locale`` trait and its tag, or (None, self).

        ``fr-CA`` picks ``fr-ca``, else ``fr``, else any ``fr-*``; no match keeps the default
        text (docs/config.md, "Locales")."""
        tag = pick_locale(self.locales, wanted)
        return (tag, self.locales[tag]) if tag else (None, self)


def locale_tag(text: str) -> str:
    """A locale tag as nudge compares it: lowercase, ``_`` written ``-`` (``fr_CA`` = ``fr-ca``)."""
    return text.strip().replace("_", "-").lower()


def pick_locale(tags: dict[str, Any], wanted: str | None) -> str | None:
    """Which of ``tags`` (already normalised) serves a customer whose locale is ``wanted``."""
    if not tags or not wanted or not isinstance(wanted, str):
        return None
    want = locale_tag(wanted)
    if want in tags:
        return want
    language = want.split("-", 1)[0]
    if language in tags:
        return language
    return next((t for t in sorted(tags) if t.split("-", 1)[0] == language), None)


@dataclass(slots=True, frozen=True)
class CancelTest:
    """One ``cancel_if`` item: an event type, conditions on it, and ``same_message``."""

    event: str
    where: Check
    same_message: bool = False


@dataclass(slots=True)
class CompiledTrigger:
    """A trigger ready for ``decide``."""

    id: str
    model: schema.Trigger | schema.Campaign
    where: Check
    count: tuple[int, float, Any] | None  # (at_least, window seconds, getter of `same` or None)
    who: Check
    cancel_if: list[CancelTest]
    wait: float | None
    cooldown: float | None
    expires: float | None
    email: Content | None
    sms: Content | None
    kind: str = "trigger"
    channel: str = "email"  # email | sms | best | webhook
    variant: int | None = None  # campaigns: which variant this is
    # why a customer is outside `who`, in words (``not in segment vip: lifetime_value 320 < 500``)
    why_not: Callable[[Ctx], str | None] | None = None
    max_age: float | None = None  # seconds: older events do not fire it (None: wait + 24h)
    journey: Any = None  # a trigger with steps: its CompiledJourney (nudge.config.journeys)
    at_local: time | None = None  # at_local_time: send at this local time (nudge.core.timed)
    webhook: Content | None = None  # channel: webhook (endpoint and body)

    @property
    def stale_after(self) -> float:
        """Seconds after which an event is too old to fire this trigger: ``when.max_age``,
        else its ``wait`` + 24h (docs/config.md, "Old events")."""
        if self.max_age is not None:
            return self.max_age
        return (self.wait or 0) + STALE_GRACE

    @property
    def priority(self) -> int:
        return self.model.priority


@dataclass
class CompiledCampaign:
    """A campaign ready for the campaign function."""

    id: str
    model: schema.Campaign
    cron: Cron | None
    audience: Check
    variants: list[CompiledTrigger]

    def pick(self, ctx: Ctx) -> CompiledTrigger | None:
        """The first variant whose ``who`` matches, if the customer is in the audience."""
        if not self.audience(ctx):
            return None
        for variant in self.variants:
            if variant.who(ctx):
                return variant
        return None
