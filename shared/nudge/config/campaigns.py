"""Campaign compilation (CONTRACT §3 campaigns/*.yaml): audience and variants as checks."""

from __future__ import annotations

from typing import Any


def compile_campaigns(compiler: Any, config: Any) -> None:
    """Check campaigns and attach them to ``config.campaigns`` (filled in by the campaign issue)."""
    for campaign, src in compiler.raw.campaigns:
        if campaign.id in config.campaigns or campaign.id in config.triggers:
            compiler.fail(src, ("id",), f"id {campaign.id!r} is used by another file too")
            continue
        compiler.check_tiers(src, ("audience",), campaign.audience)
        audience = compiler.who(src, ("audience",), campaign.audience)
        variants = []
        for i, variant in enumerate(campaign.variants):
            compiler.check_tiers(src, ("variants", i, "who"), variant.who)
            variants.append(
                (
                    compiler.who(src, ("variants", i, "who"), variant.who),
                    compiler.content(src, ("variants", i, "email"), variant.email, "email"),
                    compiler.content(src, ("variants", i, "sms"), variant.sms, "sms"),
                )
            )
        config.campaigns[campaign.id] = {
            "model": campaign,
            "audience": audience,
            "variants": variants,
        }
