"""The config files as pydantic models (docs/config.md). Unknown keys are errors, so typos surface.

Conditions (``where``, ``did``…) are kept as plain data here and checked by ``nudge.core.rules``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nudge.config.plain import STEP_KINDS, step_kind
from nudge.core.addresses import check_email
from nudge.core.clock import parse_time
from nudge.core.durations import parse_duration
from nudge.core.localtime import parse_hhmm

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Strict(BaseModel):
    """Base for config models: unknown keys are rejected (a typo is an error, not a no-op)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _duration(value: Any) -> str:
    parse_duration(value)
    return str(value)


class Sender(Strict):
    email: str | None = None
    sms: str | None = None

    @field_validator("email")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        """One address, a display name allowed (``Rose & Co <hello@rose.example>``): what
        every email's ``From`` header is built from (docs/delivery.md)."""
        if value is None:
            return value
        checked = check_email(value, display_name=True)
        if checked.value is None:
            raise ValueError(f"not one email address: {checked.why}")
        return value


class ConsentSettings(Strict):
    email: Literal["opt_in", "opt_out"] = "opt_in"
    sms: Literal["opt_in"] = "opt_in"
    # a marketing webhook reaches the customer through the shop's own push, WhatsApp or CRM:
    # opt_in (default) needs consent.webhook true; opt_out sends unless it is false
    webhook: Literal["opt_in", "opt_out"] = "opt_in"


class WebhookEndpoint(Strict):
    """One endpoint webhook messages are posted to (settings.webhooks; docs/delivery.md)."""

    url: str
    description: str | None = None

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
        if not parts.hostname or (parts.scheme != "https" and not local):
            raise ValueError(
                f"{value!r} is not an https:// URL; webhooks are posted over HTTPS only "
                "(http:// is allowed for localhost, for the simulator)"
            )
        return value


class QuietHours(Strict):
    start: str
    end: str
    channels: list[Literal["email", "sms", "webhook"]] = Field(default_factory=lambda: ["sms"])  # type: ignore[arg-type]

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, value: Any) -> str:
        if isinstance(value, int):
            raise ValueError('write times in quotes, like "21:00" (YAML reads 21:00 as a number)')
        if not isinstance(value, str) or not _HHMM.match(value):
            raise ValueError(f'{value!r} is not a time of day; use "HH:MM", like "21:00"')
        return value


class FrequencyCap(Strict):
    channel: Literal["any", "email", "sms", "webhook"] = "any"
    max: int = Field(ge=1)
    per: str
    topic: str | None = None  # counts and limits only messages of this topic
    group: str | None = None  # counts and limits only triggers/campaigns naming this cap_group

    _per = field_validator("per")(classmethod(lambda cls, v: _duration(v)))


class Holdout(Strict):
    percent: float = Field(ge=0, le=100)
    salt: str = "nudge"

    @field_validator("salt", mode="before")
    @classmethod
    def _salt(cls, value: Any) -> str:
        return str(value)


class Attribution(Strict):
    window: str = "5d"
    event: str = "order_placed"
    model: Literal["last_touch", "first_touch"] = "last_touch"

    _window = field_validator("window")(classmethod(lambda cls, v: _duration(v)))


class Unsubscribe(Strict):
    url: str
    shop_name: str | None = Field(
        default=None,
        description="the name the unsubscribe page shows; default: sender.email's display name",
    )
    token_lifetime: str = Field(
        default="365d",
        description="how long an unsubscribe link works after the message was sent (e.g. 365d)",
    )

    _lifetime = field_validator("token_lifetime")(classmethod(lambda cls, v: _duration(v)))


PropertyType = Literal["string", "number", "boolean", "time", "list", "object", "any"]


class CustomEvent(Strict):
    """A custom event (or extra properties of a known one) that config may name."""

    description: str | None = None
    properties: dict[str, PropertyType] = Field(default_factory=dict)


class IngestSettings(Strict):
    """What ingest accepts besides the fixed limits (docs/sources.md, "What ingest refuses")."""

    max_future: str = Field(
        default="1h",
        description="events dated later than now + this are parked in the DLQ (clock skew "
        "allowance)",
    )
    max_age: str | None = Field(
        default=None,
        description="events dated earlier than now - this are parked; default: none (only "
        "events before 2000 are)",
    )

    _durations = field_validator("max_future", "max_age")(
        classmethod(lambda cls, v: None if v is None else _duration(v))
    )


