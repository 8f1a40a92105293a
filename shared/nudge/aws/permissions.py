"""The AWS actions each function performs, and on which resource: the source of truth for the
``Policies`` of every function in template.yaml.

tests/integration/test_iam.py records every AWS call each real handler makes (sample day, every
sample event, a consent-based segment, erasure, direct sends, on moto) and checks both ways:
every action performed is listed here for that function, and every action listed here is
either performed or named in ``NOT_EXERCISED`` with why the test cannot reach it; and that
template.yaml grants exactly this, on these resources. Change the code's AWS calls, change this
map and the template with it.

Resources are template names: a logical id (``Table``, ``NudgeBus``, ...), ``WaitScheduleGroup/*``
(the schedules in that group), ``SenderEmail`` / ``SenderDomain`` (the SES identities),
``function/<name>``, or ``*`` (only SMS to phone numbers, which have no ARN).
"""

from __future__ import annotations

TABLE = ("Table",)
SCHEDULES = ("WaitScheduleGroup/*",)
SES = ("SenderEmail", "SenderDomain", "SesConfigurationSet", "SesTransactionalConfigurationSet")

# What every function that writes a customer through ``nudge.flows.common.write_customer``
# may do, depending on the shop's rules: read the profile with its history segments (one Query)
# and write it (and its decisions, outbox items and segments, by transaction or put after it,
# and delete segments it no longer holds), check the customer is not erased when the
# profile is new (a condition check in a transaction, or a read and a delete after a put),
# schedule a wait or a send (passing the scheduler role), cancel a wait, and announce segment,
# tier and message events on the bus.
CUSTOMER_WRITE: dict[str, tuple[str, ...]] = {
    "dynamodb:GetItem": TABLE,
    "dynamodb:Query": TABLE,
    "dynamodb:PutItem": TABLE,
    "dynamodb:ConditionCheckItem": TABLE,
    # the announcement item once its events are on the bus; a new profile that met a tombstone
    "dynamodb:DeleteItem": TABLE,
    "scheduler:CreateSchedule": SCHEDULES,
    "scheduler:DeleteSchedule": SCHEDULES,
    "iam:PassRole": ("SchedulerRole",),
    "events:PutEvents": ("NudgeBus",),
}

# Sending a message (dispatch; wake sends what was scheduled): claim and finish the outbox item
# (UpdateItem), read the customer's outbox (Query), sign the unsubscribe link, call SES or SNS.
SEND: dict[str, tuple[str, ...]] = {
    **CUSTOMER_WRITE,
    "dynamodb:UpdateItem": TABLE,
    "dynamodb:Query": TABLE,
    "dynamodb:BatchGetItem": TABLE,  # the products' recommendations.bought_together lists
    # the unsubscribe link's key, and the webhook signature's (channel: webhook)
    "secretsmanager:GetSecretValue": ("UnsubscribeSecret", "WebhookSecret"),
    # SES v2 SendEmail of a raw MIME message is authorised as SendRawEmail too
    "ses:SendEmail": SES,
    "ses:SendRawEmail": SES,
    # SMS go to phone numbers, which have no ARN: the only "*" in the template
    "sns:Publish": ("*",),
}

PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "ingest": {
        **CUSTOMER_WRITE,
        "dynamodb:UpdateItem": TABLE,  # partner source counters
        "dynamodb:DeleteItem": TABLE,  # the tombstone of an erased customer who opts in again
        "dynamodb:Query": TABLE,  # the profile; a product's watchers (catalog events)
        "sqs:SendMessage": ("IngestDLQ",),  # malformed events parked with their reason
    },
    "dispatch": SEND,
    "wake": SEND,
    "feedback": CUSTOMER_WRITE,
    "campaign": {
        **CUSTOMER_WRITE,
        "dynamodb:Scan": TABLE,  # the audience
        "dynamodb:BatchGetItem": TABLE,  # the history segments of the profiles scanned
        "scheduler:UpdateSchedule": SCHEDULES,  # the deploy's cron sync
        "scheduler:ListSchedules": ("WaitScheduleGroup/*", "WaitScheduleGroup"),
    },
    "score": {
        **CUSTOMER_WRITE,
        "dynamodb:Scan": TABLE,  # the parallel scan
        "dynamodb:UpdateItem": TABLE,  # the run's checkpoint and lease
        "dynamodb:Query": TABLE,  # the run's chunks
        "dynamodb:DescribeTable": TABLE,  # the item count that sizes the scan
        # bought together: what the catalog knows of products; the scanned profiles' segments
        "dynamodb:BatchGetItem": TABLE,
        "dynamodb:BatchWriteItem": TABLE,  # bought together: one list per product
        "lambda:InvokeFunction": ("function/score",),  # a run carried on by a new invocation
    },
    "api": {
        "dynamodb:GetItem": TABLE,
        "dynamodb:Query": TABLE,  # export and erase read the customer's partition
        "dynamodb:PutItem": TABLE,  # the erasure tombstone
        "dynamodb:BatchWriteItem": TABLE,  # erase deletes the customer's items
        "scheduler:DeleteSchedule": SCHEDULES,  # erase cancels the customer's waits and sends
    },
    "unsubscribe": {
        **CUSTOMER_WRITE,
        "secretsmanager:GetSecretValue": ("UnsubscribeSecret",),
    },
    # finishes what a crashed run left in flight: sends as dispatch does, and republishes
    # announcements (then deletes their items); finds both through the sparse inflight index
    "sweeper": {
        **SEND,
        "dynamodb:DeleteItem": TABLE,
        "dynamodb:Query": ("Table", "Table/index/inflight"),
    },
}

# The roles AWS services assume for nudge (not functions): role -> action -> resources, as
# template.yaml grants them (tests/integration/test_iam.py checks it). WebhookRule posts webhook
# messages through its API destination, and nothing else.
ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    "WebhookRuleRole": {"events:InvokeApiDestination": ("WebhookDestination",)},
}

_CANCEL = (
    "a wait cancelled by this function's own change (a trigger's cancel_if met by a sent "
    "message, an engagement or a segment change): the test's rules cancel on storefront events"
)
_RACE = "the customer erased between reading and writing the profile (a race not staged)"
_TOGETHER = (
    "a template showing recommendations.bought_together, with "
    "settings.recommendations.bought_together (the sample config has none; "
    "tests/scenarios/test_bought_together.py stages it)"
)
_CREATES = (
    "a profile created in a transaction (with an outbox message or an announcement) checks "
    "the tombstone in it; the test creates none that way here (a plain write reads it)"
)

# Granted, reachable in the code, and not reached by the test's scenarios: why.
NOT_EXERCISED: dict[str, dict[str, str]] = {
    "dispatch": {
        "scheduler:DeleteSchedule": _CANCEL,
        "dynamodb:BatchGetItem": _TOGETHER,
        "dynamodb:GetItem": "dispatch reads the profile with the outbox (one Query); it reads an "
        "item only to check what a write that crashed left to put, or a tombstone after a put",
    },
    # a wait that ends is not unscheduled (its schedule deleted itself); only a wake whose
    # re-check cancels or restarts another wait of the customer deletes a schedule
    "wake": {"scheduler:DeleteSchedule": _CANCEL, "dynamodb:BatchGetItem": _TOGETHER},
    "feedback": {
        "scheduler:DeleteSchedule": _CANCEL,
        "dynamodb:ConditionCheckItem": _CREATES,
    },
    "campaign": {
        "scheduler:DeleteSchedule": _CANCEL,
        "dynamodb:ConditionCheckItem": _RACE,
    },
    "score": {
        "scheduler:DeleteSchedule": _CANCEL,
        "dynamodb:ConditionCheckItem": _RACE,
        "scheduler:CreateSchedule": "a trigger that waits on a time-driven segment or tier change",
        "iam:PassRole": "(with scheduler:CreateSchedule)",
        "lambda:InvokeFunction": "a run that outlives one invocation hands over to the next",
        "dynamodb:BatchWriteItem": _TOGETHER,
    },
    "unsubscribe": {
        "scheduler:DeleteSchedule": _CANCEL,
        "dynamodb:ConditionCheckItem": _CREATES,
    },
    "sweeper": {
        action: "finishing a message or announcement a crashed run left in flight: staged by "
        "tests/integration/test_fault_injection.py, not here"
        for action in {**SEND, "dynamodb:DeleteItem": TABLE}
        if action != "dynamodb:Query"
    },
}
