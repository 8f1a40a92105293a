"""JSON Schemas (draft 2020-12) of the config files, for editors (``nudge schema``).

One schema per file kind, generated from the pydantic models ``nudge validate`` uses, with a
description and an example on every property, patterns on durations and times, event names as an
enum (the known events plus a config's ``settings.custom_events``), and conditions that complete
field paths and operators. ``nudge validate`` still checks what a schema cannot (types of fields
per event, unknown segments, templates).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nudge.config import schema
from nudge.config.fields import Catalogue, Shape, build_catalogue
from nudge.core.durations import _PATTERN as DURATION
from nudge.core.rules import OPERATORS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
KINDS: dict[str, tuple[type[schema.Strict], str]] = {
    "settings": (schema.Settings, "settings.yaml"),
    "segments": (schema.SegmentsFile, "segments.yaml"),
    "trigger": (schema.Trigger, "triggers/*.yaml"),
    "campaign": (schema.Campaign, "campaigns/*.yaml"),
    "template": (schema.Template, "templates/*.yaml"),
    "content": (schema.ContentFile, "content.yaml"),
}
DURATION_PATTERN = DURATION.pattern
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$"
HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
_WHO = {"segment": "vip"}
_TEMPLATE = "{{ first_name | default('there') }}, your cart is waiting"

# Model.property -> (description, example). Every property of every file kind is here (a test
# checks it), so an editor shows what each key means while it completes it.
DOCS: dict[str, tuple[str, Any]] = {
    "Settings.timezone": (
        "IANA time zone for customers without one, and campaign schedules",
        "America/New_York",
    ),
    "Settings.sender": (
        "From identities: sender.email for emails, sender.sms for texts",
        {"email": "Rose & Co <hello@rose.example>"},
    ),
    "Settings.channels": (
        "Order tried by channel: best (the first the customer can receive)",
        ["email", "sms"],
    ),
    "Settings.consent": (
        "Consent policy: email opt_in (default) or opt_out; SMS is always opt_in",
        {"email": "opt_in"},
    ),
    "Settings.sources": (
        "Accept events only from these sources (an entry matches the sources under it)",
        ["shop.storefront", "aws.partner/shopify.com"],
    ),
    "Settings.quiet_hours": (
        "Local hours when messages on these channels wait (never dropped)",
        {"start": "21:00", "end": "08:00", "channels": ["sms"]},
    ),
    "Settings.frequency_caps": (
        "Sliding windows across all triggers and campaigns: at most max per per",
        [{"channel": "any", "max": 2, "per": "1d"}],
    ),
    "Settings.holdout": (
        "Global control group: percent of customers never messaged",
        {"percent": 5, "salt": "2027"},
    ),
    "Settings.arbitration_window": (
        "How long every message waits so a higher-priority one can win",
        "1m",
    ),
    "Settings.attribution": (
        "An event within window after a message counts as its conversion",
        {"window": "5d", "event": "order_placed"},
    ),
    "Settings.unsubscribe": (
        "One-click unsubscribe link base (a signed token is added)",
        {"url": "https://rose.example/u"},
    ),
    "Settings.traits": (
        "Custom trait names templates may use besides the standard ones",
        ["favourite_stone"],
    ),
    "Settings.custom_events": (
        "Custom events, and extra properties of known ones, that config may name",
        {"wishlist_added": {"properties": {"product_id": "string"}}},
    ),
    "Attribution.window": ("How long after a message a conversion counts", "5d"),
    "Attribution.event": ("The event that counts as a conversion", "order_placed"),
    "Attribution.model": (
        "Which message an order inside the window is credited to: the latest (last_touch) "
        "or the earliest (first_touch)",
        "last_touch",
    ),
    "ConsentSettings.email": (
        "opt_in: no recorded consent, no email; opt_out: email unless withdrawn",
        "opt_in",
    ),
    "ConsentSettings.sms": ("Always opt_in", "opt_in"),
    "CustomEvent.description": (
        "What the event means, for humans",
        "A product added to a wishlist",
    ),
    "CustomEvent.properties": (
        "Its properties and their types",
        {"list_id": "string", "price": "number"},
    ),
    "FrequencyCap.channel": ("Which messages count: email, sms or any", "any"),
    "FrequencyCap.max": ("At most this many messages per window", 2),
    "FrequencyCap.per": ("The sliding window", "1d"),
    "FrequencyCap.topic": (
        "Count and limit only messages of this topic (settings.topics)",
        "offers",
    ),
    "FrequencyCap.group": (
        "Count and limit only triggers and campaigns naming this cap_group",
        "reminders",
    ),
    "Trigger.cap_group": ("A name caps can count this trigger's messages under", "reminders"),
    "Campaign.cap_group": ("A name caps can count this campaign's messages under", "newsletters"),
    "Holdout.percent": ("Percent of customers kept as a control group", 5),
    "Holdout.salt": ("Change it to draw a new control group", "2027"),
    "QuietHours.start": ("Start, customer's local time, HH:MM in quotes", "21:00"),
    "QuietHours.end": ("End, customer's local time, HH:MM in quotes", "08:00"),
    "QuietHours.channels": ("Channels quiet hours apply to", ["sms"]),
    "Sender.email": (
        "From address of every email, verified in SES",
        "Rose & Co <hello@rose.example>",
    ),
    "Sender.sms": ("SMS origination identity (phone number or sender id)", "+15550100"),
    "Unsubscribe.url": ("Base URL of the one-click unsubscribe link", "https://rose.example/u"),
    "Unsubscribe.shop_name": (
        "Shop name on the unsubscribe page (default: sender.email's name)",
        "Rose & Co",
    ),
    "Unsubscribe.token_lifetime": (
        "How long an unsubscribe link works after its message was sent (default 365d)",
        "365d",
    ),
    "Settings.ingest": (
        "What ingest accepts by date (docs/sources.md, What ingest refuses)",
        {"max_future": "1h"},
    ),
    "Settings.catalog": (
        "back_in_stock and price_dropped for customers who viewed a product; off when absent",
        {"window": "30d", "max_fanout": 10000},
    ),
    "CatalogSettings.window": (
        "Customers who viewed (or wishlisted) the product within this hear of it (default 30d)",
        "30d",
    ),
    "CatalogSettings.max_fanout": (
        "At most this many customers hear of one change of one product (default 10000)",
        10000,
    ),
    "CatalogSettings.watch": (
        "Events that make a customer watch a product (properties.product_id, .price)",
        ["product_viewed", "wishlist_added"],
    ),
    "Settings.replenishment": (
        "Per-product replenishment reminders (replenishment_due events); off when absent",
        {"interval": "30d", "lead": "3d", "min_buyers": 5},
    ),
    "Replenishment.interval": (
        "Re-order interval of a product with too few repeat buyers to measure (default 30d)",
        "30d",
    ),
    "Replenishment.lead": ("How long before the supply runs out to remind (default 3d)", "3d"),
    "Replenishment.min_buyers": (
        "Customers with 2+ orders of a product needed to trust its median interval (default 5)",
        5,
    ),
    "Replenishment.by": ("Remind per product (default) or per category", "product"),
    "Settings.recommendations": (
        "What templates' recommendations offer besides recently_viewed",
        {"bought_together": {"top": 5, "min_customers": 3}},
    ),
    "Recommendations.bought_together": (
        "Frequently bought together, computed each night from orders; off when absent",
        {"top": 5, "min_customers": 3, "show": 4},
    ),
    "BoughtTogether.top": ("Companions kept per product by the nightly run (default 5)", 5),
    "BoughtTogether.min_customers": (
        "Customers who bought both in one order needed to recommend a pair (default 3)",
        3,
    ),
    "BoughtTogether.show": (
        "At most this many products in recommendations.bought_together (default 4)",
        4,
    ),
    "IngestSettings.max_future": (
        "Events dated later than now + this are parked in the dead-letter queue (default 1h)",
        "1h",
    ),
    "IngestSettings.max_age": (
        "Events dated earlier than now - this are parked (default: only those before 2000)",
        "400d",
    ),
    "SegmentsFile.segments": (
        "Named groups of customers, each a customer condition",
        {"vip": {"where": {"lifetime_value": {"gte": 500}}}},
    ),
    "SegmentsFile.value_tiers": (
        "Longevity x recency grid of tier names",
        {
            "longevity": [90, 365],
            "recency": [30, 90, 180],
            "grid": [
                ["rising", "steady", "fading", "lost"],
                ["loyal", "steady", "fading", "lost"],
                ["champion", "loyal", "fading", "lost"],
            ],
        },
    ),
    "SegmentsFile.rfm": (
        "RFM segment names in order, first match wins (default: standard map)",
        [{"name": "Champions", "r": [4, 5], "f": [4, 5], "m": [4, 5]}],
    ),
    "SegmentsFile.milestones": (
        "Profile numbers crossing a threshold, announced once as milestone_reached",
        {"tenth_order": {"field": "orders_count", "reaches": 10}},
    ),
    "SegmentsFile.churn_risk": (
        "Cut points on p_alive for the churn_risk profile field (default 0.3 and 0.7)",
        {"high": 0.3, "medium": 0.7},
    ),
    "ChurnRisk.high": ("p_alive below this: churn_risk high (default 0.3)", 0.3),
    "ChurnRisk.medium": ("p_alive below this (and not high): medium; else low (default 0.7)", 0.7),
    "Milestone.field": (
        "The profile number: orders_count, lifetime_value, pltv or expected_orders_90d",
        "orders_count",
    ),
    "Milestone.reaches": ("Crossed when the number is at least this", 10),
    "Milestone.description": ("What the milestone means, for humans", "Tenth order"),
    "RfmRule.name": ("The RFM segment's name (profile rfm.segment)", "Champions"),
    "RfmRule.r": ("Recency score range, 1-5", [4, 5]),
    "RfmRule.f": ("Frequency score range, 1-5", [4, 5]),
    "RfmRule.m": ("Monetary score range, 1-5", [4, 5]),
    "Segment.where": (
        "Customer condition: profile paths, did / did_not",
        {"lifetime_value": {"gte": 500}},
    ),
    "Segment.description": ("What the segment is, for humans", "Spent 500 or more"),
    "ValueTiers.longevity": ("Cut points in days since the first order (increasing)", [90, 365]),
    "ValueTiers.recency": ("Cut points in days since the last order (increasing)", [30, 90, 180]),
    "ValueTiers.grid": (
        "Tier names: one row per longevity band, one column per recency band",
        [["rising", "steady"], ["loyal", "fading"]],
    ),
    "Trigger.id": (
        "Unique name, in every decision and message; keep it stable",
        "cart_jewelry_high_value",
    ),
    "Trigger.description": (
        "What the trigger does, for humans",
        "High-value cart left with jewelry",
    ),
    "Trigger.enabled": ("false switches it off (waiting messages are dropped too)", True),
    "Trigger.active": (
        "Window it is active in; outside it matches are suppressed (inactive)",
        {"from": "2027-02-01T00:00:00Z", "until": "2027-02-15T00:00:00Z"},
    ),
    "Trigger.when": (
        "The event that fires it, conditions on it, repeated behaviour",
        {"event": "cart_updated", "where": {"properties.value": {"gte": 150}}},
    ),
    "Trigger.who": (
        "Customer conditions (segment, not_segment, value_tier, where, did, did_not)",
        _WHO,
    ),
    "Trigger.at_local_time": (
        "Send at this time of day in the customer's zone (the shop's if unknown); required "
        "with when.event: daily",
        "10:00",
    ),
    "Trigger.wait": ("Delay before sending; everything is checked again when it ends", "1h"),
    "Trigger.cancel_if": (
        "Events that cancel the message during the wait",
        [{"event": "order_placed"}],
    ),
    "Trigger.cooldown": ("At most one message from this trigger per customer per window", "7d"),
    "Trigger.priority": ("Higher wins when caps allow only one message (default 50)", 80),
    "Trigger.holdout": ("Percent of this trigger's customers kept as a control group", 10),
    "Trigger.expires": ("A message still held back this long after it was due is dropped", "24h"),
    "Trigger.channel": ("email (default), sms, best or webhook", "email"),
    "Trigger.email": (
        "{template: NAME} or inline subject + html/text",
        {"template": "cart_reminder"},
    ),
    "Trigger.sms": (
        "{text: ...} or {template: NAME}",
        {"text": "Your cart is waiting. Reply STOP to opt out"},
    ),
    "Trigger.steps": (
        "A journey: steps walked one after another (wait, wait_until, wait_for, send, branch, "
        "split, goto, exit); without steps the trigger sends one message",
        [{"id": "wait1", "wait": "1h"}, {"id": "remind", "send": {"template": "cart_reminder"}}],
    ),
    "Trigger.exit_if": (
        "Journeys: events that end the journey at any step (recorded exited / exit_if)",
        [{"event": "order_placed"}],
    ),
    "Trigger.reentry": (
        "Journeys: when a customer may enter again: always (after finishing, the default), "
        "once, or {after: DURATION} since they last entered",
        {"after": "30d"},
    ),
    "Step.id": ("The step's name, unique in the journey; decisions and goto use it", "remind"),
    "Step.wait": ("Wait this long, then go on", "1h"),
    "Step.wait_until": (
        "Wait until a local time of day in the customer's time zone (else the shop's)",
        {"local_time": "10:00", "days": ["mon", "tue", "wed", "thu", "fri"]},
    ),
    "Step.wait_for": (
        "Wait for an event, or a timeout; each may lead to its own step",
        {"event": "email_clicked", "same_journey": True, "timeout": "1d"},
    ),
    "Step.send": (
        "Send a message (suppression, caps, quiet hours and consent apply)",
        {"channel": "email", "template": "cart_reminder"},
    ),
    "Step.branch": (
        "Arms tried in order: the first whose if holds is taken (else: true takes the rest)",
        [{"if": {"segment": "vip"}, "goto": "offer"}, {"else": True}],
    ),
    "Step.split": (
        "Split customers between variants by weight (stable per customer)",
        {"name": "offer_test", "variants": {"ten": 50, "free_ship": 50}},
    ),
    "Step.goto": ("Continue at a later step (journeys only go forward)", "offer"),
    "Step.exit": ("End the journey here (recorded exited / exit_step)", True),
    "WaitUntil.local_time": ("The local time of day, 24-hour", "10:00"),
    "WaitUntil.days": ("Only on these weekdays (default: any day)", ["mon", "tue", "wed"]),
    "WaitFor.event": ("The event waited for", "email_clicked"),
    "WaitFor.where": ("Conditions on that event", {"properties.link": {"contains": "/cart"}}),
    "WaitFor.same_journey": (
        "Only an engagement event about a message of this journey counts",
        True,
    ),
    "WaitFor.timeout": ("How long to wait for it", "1d"),
    "WaitFor.on_event": ("The step to go to when it happens (default: the next step)", "offer"),
    "WaitFor.on_timeout": ("The step to go to on timeout (default: the next step)", "text"),
    "SendStep.channel": ("email (default), sms or best", "email"),
    "SendStep.template": (
        "A template's name; may read the customer's split variant: offer_{{ split.NAME }}",
        "cart_reminder",
    ),
    "SendStep.subject": ("Inline email subject (Jinja2)", _TEMPLATE),
    "SendStep.html": ("Inline email HTML body (Jinja2; autoescaped)", "<p>Hi</p>"),
    "SendStep.text": (
        "Inline plain-text body or SMS text (Jinja2)",
        "Your cart is waiting. Reply STOP to opt out",
    ),
    "SendStep.holdout": ("Percent of customers held out of this step only", 10),
    "SplitStep.name": (
        "The split's name: in decisions (variant) and templates (split.NAME)",
        "offer_test",
    ),
    "SplitStep.variants": ("Variant name -> weight", {"ten": 50, "free_ship": 50}),
    "SplitStep.winner": (
        "Send every new entrant to the variant that clearly won (see docs/config.md)",
        {"metric": "conversion", "after": 500, "min_lift_ci": 0},
    ),
    "Winner.metric": ("What wins: conversion (orders within the attribution window)", "conversion"),
    "Winner.after": ("Decide only once this many customers went through each variant", 500),
    "Winner.min_lift_ci": (
        "The lower end of the winner's lift interval over every other variant must exceed this",
        0,
    ),
    "BranchArm.if": (
        "Customer conditions (segment, where, did, did_not with same_journey)",
        {"segment": "vip"},
    ),
    "BranchArm.else": ("true: the arm taken when no if before it held (last arm)", True),
    "BranchArm.goto": ("Continue at this later step", "offer"),
    "BranchArm.steps": (
        "Steps run for this arm, then the journey continues after the branch",
        [{"id": "text", "send": {"channel": "sms", "text": "Reply STOP to opt out"}}],
    ),
    "Reentry.after": ("Enter again only this long after the last entry", "30d"),
    "Active.from": (
        "Active from this time (ISO 8601 with an offset, quoted)",
        "2027-02-01T00:00:00Z",
    ),
    "Active.until": (
        "Active until this time (ISO 8601 with an offset, quoted)",
        "2027-02-15T00:00:00Z",
    ),
    "Count.at_least": ("Fires when the customer has done the event this many times", 3),
    "Count.within": ("... within this window (this event included)", "24h"),
    "Count.same": (
        "Count only events sharing this value with the current one",
        "properties.product_id",
    ),
    "EmailContent.template": ("A template's name (templates/*.yaml)", "cart_reminder"),
    "EmailContent.subject": ("Subject line (a Jinja2 template)", _TEMPLATE),
    "EmailContent.html": (
        "HTML body (Jinja2; autoescaped)",
        "<p>Hi {{ first_name | default('there') }}</p>",
    ),
    "EmailContent.text": ("Plain-text body (Jinja2)", "Hi {{ first_name | default('there') }}"),
    "EventTest.event": ("The event that cancels the wait", "order_placed"),
    "EventTest.where": ("Conditions on that event (properties.*)", {"properties.value": 0}),
    "EventTest.same_message": ("Only an engagement event about the message this wait is for", True),
    "SmsContent.template": ("A template's name (its text is used)", "cart_sms"),
    "SmsContent.text": (
        "The text (Jinja2); end with how to opt out",
        "Rose & Co: your cart is waiting. Reply STOP to opt out",
    ),
    "When.event": ("The event type that fires the trigger", "cart_updated"),
    "When.max_age": (
        "An event older than this when it arrives does not fire the trigger (suppressed/stale);"
        " default: the trigger's wait + 24h",
        "2h",
    ),
    "When.where": (
        "Conditions on the event (paths start at the event: properties.value)",
        {"properties.value": {"gte": 150}},
    ),
    "When.count": (
        "Repeated behaviour: at_least N within a window",
        {"at_least": 3, "within": "24h"},
    ),
    "Who.segment": ("In this segment (or any of these)", "vip"),
    "Who.not_segment": ("Not in this segment (nor any of these)", "lapsed"),
    "Who.value_tier": ("In this value tier (or any of these)", ["champion", "loyal"]),
    "Who.where": ("Customer condition on profile fields", {"lifetime_value": {"gte": 500}}),
    "Who.did": (
        "Did this event (where, within, at_least)",
        {"event": "page_viewed", "within": "48h"},
    ),
    "Who.did_not": (
        "Did not do this event (where, within)",
        {"event": "order_placed", "within": "24h"},
    ),
    "Campaign.id": ("Unique name, in every decision and message", "monthly_value_tiers"),
    "Campaign.description": ("What the campaign does, for humans", "Monthly note per value tier"),
    "Campaign.enabled": ("false switches it off", True),
    "Campaign.schedule": (
        "EventBridge Scheduler cron, in settings.timezone (or at: for a broadcast)",
        "cron(0 9 1 * ? *)",
    ),
    "Campaign.at": (
        "A broadcast: sent once, at this time (a wall time in settings.timezone, or with an offset)",
        "2027-02-12T10:00:00",
    ),
    "Campaign.send_in_local_time": (
        "Send at the at: wall time in each customer's own time zone",
        True,
    ),
    "Campaign.throttle": ("At most this many messages per s, min or h", "1000/min"),
    "Campaign.test_to": (
        "Addresses that get a proof with nudge broadcast test (emails, or +E.164 phones)",
        ["proofs@rose.example"],
    ),
    "Campaign.audience": (
        "Who it goes to (same keys as a trigger's who)",
        {"value_tier": ["champion", "loyal"]},
    ),
    "Campaign.variants": (
        "Content per audience; the first matching variant wins",
        [{"email": {"template": "tier_default"}}],
    ),
    "Campaign.priority": ("Priority under frequency caps (default 50)", 20),
    "Campaign.holdout": ("Percent kept as a control group", 10),
    "Campaign.expires": ("A message not sent this long after the run is dropped", "3d"),
    "Variant.who": ("Who gets this variant (first match wins)", {"value_tier": "fading"}),
    "Variant.email": ("Email content of this variant", {"template": "tier_comeback_offer"}),
    "Variant.sms": (
        "SMS content of this variant",
        {"text": "New this month. Reply STOP to opt out"},
    ),
    "Variant.channel": (
        "email, sms, best or webhook (default: the channel it has content for)",
        "email",
    ),
    "Variant.webhook": (
        "Webhook content of this variant: endpoint and JSON body",
        {"endpoint": "crm", "body": '{"customer": {{ customer_id | tojson }}}'},
    ),
    "Trigger.webhook": (
        "channel: webhook: the endpoint (settings.webhooks) and the JSON body, every value "
        "written {{ ... | tojson }}",
        {"endpoint": "crm", "body": '{"customer": {{ customer_id | tojson }}}'},
    ),
    "WebhookContent.endpoint": ("A name in settings.webhooks", "crm"),
    "WebhookContent.body": (
        "A JSON object (Jinja2 template); every value {{ expression | tojson }}, unquoted",
        '{"customer": {{ customer_id | tojson }}, "name": {{ first_name | tojson }}}',
    ),
    "Settings.webhooks": (
        "Endpoints webhook messages are posted to, signed (HTTPS; http:// only for localhost)",
        {"crm": {"url": "https://crm.rose.example/nudge"}},
    ),
    "WebhookEndpoint.url": ("The endpoint's HTTPS URL", "https://crm.rose.example/nudge"),
    "WebhookEndpoint.description": ("What the endpoint does, for humans", "Our CRM's push"),
    "ConsentSettings.webhook": (
        "opt_in (default): a marketing webhook needs consent.webhook true; opt_out: sent "
        "unless consent.webhook is false",
        "opt_in",
    ),
    "Trigger.lane": (
        "marketing (default: caps, quiet hours, holdouts, marketing consent) or transactional "
        "(messages the customer needs: none of those; SMS sent as Transactional)",
        "transactional",
    ),
    "Trigger.topic": (
        "The subscription topic of this trigger's messages (settings.topics): a customer who "
        "opted out of it does not get them; its unsubscribe link leaves this topic only",
        "offers",
    ),
    "Campaign.topic": ("The subscription topic of this campaign's messages", "offers"),
    "Settings.topics": (
        "Subscription topics customers choose per channel (consent_updated with topic)",
        {"offers": {"description": "Offers and discounts", "default": "opt_out"}},
    ),
    "Topic.description": ("What the customer sees on the unsubscribe page", "Offers and discounts"),
    "Topic.default": (
        "opt_out: customers with the channel's consent get it until they say no; "
        "opt_in: only those who said yes to it",
        "opt_out",
    ),
    "Template.name": ("Unique name, used by email: {template: NAME}", "cart_reminder"),
    "Template.subject": ("Subject line (Jinja2)", _TEMPLATE),
    "Template.html": (
        "HTML body (Jinja2; autoescaped)",
        "<p>Hi {{ first_name | default('there') }}</p>",
    ),
    "Template.text": (
        "Plain-text body, also an SMS text (Jinja2)",
        "Hi {{ first_name | default('there') }}",
    ),
    "Template.locales": (
        "Translations by locale tag (fr, de, fr-CA): each has the template's parts and reads the "
        "same variables; the customer's locale trait picks one, else the default text",
        {"fr": {"subject": "{{ first_name | default('Bonjour') }}, votre panier vous attend"}},
    ),
    "TemplateLocale.subject": ("Translated subject line (Jinja2)", _TEMPLATE),
    "TemplateLocale.html": ("Translated HTML body (Jinja2; autoescaped)", "<p>Bonjour</p>"),
    "TemplateLocale.text": ("Translated plain-text body (Jinja2)", "Bonjour"),
    "ContentFile.blocks": (
        "Content slots, each a list of variants (first matching wins)",
        {"home_hero": [{"data": {"headline": "Valentine's gifts"}}]},
    ),
    "ContentVariant.who": ("Who sees this variant (leave out on the last, default one)", _WHO),
    "ContentVariant.data": (
        "Free-form fields; templates read content.<slot>.<field>",
        {"headline": "Valentine's gifts"},
    ),
}
DURATIONS = {
    "Trigger.wait",
    "Trigger.cooldown",
    "Trigger.expires",
    "Campaign.expires",
    "Count.within",
    "FrequencyCap.per",
    "Attribution.window",
    "Settings.arbitration_window",
    "Unsubscribe.token_lifetime",
    "IngestSettings.max_future",
    "IngestSettings.max_age",
    "When.max_age",
    "Step.wait",
    "WaitFor.timeout",
    "Reentry.after",
}
TIMES = {"Active.from", "Active.until"}
TIMES_OF_DAY = {"QuietHours.start", "QuietHours.end", "WaitUntil.local_time"}
IDS = {"Trigger.id", "Campaign.id", "Step.id"}
EVENTS = {"When.event", "EventTest.event", "Attribution.event", "WaitFor.event"}
CONDITIONS = {  # Model.property -> which paths its conditions start at
    "When.where": "event",
    "EventTest.where": "event",
    "Who.where": "profile",
    "Segment.where": "profile",
    "WaitFor.where": "event",
}
HISTORY = {"Who.did", "Who.did_not"}
OPERATOR_DOCS = {
    "eq": "equal to",
    "ne": "not equal to",
    "in": "one of a list",
    "not_in": "none of a list",
    "gt": "greater than",
    "gte": "at least",
    "lt": "less than",
    "lte": "at most",
    "contains": "text contains a substring, or a list contains a member",
    "any_in": "a list shares at least one element with yours",
    "exists": "the field is present (true) or absent (false)",
    "anniversary_in_days": (
        "the date's next anniversary is this many local days away (0 = today; 02-29 is "
        "celebrated on 02-28 in other years)"
    ),
    "days_since": "whole local days since the date: a number, or {gte: 30, lt: 60}",
    "days_until": "whole local days until the date: a number, or {lte: 3}",
}


def _paths(shape: Shape, prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted paths into a shape (through lists, as conditions collect them)."""
    out: list[str] = []
    if depth == 0:
        return out
    target = shape.item if shape.kind == "list" and shape.item else shape
    for name, inner in target.fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        out.extend(_paths(inner, path + ".", depth - 1))
    return out


