"""``nudge broadcast test|cancel``: a proof of a broadcast to its ``test_to`` addresses before it
goes out, and stopping one while it runs (docs/config.md, "Broadcasts").

A proof renders each variant as a customer named "Test" would see it (content blocks for such a
customer, no event), subject prefixed ``[Proof]``, and sends it through the same providers; it
writes nothing to the table and is not a message of any customer. Cancelling records the cancel
(``store.cancel_broadcast``) and deletes the broadcast's schedule if it has not fired: its run
queues no more, and its messages still waiting are ``suppressed`` / ``inactive`` with
``broadcast_cancelled`` when they come due.
"""

from __future__ import annotations

from typing import Any

from nudge.aws import store
from nudge.aws.providers import build_email, send_email, send_sms
from nudge.core.clock import iso
from nudge.core.clock import now as clock_now
from nudge.core.rules import Ctx
from nudge.core.templates import template_context
from nudge.flows.campaign import PREFIX
from nudge.flows.common import current_config
from nudge.flows.dispatch import render_parts

PROOF_URL = "https://example.invalid/unsubscribe-proof"  # a proof's link unsubscribes nobody


class NotABroadcast(ValueError):
    """The id names no campaign with ``at:`` in the config."""


def _broadcast(campaign_id: str) -> Any:
    config = current_config()
    campaign = config.campaigns.get(campaign_id)
    if campaign is None or campaign.model.at is None:
        known = sorted(c for c, v in config.campaigns.items() if v.model.at is not None)
        raise NotABroadcast(
            f"{campaign_id!r} is not a broadcast (a campaign with at:); broadcasts: "
            f"{', '.join(known) or 'none'}"
        )
    return campaign


def send_proof(campaign_id: str) -> list[dict[str, str]]:
    """Send every variant of the broadcast to each ``test_to`` address; what went where."""
    from nudge.config.compiled import evaluate_content

    config = current_config()
    campaign = _broadcast(campaign_id)
    sender = config.settings.sender
    now = clock_now()
    sent: list[dict[str, str]] = []
    for address in campaign.model.test_to:
        channel = "sms" if address.startswith("+") else "email"
        view = {"customer_id": "proof", "traits": {"first_name": "Test"}, "consent": {}}
        view["phone" if channel == "sms" else "email"] = address
        blocks = evaluate_content(config, Ctx(view, (), now.timestamp()))
        context = template_context(view, None, blocks, PROOF_URL)
        for number, variant in enumerate(campaign.variants):
            content = variant.email if channel == "email" else variant.sms
            if content is None:
                continue
            subject, html, text = render_parts(content, channel, context)
            if channel == "email":
                headers = {"X-Nudge-Proof": f"{campaign_id} variant {number}"}
                raw = build_email(
                    sender.email or "", address, f"[Proof] {subject or ''}", html, text, headers
                )
                provider_id = send_email(sender.email or "", address, raw)
            else:
                provider_id = send_sms(sender.sms, address, f"[Proof] {text or ''}")
            sent.append(
                {"to": address, "channel": channel, "variant": str(number), "id": provider_id}
            )
    return sent


def cancel(campaign_id: str) -> dict[str, Any]:
    """Stop the broadcast: no run if it has not started, no more messages if it has."""
    _broadcast(campaign_id)
    from nudge.aws import scheduler

    at = iso(clock_now())
    store.cancel_broadcast(campaign_id, at)
    name = f"{PREFIX}{campaign_id}"[:64]
    unscheduled = name in scheduler.cron_names(PREFIX)
    if unscheduled:
        scheduler.delete_cron(name)
    return {"campaign": campaign_id, "cancelled_at": at, "schedule_deleted": unscheduled}
