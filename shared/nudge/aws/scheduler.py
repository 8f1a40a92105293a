"""EventBridge Scheduler: one-time schedules that wake nudge up (waits, messages due later)."""

from __future__ import annotations

import json
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nudge.aws.clients import client
from nudge.core.clock import iso, parse_time
from nudge.env import get_env

if TYPE_CHECKING:
    from nudge.core.decisions import Message


def schedule_name(kind: str, ident: str) -> str:
    """Deterministic name, so a retried create is a no-op instead of a second schedule."""
    return f"nudge-{kind}-{ident}"[:64]


def create_wake(kind: str, ident: str, at: datetime, payload: dict[str, Any]) -> str:
    """Create a one-time schedule that invokes the wake function with ``payload`` at ``at``."""
    env = get_env()
    name = schedule_name(kind, ident)
    target: dict[str, Any] = {
        "Arn": env.wake_function_arn,
        "RoleArn": env.scheduler_role_arn,
        "Input": json.dumps({"kind": kind, **payload}),
        "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 86400},
    }
    if env.wake_dlq_arn:
        target["DeadLetterConfig"] = {"Arn": env.wake_dlq_arn}
    sched = client("scheduler")
    with suppress(sched.exceptions.ConflictException):  # created by an earlier attempt
        sched.create_schedule(
            Name=name,
            GroupName=env.scheduler_group,
            ScheduleExpression=f"at({iso(at)[:-1]})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
            ActionAfterCompletion="DELETE",
        )
    return name


def delete_wake(kind: str, ident: str) -> None:
    """Delete a schedule if it is still there (a wake that finds nothing to do is harmless)."""
    sched = client("scheduler")
    with suppress(sched.exceptions.ResourceNotFoundException):
        sched.delete_schedule(Name=schedule_name(kind, ident), GroupName=get_env().scheduler_group)


def served_by_schedule(message: Message) -> bool:
    """Is a new outbox message sent by its own one-time schedule (it is due later: it waits
    out the arbitration window) rather than by the table stream (due at once)?"""
    return parse_time(message.send_at) > parse_time(message.created_at)


def wake_message(customer_id: str, message_id: str, at: datetime) -> str:
    """The one-time schedule that dispatches an outbox message at ``at``."""
    payload = {"customer_id": customer_id, "message_id": message_id}
    return create_wake("send", message_id, at, payload)


def schedule_messages(customer_id: str, messages: list[Message]) -> None:
    """Create the schedules of new outbox messages due later, before they are written (names
    are deterministic, so a retry does not duplicate them, and a schedule whose write never
    happened finds no message). Their items are marked ``scheduled``, so the stream's filter
    leaves them to the schedule: one dispatch per message, when it is due."""
    for message in messages:
        if served_by_schedule(message):
            wake_message(customer_id, message.message_id, parse_time(message.send_at))


@dataclass(frozen=True, slots=True)
class Cron:
    """A recurring schedule the deploy keeps in step with the config."""

    name: str
    expression: str  # cron(...) in EventBridge Scheduler syntax
    timezone: str
    target_arn: str
    payload: dict[str, Any]


def cron_names(prefix: str) -> set[str]:
    """Names of the crons in nudge's schedule group that start with ``prefix``."""
    sched = client("scheduler")
    pages = sched.get_paginator("list_schedules").paginate(
        GroupName=get_env().scheduler_group, NamePrefix=prefix
    )
    return {s["Name"] for page in pages for s in page.get("Schedules", [])}


def delete_cron(name: str) -> None:
    """Delete a cron that the config no longer asks for."""
    client("scheduler").delete_schedule(Name=name, GroupName=get_env().scheduler_group)


def put_cron(cron: Cron, *, exists: bool | None = None, dead_letters: str | None = None) -> None:
    """Create or update ``cron``; ``exists=None`` tries to create and updates on conflict.
    Failed deliveries are retried for up to 6 hours, then go to ``dead_letters`` if given."""
    env = get_env()
    sched = client("scheduler")
    kwargs: dict[str, Any] = {
        "Name": cron.name,
        "GroupName": env.scheduler_group,
        "ScheduleExpression": cron.expression,
        "ScheduleExpressionTimezone": cron.timezone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": cron.target_arn,
            "RoleArn": env.scheduler_role_arn,
            "Input": json.dumps(cron.payload),
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 21600},
            **({"DeadLetterConfig": {"Arn": dead_letters}} if dead_letters else {}),
        },
    }
    if exists:
        sched.update_schedule(**kwargs)
        return
    try:
        sched.create_schedule(**kwargs)
    except sched.exceptions.ConflictException:
        sched.update_schedule(**kwargs)