def _condition_defs(cat: Catalogue) -> dict[str, Any]:
    scalar = {"type": ["string", "number", "boolean", "null"]}
    ops: dict[str, Any] = {}
    for op in OPERATORS:
        value: dict[str, Any]
        if op in ("in", "not_in", "any_in"):
            value = {"type": "array"}
        elif op == "exists":
            value = {"type": "boolean"}
        elif op == "anniversary_in_days":
            value = {"type": "integer", "minimum": 0, "maximum": 365}
        elif op in ("days_since", "days_until"):
            value = {"type": ["number", "object"]}
        else:
            value = dict(scalar)
        ops[op] = {**value, "description": OPERATOR_DOCS[op], "examples": [_op_example(op)]}
    test = {
        "description": "a value (equal), a list (one of), or operators",
        "anyOf": [
            scalar,
            {"type": "array"},
            {"type": "object", "properties": ops, "additionalProperties": False},
        ],
    }
    event_paths: set[str] = set()
    for name, props in cat.events.items():
        event_paths.update(f"properties.{p}" for p in _paths(props))
        del name
    event_paths.update(["type", "source", "time", *(f"traits.{t}" for t in cat.traits.fields)])
    profile_paths = _paths(cat.profile)
    history = {
        "type": "object",
        "description": "did the customer do this event (within a window, at least N times)",
        "properties": {
            "event": {
                "$ref": "#/$defs/event_name",
                "description": "the event type",
                "examples": ["order_placed"],
            },
            "where": {
                "$ref": "#/$defs/event_condition",
                "description": "conditions on it (properties.*)",
                "examples": [{"properties.value": {"gte": 150}}],
            },
            "within": _duration("how far back to look", "48h"),
            "at_least": {
                "type": "integer",
                "minimum": 1,
                "description": "how many (did only)",
                "examples": [3],
            },
            "same_journey": {
                "type": "boolean",
                "description": "journey branches only: an engagement event about a message of "
                "this journey since the customer entered it (event and where only)",
                "examples": [True],
            },
        },
        "required": ["event"],
        "additionalProperties": False,
    }

    def condition(paths: list[str] | set[str], audience: bool, what: str) -> dict[str, Any]:
        own = "#/$defs/customer_condition" if audience else "#/$defs/event_condition"
        props: dict[str, Any] = {
            p: {
                "$ref": "#/$defs/field_test",
                "description": f"{what} {p}",
                "examples": [{"exists": True}],
            }
            for p in sorted(paths)
        }
        example = {"did": {"event": "order_placed", "within": "24h"}}
        props["all"] = {
            "type": "array",
            "items": {"$ref": own},
            "description": "every one of these conditions holds",
            "examples": [[{"type": "cart_updated"}]],
        }
        props["any"] = {
            "type": "array",
            "items": {"$ref": own},
            "description": "at least one of these conditions holds",
            "examples": [[{"type": "cart_updated"}]],
        }
        props["not"] = {
            "$ref": own,
            "description": "this condition does not hold",
            "examples": [{"type": "cart_updated"}],
        }
        if audience:
            props["did"] = {
                "$ref": "#/$defs/history_test",
                "description": "the customer did this event",
                "examples": [example["did"]],
            }
            props["did_not"] = {
                "$ref": "#/$defs/history_test",
                "description": "the customer did not do this event",
                "examples": [example["did"]],
            }
        return {
            "type": "object",
            "description": f"a condition: {what} paths to a value or to operators",
            "properties": props,
            "additionalProperties": {"$ref": "#/$defs/field_test"},
        }

    return {
        "field_test": test,
        "history_test": history,
        "event_condition": condition(event_paths, False, "event field"),
        "customer_condition": condition(profile_paths, True, "profile field"),
    }