class Topic(Strict):
    """One subscription topic (settings.topics): what a customer can choose to get or not."""

    description: str | None = None
    # opt_out: customers with the channel's consent get it until they say no (the default);
    # opt_in: only customers who said yes to this topic get it
    default: Literal["opt_in", "opt_out"] = "opt_out"


class CatalogSettings(Strict):
    """Back-in-stock and price-drop news for watchers (docs/config.md, "Catalog events")."""

    window: str = "30d"
    max_fanout: int = Field(default=10_000, ge=1)
    watch: list[str] = Field(default_factory=lambda: ["product_viewed", "wishlist_added"])

    _durations = field_validator("window")(classmethod(lambda cls, v: _duration(v)))


class Replenishment(Strict):
    """Per-product replenishment reminders (docs/scoring.md, "Replenishment")."""

    interval: str = "30d"
    lead: str = "3d"
    min_buyers: int = Field(default=5, ge=2)
    by: Literal["product", "category"] = "product"

    _durations = field_validator("interval", "lead")(classmethod(lambda cls, v: _duration(v)))


class BoughtTogether(Strict):
    """Frequently bought together, computed by the daily recompute (docs/scoring.md,
    "Frequently bought together")."""

    top: int = Field(default=5, ge=1, le=20)
    min_customers: int = Field(default=3, ge=2)
    show: int = Field(default=4, ge=1, le=20)


class Recommendations(Strict):
    """What templates' ``recommendations`` offer besides ``recently_viewed``."""

    bought_together: BoughtTogether | None = None


class Settings(Strict):
    """settings.yaml"""

    timezone: str = "UTC"
    sender: Sender = Field(default_factory=Sender)
    channels: list[Literal["email", "sms", "webhook"]] = Field(
        default_factory=lambda: ["email", "sms"]  # type: ignore[arg-type]
    )
    consent: ConsentSettings = Field(default_factory=ConsentSettings)
    sources: list[str] | None = None
    quiet_hours: QuietHours | None = None
    frequency_caps: list[FrequencyCap] = Field(default_factory=list)
    holdout: Holdout | None = None
    arbitration_window: str = "1m"
    attribution: Attribution = Field(default_factory=Attribution)
    unsubscribe: Unsubscribe | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    replenishment: Replenishment | None = None
    catalog: CatalogSettings | None = None
    recommendations: Recommendations = Field(default_factory=Recommendations)
    traits: list[str] = Field(
        default_factory=list,
        description="extension: custom trait names templates may use besides the standard ones",
    )
    custom_events: dict[str, CustomEvent] = Field(default_factory=dict)
    topics: dict[str, Topic] = Field(default_factory=dict)
    webhooks: dict[str, WebhookEndpoint] = Field(default_factory=dict)

    _arb = field_validator("arbitration_window")(classmethod(lambda cls, v: _duration(v)))

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not an IANA time zone; use a name like America/New_York"
            ) from None
        return value


class ValueTiers(Strict):
    longevity: list[int]
    recency: list[int]
    grid: list[list[str]]

    @model_validator(mode="after")
    def _shape(self) -> ValueTiers:
        rows, cols = len(self.longevity) + 1, len(self.recency) + 1
        if len(self.grid) != rows or any(len(r) != cols for r in self.grid):
            raise ValueError(
                f"grid must have {rows} rows (longevity bands) of {cols} names (recency bands)"
            )
        if self.longevity != sorted(self.longevity) or self.recency != sorted(self.recency):
            raise ValueError("cut points must be in increasing order")
        return self


class Segment(Strict):
    where: dict[str, Any]
    description: str | None = None


class RfmRule(Strict):
    """One RFM segment: score ranges (1-5) for recency, frequency and monetary value."""

    name: str
    r: tuple[int, int] = (1, 5)
    f: tuple[int, int] = (1, 5)
    m: tuple[int, int] = (1, 5)

    @model_validator(mode="after")
    def _ranges(self) -> RfmRule:
        for key in ("r", "f", "m"):
            lo, hi = getattr(self, key)
            if not 1 <= lo <= hi <= 5:
                raise ValueError(f"{key} must be [lo, hi] with 1 <= lo <= hi <= 5")
        return self


