"""Campaign compilation (docs/config.md §9, campaigns/*.yaml).

Each variant becomes a ``CompiledTrigger`` of kind ``campaign`` whose audience is the campaign's
audience and the variant's ``who``, so dispatch applies consent, caps, quiet hours, holdouts and
the decision log to campaigns exactly as to triggers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nudge.config.targets import CompiledCampaign, CompiledTrigger
from nudge.core.cron import parse_cron
from nudge.core.durations import seconds
from nudge.core.rules import all_of


def compile_campaigns(
    compiler: Any, triggers: Mapping[str, CompiledTrigger]
) -> dict[str, CompiledCampaign]:
    """Check the campaigns (an id may not be a trigger's too); returns them by id."""
    campaigns: dict[str, CompiledCampaign] = {}
    for campaign, src in compiler.raw.campaigns:
        if campaign.id in campaigns or campaign.id in triggers:
            compiler.fail(src, ("id",), f"id {campaign.id!r} is used by another file too")
            continue
        cron = None
        try:
            cron = parse_cron(campaign.schedule) if campaign.schedule else None
        except ValueError as exc:
            compiler.fail(src, ("schedule",), str(exc))
        compiler.check_tiers(src, ("audience",), campaign.audience)
        audience = compiler.who(src, ("audience",), campaign.audience)
        variants: list[CompiledTrigger] = []
        for i, variant in enumerate(campaign.variants):
            path = ("variants", i)
            compiler.check_tiers(src, (*path, "who"), variant.who)
            firing = compiler.firing(f"{src.rel} (a campaign: no event)", None)
            email = compiler.content(src, (*path, "email"), variant.email, "email", firing)
            sms = compiler.content(src, (*path, "sms"), variant.sms, "sms", firing)
            webhook = compiler.webhook(src, (*path, "webhook"), variant.webhook, firing)
            if email is None and sms is None and webhook is None:
                compiler.fail(src, path, "a variant needs an email:, sms: or webhook: block")
            channel = variant.channel or ("email" if email else "sms" if sms else "webhook")
            if channel == "webhook" and webhook is None:
                compiler.fail(src, path, "channel: webhook needs a webhook: block")
            variants.append(
                CompiledTrigger(
                    id=campaign.id,
                    model=campaign,
                    where=lambda c: True,
                    count=None,
                    who=all_of([audience, compiler.who(src, (*path, "who"), variant.who)]),
                    cancel_if=[],
                    wait=None,
                    cooldown=None,
                    expires=seconds(campaign.expires) if campaign.expires else None,
                    email=email,
                    sms=sms,
                    webhook=webhook,
                    kind="campaign",
                    channel=channel,
                    variant=i,
                    why_not=compiler.why_not(campaign.audience, variant.who),
                )
            )
        campaigns[campaign.id] = CompiledCampaign(campaign.id, campaign, cron, audience, variants)
    return campaigns
