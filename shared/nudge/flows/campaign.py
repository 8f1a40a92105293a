"""Campaign function: a campaign's cron fired -> audience -> first matching variant -> outbox.

Messages go through the same outbox and dispatch as triggers, so consent, caps, quiet hours (in
each customer's time zone), holdouts and the decision log apply exactly the same way. A run is
idempotent: message ids derive from (customer, campaign, run), and an outbox item that already
exists is never written twice, so a retried or resumed run sends nothing twice.

Deploys keep one EventBridge Scheduler cron per campaign (``sync_schedules``), called by the
CloudFormation custom resource in template.yaml whenever the config layer changes.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from nudge.aws import scheduler, store
from nudge.core.broadcast import due_at, run_start, throttle_delay
from nudge.core.clock import now as clock_now
from nudge.core.decide import SUPPRESS, audience_detail, audience_ok, decision, deliver
from nudge.core.decisions import Plan
from nudge.core.delivery import customer_zone
from nudge.core.react import react, refresh_view
from nudge.core.rules import Ctx
from nudge.env import get_env
from nudge.flows.common import current_config, update_customer

log = logging.getLogger("nudge.campaign")
PREFIX = "nudge-campaign-"


def run_key(campaign_id: str, now: datetime, zone: ZoneInfo, at: str | None = None) -> str:
    """One run per campaign per local day (a broadcast: its one run): the idempotency key of
    its messages."""
    if at is not None:
        return f"{campaign_id}@{at}"
    return f"{campaign_id}@{now.astimezone(zone).date().isoformat()}"


def _change(campaign: Any, config: Any, key: str, envelope: dict[str, Any], queued: int = 0) -> Any:
    """The read-modify-write step of one customer in a campaign run (``queued``: messages this
    run queued before, for a broadcast's throttle)."""

    def change(profile: dict[str, Any], when: datetime) -> Plan | None:
        plan = react(profile, config, when, cause=key)  # time may have moved segments and tiers
        view = refresh_view(profile, config, when)
        variant = campaign.pick(Ctx(view, view.get("history") or (), when.timestamp()))
        if variant is None:
            return plan if plan else None
        detail = {**envelope["detail"], "customer_id": profile["customer_id"]}
        env = {**envelope, "detail": detail}
        if not audience_ok(variant, view, when.timestamp()):
            detail = audience_detail(variant, view, when.timestamp())
            plan.decisions.append(
                decision(
                    profile["customer_id"],
                    campaign.id,
                    when,
                    SUPPRESS,
                    "audience",
                    env,
                    detail=detail,
                )
            )
            return plan
        model = campaign.model
        send_at = None
        if model.at is not None:  # a broadcast: at its time (in the customer's zone), paced
            settings = config.settings
            zone = customer_zone(view, settings.timezone)
            due = due_at(model.at, settings.timezone, model.send_in_local_time, zone, when)
            send_at = due + throttle_delay(queued, model.throttle)
        deliver(profile, view, variant, env, config, when, plan, key, send_at=send_at)
        return plan

    return change


def run_campaign(
    campaign_id: str, start_key: dict[str, Any] | None = None, budget: int | None = None
) -> dict[str, Any]:
    """Select the audience and queue one message per customer; returns counts (and where to
    resume if ``budget`` profiles were handled before the end)."""
    config = current_config()
    campaign = config.campaigns.get(campaign_id)
    if campaign is None or not campaign.model.enabled:
        return {"campaign": campaign_id, "skipped": "not in config or disabled"}
    now = clock_now()
    key = run_key(campaign_id, now, ZoneInfo(config.settings.timezone), campaign.model.at)
    envelope = {
        "id": key,
        "source": "nudge",
        "detail-type": "campaign",
        "time": now.isoformat(),
        "detail": {"customer_id": "", "event_id": key},
    }
    counts = {"queued": 0, "suppressed": 0, "not_in_audience": 0}
    handled = 0
    last_key = start_key
    broadcast = campaign.model.at is not None
    while True:
        if broadcast and store.broadcast_cancelled(campaign_id):
            return {"campaign": campaign_id, "run": key, "cancelled": True, **counts}
        items, last_key = store.scan_profiles(0, 1, last_key)
        for item in items:
            customer_id = item["customer_id"]
            change = _change(campaign, config, key, envelope, counts["queued"])
            plan = update_customer(customer_id, change)
            if plan is None or not (plan.messages or plan.decisions):
                counts["not_in_audience"] += 1
            elif plan.messages:
                counts["queued"] += 1
            else:
                counts["suppressed"] += 1
            handled += 1
        if last_key is None:
            return {"campaign": campaign_id, "run": key, **counts}
        if budget is not None and handled >= budget:
            return {"campaign": campaign_id, "run": key, "resume": last_key, **counts}


DAILY = "nudge-daily-recompute"
DAILY_CRON = "cron(0 3 * * ? *)"  # 03:00 in the shop's time zone


def sync_schedules(function_arn: str | None = None, daily: bool = True) -> list[str]:
    """Make the Scheduler crons match the config: one per enabled campaign (created, updated,
    deleted) and, with ``daily``, the daily recompute's, in ``settings.timezone`` (so the two
    can never disagree). Returns the campaign schedule names."""
    env = get_env()
    config = current_config()
    zone = config.settings.timezone
    wanted = {f"{PREFIX}{c.id}"[:64]: c for c in config.campaigns.values() if c.model.enabled}
    existing = scheduler.cron_names(PREFIX)
    for name in existing - set(wanted):
        scheduler.delete_cron(name)
    if daily:
        scheduler.put_cron(
            scheduler.Cron(DAILY, DAILY_CRON, zone, env.score_function_arn, {"kind": "daily"}),
            dead_letters=env.wake_dlq_arn,
        )
    for name, campaign in wanted.items():
        target = function_arn or env.campaign_function_arn
        payload = {"kind": "campaign", "campaign": campaign.id}
        model = campaign.model
        if model.at is not None:  # a broadcast: one run, at its start, if still ahead
            start = run_start(model.at, zone, model.send_in_local_time)
            if start <= clock_now():
                if name in existing:
                    scheduler.delete_cron(name)
                continue
            expression, tz = f"at({start.strftime('%Y-%m-%dT%H:%M:%S')})", "UTC"
        else:
            expression, tz = str(model.schedule), zone
        scheduler.put_cron(
            scheduler.Cron(name, expression, tz, target, payload), exists=name in existing
        )
    return sorted(wanted)


def _cfn_respond(event: dict[str, Any], status: str, reason: str = "") -> None:
    """Answer a CloudFormation custom resource request (the deploy waits for it)."""
    import urllib.request

    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:500] or "see CloudWatch logs",
            "PhysicalResourceId": "nudge-campaign-schedules",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    urllib.request.urlopen(request, timeout=10).close()  # CloudFormation's pre-signed URL


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: a campaign cron (``{"kind": "campaign", ...}``) or the deploy's sync."""
    if "RequestType" in event:  # CloudFormation custom resource: keep schedules = config
        try:
            names = [] if event["RequestType"] == "Delete" else sync_schedules(daily=True)
            _cfn_respond(event, "SUCCESS", f"{len(names)} campaign schedule(s)")
        except Exception as exc:  # the deploy must hear about any failure
            log.exception("campaign schedule sync failed")
            _cfn_respond(event, "FAILED", str(exc))
        return {}
    if event.get("kind") != "campaign" or not event.get("campaign"):
        return {"error": 'expected {"kind": "campaign", "campaign": ID}'}
    return run_campaign(str(event["campaign"]), event.get("resume"))