def _op_example(op: str) -> Any:
    return {
        "in": ["jewelry", "fragrance"],
        "not_in": ["USD"],
        "any_in": ["jewelry"],
        "exists": True,
        "contains": "/delivery",
        "eq": "USD",
        "ne": "USD",
        "anniversary_in_days": 0,
        "days_since": {"gte": 30},
        "days_until": {"lte": 3},
    }.get(op, 150)


def _duration(description: str, example: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": DURATION_PATTERN,
        "description": f"{description} (a number and a unit: 90s, 30m, 1h, 2d, 1w)",
        "examples": [example],
    }


def _decorate(model: str, name: str, prop: dict[str, Any]) -> dict[str, Any]:
    key = f"{model}.{name}"
    description, example = DOCS.get(key, ("", None))
    if key in CONDITIONS:
        audience = CONDITIONS[key] == "profile"
        prop = {"$ref": f"#/$defs/{'customer' if audience else 'event'}_condition"}
    elif key in HISTORY:
        prop = {"$ref": "#/$defs/history_test"}
    elif key in EVENTS:
        prop = {"$ref": "#/$defs/event_name"}
    elif key in DURATIONS:
        duration = {"type": "string", "pattern": DURATION_PATTERN}
        if "anyOf" in prop:
            branches = prop["anyOf"]
            prop["anyOf"] = [duration if b.get("type") == "string" else b for b in branches]
        else:
            prop.update(duration)
    elif key in TIMES:
        prop = {k: v for k, v in prop.items() if k not in ("anyOf", "format")}
        prop["anyOf"] = [{"type": "string", "pattern": TIME_PATTERN}, {"type": "null"}]
    elif key in TIMES_OF_DAY:
        prop = {**prop, "type": "string", "pattern": HHMM_PATTERN}
    elif key in IDS:
        prop = {**prop, "pattern": ID_PATTERN}
    prop = {k: v for k, v in prop.items() if k != "title"}
    prop["description"] = description or prop.get("description", "")
    prop["examples"] = [example]
    return prop