class Milestone(Strict):
    """A profile number crossing a threshold, announced once as ``milestone_reached``."""

    field: Literal["orders_count", "lifetime_value", "pltv", "expected_orders_90d"]
    reaches: float = Field(gt=0)
    description: str | None = None


class ChurnRisk(Strict):
    """Cut points on ``p_alive`` for the ``churn_risk`` profile field."""

    high: float = Field(default=0.3, gt=0, lt=1)
    medium: float = Field(default=0.7, gt=0, lt=1)

    @model_validator(mode="after")
    def _order(self) -> ChurnRisk:
        if self.high > self.medium:
            raise ValueError("high must be at most medium (p_alive below high is high risk)")
        return self


class SegmentsFile(Strict):
    """segments.yaml"""

    segments: dict[str, Segment] = Field(default_factory=dict)
    value_tiers: ValueTiers | None = None
    rfm: list[RfmRule] | None = Field(
        default=None,
        description="RFM segment names in order (first match wins); default: the standard map",
    )
    milestones: dict[str, Milestone] = Field(default_factory=dict)
    churn_risk: ChurnRisk = Field(default_factory=ChurnRisk)


class Active(Strict):
    from_: datetime | None = Field(default=None, alias="from")
    until: datetime | None = None

    @field_validator("from_", "until", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        if value is None:
            return None
        try:
            return parse_time(value)
        except (ValueError, TypeError):
            raise ValueError(
                f'{value!r} is not a time; write it like "2027-02-10T21:30:00Z"'
            ) from None


class Count(Strict):
    at_least: int = Field(ge=1)
    within: str
    same: str | None = None

    _within = field_validator("within")(classmethod(lambda cls, v: _duration(v)))


class When(Strict):
    event: str
    where: dict[str, Any] | None = None
    count: Count | None = None
    max_age: str | None = Field(
        default=None,
        description="an event older than this when it arrives does not fire the trigger "
        "(suppressed/stale); default: the trigger's wait + 24h",
    )

    _max_age = field_validator("max_age")(
        classmethod(lambda cls, v: None if v is None else _duration(v))
    )


class EventTest(Strict):
    """An event in ``cancel_if`` (a type and optional conditions on it)."""

    event: str
    where: dict[str, Any] | None = None
    same_message: bool = Field(
        default=False,
        description="only an engagement event about the message this wait belongs to (the "
        "properties.message_id of the engagement event that started the wait) cancels it; "
        "needs when.event and event to be engagement events (docs/config.md)",
    )


class Who(Strict):
    segment: str | list[str] | None = None
    not_segment: str | list[str] | None = None
    value_tier: str | list[str] | None = None
    where: dict[str, Any] | None = None
    did: dict[str, Any] | None = None
    did_not: dict[str, Any] | None = None


class EmailContent(Strict):
    template: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _either(self) -> EmailContent:
        inline = self.subject or self.html or self.text
        if self.template and inline:
            raise ValueError("use either template: NAME or inline subject/html/text, not both")
        if not self.template and not (self.subject and (self.html or self.text)):
            raise ValueError("inline email needs subject and html or text (or use template: NAME)")
        return self


class SmsContent(Strict):
    template: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _either(self) -> SmsContent:
        if bool(self.template) == bool(self.text):
            raise ValueError("sms needs exactly one of text: ... or template: NAME")
        return self


class WebhookContent(Strict):
    """A webhook message: the endpoint (a name in settings.webhooks) and its JSON body, a
    template whose every value is written ``{{ ... | tojson }}`` (docs/delivery.md)."""

    endpoint: str
    body: str


class WaitUntil(Strict):
    """A journey step waiting for a local time of day (the customer's zone, else the shop's)."""

    local_time: str
    days: list[str] | None = None

    @field_validator("local_time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a 24-hour time like '10:00'")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("days needs at least one weekday (mon ... sun)")
            from nudge.core.localtime import weekdays

            weekdays(value)
        return value


class WaitFor(Strict):
    """A journey step waiting for an event, or a timeout, each with its own next step."""

    event: str
    where: dict[str, Any] | None = None
    same_journey: bool = False
    timeout: str
    on_event: str | None = None
    on_timeout: str | None = None

    _timeout = field_validator("timeout")(classmethod(lambda cls, v: _duration(v)))


class SendStep(Strict):
    """A journey step sending a message: a channel and a template or inline content."""

    channel: Literal["email", "sms", "best"] = "email"
    template: str | None = None
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    holdout: float = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _either(self) -> SendStep:
        inline = self.subject or self.html or self.text
        if bool(self.template) == bool(inline):
            raise ValueError("send needs exactly one of template: NAME or inline subject/html/text")
        if inline and self.channel == "email" and not (self.subject and (self.html or self.text)):
            raise ValueError("an inline email needs subject and html or text")
        if inline and self.channel in ("sms", "best") and not self.text:
            raise ValueError(f"channel: {self.channel} needs text")
        return self


class Winner(Strict):
    """When a split stops splitting: every new entrant gets the variant that clearly won."""

    metric: Literal["conversion"] = "conversion"
    after: int = Field(default=500, ge=1)
    min_lift_ci: float = 0


class SplitStep(Strict):
    """A journey step splitting customers between named variants by weight."""

    name: str
    variants: dict[str, float]
    winner: Winner | None = None

    @field_validator("variants")
    @classmethod
    def _weights(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) < 2:
            raise ValueError("a split needs at least two variants")
        for name, weight in value.items():
            if not _ID.match(name):
                raise ValueError(f"{name!r}: variant names use lowercase letters, digits, _ and -")
            if weight <= 0:
                raise ValueError(f"variant {name!r}: weights are positive numbers")
        return value


class BranchArm(Strict):
    """One arm of a branch: ``if`` (customer conditions) or ``else: true``, then ``goto`` a
    later step or run nested ``steps`` (then continue after the branch)."""

    if_: Who | None = Field(default=None, alias="if")
    else_: bool = Field(default=False, alias="else")
    goto: str | None = None
    steps: list[Step] | None = None

    @model_validator(mode="after")
    def _shape(self) -> BranchArm:
        if (self.if_ is None) == (not self.else_):
            raise ValueError("each branch arm needs exactly one of if: {...} or else: true")
        if self.goto and self.steps:
            raise ValueError("a branch arm takes goto: STEP or steps: [...], not both")
        return self


class Step(Strict):
    """One step of a journey (``steps:`` in a trigger): an id and exactly one step kind."""

    id: str
    wait: str | None = None
    wait_until: WaitUntil | None = None
    wait_for: WaitFor | None = None
    send: SendStep | None = None
    branch: list[BranchArm] | None = None
    split: SplitStep | None = None
    goto: str | None = None
    exit: bool | None = None

    _wait = field_validator("wait")(classmethod(lambda cls, v: None if v is None else _duration(v)))

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: step ids use lowercase letters, digits, _ and -")
        return value

    @property
    def kind(self) -> str:
        """Which of :data:`STEP_KINDS` this step is."""
        return step_kind(self)

    @model_validator(mode="after")
    def _one(self) -> Step:
        kinds = [k for k in STEP_KINDS if getattr(self, k) not in (None, False)]
        if len(kinds) != 1:
            raise ValueError(
                f"step {self.id!r} needs exactly one of {', '.join(STEP_KINDS)}"
                + (f" (has {', '.join(kinds)})" if kinds else "")
            )
        if self.branch is not None and not self.branch:
            raise ValueError("branch needs at least one arm")
        return self


BranchArm.model_rebuild()


class Reentry(Strict):
    """When a customer who went through a journey may enter it again."""

    after: str

    _after = field_validator("after")(classmethod(lambda cls, v: _duration(v)))


class Trigger(Strict):
    """triggers/*.yaml — one trigger per file."""

    id: str
    description: str | None = None
    enabled: bool = True
    active: Active | None = None
    when: When
    who: Who | list[Who] | None = None
    wait: str | None = None
    cancel_if: list[EventTest] = Field(default_factory=list)
    cooldown: str | None = None
    priority: int = 50
    holdout: float = Field(default=0, ge=0, le=100)
    expires: str | None = None
    at_local_time: str | None = None
    channel: Literal["email", "sms", "best", "webhook"] = "email"
    email: EmailContent | None = None
    sms: SmsContent | None = None
    webhook: WebhookContent | None = None
    lane: Literal["marketing", "transactional"] = "marketing"
    topic: str | None = None
    cap_group: str | None = None
    steps: list[Step] | None = None
    exit_if: list[EventTest] = Field(default_factory=list)
    reentry: Literal["once", "always"] | Reentry | None = None

    @field_validator("at_local_time")
    @classmethod
    def _local_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_hhmm(value)
        return value

    @model_validator(mode="after")
    def _daily_needs_a_time(self) -> Trigger:
        if self.when.event == "daily" and self.at_local_time is None:
            raise ValueError(
                'a trigger on the daily event needs at_local_time: "10:00" (the local time '
                "its messages go out)"
            )
        return self

    _durations = field_validator("wait", "cooldown", "expires")(
        classmethod(lambda cls, v: None if v is None else _duration(v))
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r}: ids use lowercase letters, digits, _ and -")
        return value

    @model_validator(mode="after")
    def _content(self) -> Trigger:
        if self.steps is not None:
            if not self.steps:
                raise ValueError("steps needs at least one step")
            extra = [k for k in ("wait", "email", "sms", "webhook") if getattr(self, k) is not None]
            extra += ["cancel_if"] if self.cancel_if else []
            if extra:
                raise ValueError(
                    f"a journey (steps:) puts {', '.join(extra)} in its steps; use wait/send "
                    "steps and exit_if instead"
                )
            return self
        if self.exit_if or self.reentry is not None:
            raise ValueError("exit_if and reentry belong to journeys (a trigger with steps:)")
        if self.channel == "email" and self.email is None:
            raise ValueError("channel: email needs an email: block")
        if self.channel == "sms" and self.sms is None:
            raise ValueError("channel: sms needs an sms: block")
        if self.channel == "best" and self.email is None and self.sms is None:
            raise ValueError("channel: best needs an email: and/or sms: block")
        if self.channel == "webhook" and self.webhook is None:
            raise ValueError("channel: webhook needs a webhook: block (endpoint and body)")
        return self


class Variant(Strict):
    who: Who | list[Who] | None = None
    email: EmailContent | None = None
    sms: SmsContent | None = None
    webhook: WebhookContent | None = None
    channel: Literal["email", "sms", "best", "webhook"] | None = None


class Campaign(Strict):
    """campaigns/*.yaml — one campaign per file."""

    id: str
    description: str | None = None
    enabled: bool = True
    schedule: str | None = None
    at: str | None = None  # a broadcast: once, at this time (docs/config.md, "Broadcasts")
    send_in_local_time: bool = False
    throttle: str | None = None
    test_to: list[str] = Field(default_factory=list)
    audience: Who | list[Who] | None = None
    variants: list[Variant]
    priority: int = 50
    holdout: float = Field(default=0, ge=0, le=100)
    expires: str | None = None
    topic: str | None = None
    cap_group: str | None = None

    _expires = field_validator("expires")(
        classmethod(lambda cls, v: None if v is None else _duration(v))
    )

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> str | None:
        from nudge.core.broadcast import parse_at

        if value is None:
            return None
        text = value.isoformat() if isinstance(value, datetime) else str(value)  # YAML timestamps
        parse_at(text)
        return text

    @field_validator("throttle")
    @classmethod
    def _throttle(cls, value: str | None) -> str | None:
        from nudge.core.broadcast import throttle_rate

        if value is not None:
            throttle_rate(value)
        return value

    @field_validator("test_to")
    @classmethod
    def _test_to(cls, value: list[str]) -> list[str]:
        from nudge.core.addresses import check_address

        for address in value:
            kind = "phone" if str(address).startswith("+") else "email"
            error = check_address(kind, str(address)).error
            if error is not None:
                raise ValueError(f"{address!r} is not an email address or an E.164 phone number")
        return value

    @model_validator(mode="after")
    def _when(self) -> Campaign:
        if (self.schedule is None) == (self.at is None):
            raise ValueError(
                "a campaign needs schedule: (recurring, a cron) or at: (a broadcast, once), "
                "not both"
            )
        if self.send_in_local_time and self.at is None:
            raise ValueError("send_in_local_time needs at: (a broadcast's wall time)")
        return self


class TemplateLocale(Strict):
    """One translation of a template: the same parts as the template itself."""

    subject: str | None = None
    html: str | None = None
    text: str | None = None


class Template(Strict):
    """templates/*.yaml — a named template."""

    name: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None
    locales: dict[str, TemplateLocale] = Field(default_factory=dict)


class ContentVariant(Strict):
    who: Who | list[Who] | None = None
    data: dict[str, Any]


class ContentFile(Strict):
    """content.yaml"""

    blocks: dict[str, list[ContentVariant]] = Field(default_factory=dict)
