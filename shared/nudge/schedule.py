"""EventBridge Scheduler: one-time schedules that wake nudge up (waits, deferred sends)."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import datetime
from typing import Any

from nudge.aws import client
from nudge.clock import iso
from nudge.env import get_env


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