def kind_schema(kind: str, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The JSON Schema of one file kind (``trigger``, ``settings``, ...)."""
    cat = catalogue or build_catalogue(schema.Settings(), set(), set(), set())
    model, pattern = KINDS[kind]
    out = model.model_json_schema(by_alias=True)
    defs = out.pop("$defs", {})
    for name, body in [(out.get("title", model.__name__), out), *defs.items()]:
        props = body.get("properties", {})
        for prop_name in list(props):
            props[prop_name] = _decorate(name, prop_name, props[prop_name])
        body.pop("title", None)
    defs.update(_condition_defs(cat))
    defs["event_name"] = {
        "type": "string",
        "enum": sorted(cat.events),
        "description": "a known event, or one declared in settings.yaml custom_events",
    }
    out["$defs"] = defs
    if kind == "campaign":  # recurring (schedule) or a broadcast (at): exactly one of them
        out["oneOf"] = [{"required": ["schedule"]}, {"required": ["at"]}]
    return {
        "$schema": DRAFT,
        "$id": f"https://nudge.dev/schema/{kind}.schema.json",
        "title": f"nudge {pattern}",
        "description": (model.__doc__ or "").strip() + " (docs/config.md)",
        **out,
    }


def catalogue_for(config_dir: str | Path | None) -> Catalogue:
    """The catalogue of a config directory (its custom events, segments...), or the defaults."""
    from nudge.config.load import read_config

    if config_dir is None or not Path(config_dir).is_dir():
        return build_catalogue(schema.Settings(), set(), set(), set())
    raw = read_config(config_dir)
    return build_catalogue(raw.settings, set(raw.segments.segments), set(), set())


def write_schemas(out_dir: str | Path, config_dir: str | Path | None = None) -> list[Path]:
    """Write ``<kind>.schema.json`` for every file kind into ``out_dir``; returns the paths."""
    target = Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    cat = catalogue_for(config_dir)
    written = []
    for kind in KINDS:
        path = target / f"{kind}.schema.json"
        path.write_text(json.dumps(kind_schema(kind, cat), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def config_schema(config_dir: str | Path | None = None) -> dict[str, Any]:
    """Every kind's schema in one standard document, under ``$defs`` (``nudge schema``)."""
    cat = catalogue_for(config_dir)
    return {
        "$schema": DRAFT,
        "$id": "https://nudge.dev/schema/config.schema.json",
        "title": "nudge config",
        "description": "The schema of each config file kind under $defs; `nudge schema --out DIR` "
        "writes them as separate files for editors (docs/config.md).",
        "$defs": {kind: kind_schema(kind, cat) for kind in KINDS},
    }
