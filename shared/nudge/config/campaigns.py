"""Campaign compilation (CONTRACT §3 campaigns/*.yaml).

Each variant becomes a ``CompiledTrigger`` of kind ``campaign`` whose audience is the campaign's
audience and the variant's ``who``, so dispatch applies consent, caps, quiet hours, holdouts and
the decision log to campaigns exactly as to triggers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nudge.cron import Cron, parse_cron
from nudge.durations import seconds
from nudge.rules import Check, Ctx, all_of

if TYPE_CHECKING:
    from nudge.config.compiled import CompiledConfig, CompiledTrigger
    from nudge.config.schema import Campaign


@dataclass
class CompiledCampaign:
    """A campaign ready for the campaign function."""

    id: str
    model: Campaign
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


def compile_campaigns(compiler: Any, config: CompiledConfig) -> None:
    """Check campaigns and attach them to ``config.campaigns``."""
    from nudge.config.compiled import CompiledTrigger

    for campaign, src in compiler.raw.campaigns:
        if campaign.id in config.campaigns or campaign.id in config.triggers:
            compiler.fail(src, ("id",), f"id {campaign.id!r} is used by another file too")
            continue
        cron = None
        try:
            cron = parse_cron(campaign.schedule)
        except ValueError as exc:
            compiler.fail(src, ("schedule",), str(exc))
        compiler.check_tiers(src, ("audience",), campaign.audience)
        audience = compiler.who(src, ("audience",), campaign.audience)
        variants: list[CompiledTrigger] = []
        for i, variant in enumerate(campaign.variants):
            path = ("variants", i)
            compiler.check_tiers(src, (*path, "who"), variant.who)
            email = compiler.content(src, (*path, "email"), variant.email, "email")
            sms = compiler.content(src, (*path, "sms"), variant.sms, "sms")
            if email is None and sms is None:
                compiler.fail(src, path, "a variant needs an email: or sms: block")
            channel = variant.channel or ("email" if email else "sms")
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
                    kind="campaign",
                    channel=channel,
                    variant=i,
                )
            )
        config.campaigns[campaign.id] = CompiledCampaign(
            campaign.id, campaign, cron, audience, variants
        )
