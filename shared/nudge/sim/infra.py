"""Create nudge's AWS resources in moto from ``template.yaml`` (not copied by hand)."""

from __future__ import annotations

import copy
import functools
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from nudge.aws import clients as aws
from nudge.env import reset_env

# the simulated deployment: its account, region and the environment its functions see
ACCOUNT = "123456789012"
REGION = "us-east-1"
ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "MOTO_ALLOW_NONEXISTENT_REGION": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "nudge",
    "POWERTOOLS_SERVICE_NAME": "nudge-sim",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "NUDGE_TABLE": "nudge-sim",
    "NUDGE_BUS_NAME": "nudge-sim",
    "NUDGE_SCHEDULER_GROUP": "nudge-sim",
    "NUDGE_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/nudge-scheduler",
    "NUDGE_WAKE_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nudge-wake",
    # set by create_resources to the secret it creates (a random key per simulation)
    "NUDGE_UNSUBSCRIBE_SECRET_ARN": "",
    "NUDGE_WEBHOOK_SECRET_ARN": "",  # likewise, the webhook signing secret
    "NUDGE_CAMPAIGN_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nudge-campaign",
    "NUDGE_SCORE_FUNCTION_ARN": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:nudge-score",
}

# Used only when no template.yaml can be found (nudge installed without the repo);
# tests check that these match the template.
DEFAULT_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}
DEFAULT_PATTERN: dict[str, Any] = {"source": [{"anything-but": ["nudge"]}]}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"Fn::{suffix}" if suffix != "Ref" else "Ref": value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path) -> dict[str, Any]:
    """The SAM template as plain data (parsed once per content: every simulation reads it)."""
    text = path.read_text()
    return copy.deepcopy(_parse(text))


@functools.lru_cache(maxsize=4)
def _parse(text: str) -> dict[str, Any]:
    return dict(yaml.load(text, Loader=CfnLoader))


def find_template(*starts: Path) -> Path | None:
    """``template.yaml`` in one of ``starts`` or their parents."""
    for start in starts:
        for folder in [start.resolve(), *start.resolve().parents]:
            candidate = folder / "template.yaml"
            if candidate.is_file():
                return candidate
    return None


def read_template(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(table properties, ingest rule event pattern) from the SAM template."""
    if path is None:
        return DEFAULT_TABLE, DEFAULT_PATTERN
    doc = load_template(path)
    resources = doc.get("Resources", {})
    table = next(
        (r["Properties"] for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"),
        None,
    )
    pattern = next(
        (
            r["Properties"]["EventPattern"]
            for name, r in resources.items()
            if r.get("Type") == "AWS::Events::Rule"
            and "EventPattern" in r.get("Properties", {})
            and name != "WebhookRule"  # nudge's own webhook events, not the ingest rule
        ),
        None,
    )
    return table or DEFAULT_TABLE, pattern or DEFAULT_PATTERN


# the dispatch function's stream filter when there is no template (as template.yaml has it)
DEFAULT_DISPATCH_FILTERS = [
    '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["outbox"]}, '
    '"scheduled": {"S": [{"exists": false}]}}}}'
]


def dispatch_filters(path: Path | None) -> list[str]:
    """The stream filter patterns of the function fed by the table's stream (``DispatchFunction``:
    its ``DynamoDB`` event's ``FilterCriteria``), as JSON strings."""
    if path is None:
        return list(DEFAULT_DISPATCH_FILTERS)
    doc = load_template(path)
    for resource in doc.get("Resources", {}).values():
        for source in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if source.get("Type") == "DynamoDB":
                filters = (source["Properties"].get("FilterCriteria") or {}).get("Filters") or []
                return [str(f["Pattern"]) for f in filters]
    return list(DEFAULT_DISPATCH_FILTERS)


def create_table(ddb: Any, name: str, props: dict[str, Any]) -> str:
    """Create the table as the template declares it; returns its stream ARN."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    stream = props.get("StreamSpecification") or {}
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream.get("StreamViewType", "NEW_IMAGE"),
        }
    gsis = props.get("GlobalSecondaryIndexes")
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in g.items() if k in ("IndexName", "KeySchema", "Projection")}
            for g in gsis
        ]
    out = ddb.create_table(**kwargs)
    return str(out["TableDescription"].get("LatestStreamArn", ""))


def pattern_json(pattern: dict[str, Any]) -> str:
    """The event pattern as EventBridge wants it."""
    return json.dumps(pattern)


@dataclass(frozen=True)
class RetryTiming:
    """How the deployed stack retries what failed (``template.yaml``): the ingest queue's
    visibility timeout and ``maxReceiveCount``, the dispatch stream mapping's
    ``MaximumRetryAttempts``, Lambda's asynchronous retries (``EventInvokeConfig``: about 1, then
    2 minutes after a failure) and the sweeper's rate."""

    visibility_timeout: timedelta = timedelta(seconds=190)
    max_receives: int = 5
    stream_retries: int = 5
    async_retry_delays: tuple[timedelta, ...] = (timedelta(minutes=1), timedelta(minutes=2))
    sweep_every: timedelta = timedelta(minutes=5)


def retry_timing(path: Path | None) -> RetryTiming:
    """The retry timing ``template.yaml`` declares (the defaults above without one)."""
    if path is None:
        return RetryTiming()
    resources = load_template(path).get("Resources", {})
    queue = (resources.get("IngestQueue") or {}).get("Properties") or {}
    dispatch = (resources.get("DispatchFunction") or {}).get("Properties") or {}
    stream: dict[str, Any] = next(
        (
            e["Properties"]
            for e in (dispatch.get("Events") or {}).values()
            if e.get("Type") == "DynamoDB"
        ),
        {},
    )
    wake = ((resources.get("WakeFunction") or {}).get("Properties") or {}).get(
        "EventInvokeConfig"
    ) or {}
    sweeper = (resources.get("SweeperFunction") or {}).get("Properties") or {}
    rate = next(
        (
            str(e["Properties"].get("Schedule", ""))
            for e in (sweeper.get("Events") or {}).values()
            if e.get("Type") == "Schedule"
        ),
        "",
    )
    default = RetryTiming()
    delays = (timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=2))
    return RetryTiming(
        visibility_timeout=timedelta(
            seconds=int(queue.get("VisibilityTimeout", default.visibility_timeout.seconds))
        ),
        max_receives=int((queue.get("RedrivePolicy") or {}).get("maxReceiveCount", 5)),
        stream_retries=int(stream.get("MaximumRetryAttempts", default.stream_retries)),
        async_retry_delays=delays[: int(wake.get("MaximumRetryAttempts", 2))],
        sweep_every=_rate(rate) or default.sweep_every,
    )


def _rate(expression: str) -> timedelta | None:
    """``rate(5 minutes)`` as a timedelta (None for anything else)."""
    if not expression.startswith("rate(") or not expression.endswith(")"):
        return None
    amount, unit = expression[5:-1].split()
    seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600}.get(unit)
    return timedelta(seconds=int(amount) * seconds) if seconds else None


# the dead-letter queues of the functions, as the simulator names them (ingest's is NUDGE_DLQ_URL)
FUNCTION_DLQS = {
    "dispatch": "nudge-dispatch-dlq",
    "wake": "nudge-wake-dlq",
    "campaign": "nudge-wake-dlq",  # as deployed: campaign failures share WakeDLQ
    "score": "nudge-score-dlq",
    "feedback": "nudge-feedback-dlq",
    "sweeper": "nudge-sweeper-dlq",
}


WEBHOOK_PATTERN: dict[str, Any] = {"source": ["nudge"], "detail-type": ["webhook"]}


def webhook_policy(path: Path | None) -> tuple[dict[str, Any], Any]:
    """(event pattern, ``WebhookPolicy``) of ``WebhookRule`` in template.yaml: what the
    simulator matches and how it retries (the defaults without a template)."""
    from nudge.sim.webhooks import WebhookPolicy

    if path is None:
        return WEBHOOK_PATTERN, WebhookPolicy()
    rule = (load_template(path).get("Resources", {}).get("WebhookRule") or {}).get(
        "Properties"
    ) or {}
    target = (rule.get("Targets") or [{}])[0]
    retry = target.get("RetryPolicy") or {}
    default = WebhookPolicy()
    http = (target.get("HttpParameters") or {}).get("HeaderParameters")
    policy = WebhookPolicy(
        max_retries=int(retry.get("MaximumRetryAttempts", default.max_retries)),
        max_age=timedelta(
            seconds=int(retry.get("MaximumEventAgeInSeconds", default.max_age.total_seconds()))
        ),
        headers={str(k): str(v) for k, v in http.items()} if http else default.headers,
        input_path=str(target.get("InputPath") or default.input_path),
    )
    pattern = rule.get("EventPattern") or WEBHOOK_PATTERN
    # the deployed rule matches one endpoint (a template parameter); the simulator posts every
    # endpoint in settings.webhooks, so it matches on source and detail-type only
    return {k: v for k, v in pattern.items() if k in ("source", "detail-type")}, policy


@dataclass(frozen=True)
class Deployment:
    """What :func:`create_resources` made: where the simulator feeds and reads."""

    stream_arn: str
    queue_url: str
    dlq_url: str
    stream_filters: list[Any]  # dispatch's FilterCriteria, as moto's EventPattern
    timing: RetryTiming = field(default_factory=RetryTiming)
    dlqs: dict[str, str] = field(default_factory=dict)  # function -> its DLQ's URL
    webhook_queue_url: str = ""  # webhook events the bus matched, for the simulator to post
    webhook_dlq_url: str = ""  # WebhookDLQ: webhook messages not delivered, with the reason
    webhook_policy: Any = None  # nudge.sim.webhooks.WebhookPolicy


def create_unsubscribe_secret(value: str | None = None) -> str:
    """The unsubscribe signing secret, as the deploy generates it (random unless ``value`` is
    given); sets ``NUDGE_UNSUBSCRIBE_SECRET_ARN`` and returns the ARN."""
    from nudge.aws.secrets import forget_keys

    arn = aws.client("secretsmanager").create_secret(
        Name="nudge-sim-unsubscribe", SecretString=value or secrets.token_urlsafe(48)
    )["ARN"]
    os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"] = str(arn)
    reset_env()
    forget_keys()
    return str(arn)


def create_webhook_secret(value: str | None = None) -> str:
    """The webhook signing secret, as the deploy generates it (32 random bytes, base64, unless
    ``value`` is given); sets ``NUDGE_WEBHOOK_SECRET_ARN`` and returns the ARN."""
    import base64

    from nudge.aws.secrets import forget_keys

    secret = value or base64.b64encode(secrets.token_bytes(32)).decode()
    arn = aws.client("secretsmanager").create_secret(Name="nudge-sim-webhook", SecretString=secret)[
        "ARN"
    ]
    os.environ["NUDGE_WEBHOOK_SECRET_ARN"] = str(arn)
    reset_env()
    forget_keys()
    return str(arn)


def create_resources(config_dir: Path, daily: bool, sender: str | None) -> Deployment:
    """Create the deployment in moto as ``template.yaml`` declares it (table and stream, ingest
    queue and DLQ, bus and rule, scheduler group and the deploy's crons, the unsubscribe secret,
    the verified sender); sets ``NUDGE_DLQ_URL`` and ``NUDGE_UNSUBSCRIBE_SECRET_ARN``. ``daily`` adds the daily recompute's cron."""
    template = find_template(config_dir, Path.cwd())
    table_props, pattern = read_template(template)
    from moto.events.models import EventPattern

    # the dispatch event source mapping's filter, matched as Lambda does (same pattern rules)
    stream_filters = [EventPattern.load(p) for p in dispatch_filters(template)]
    stream_arn = create_table(aws.client("dynamodb"), ENV["NUDGE_TABLE"], table_props)
    sqs = aws.client("sqs")
    dlq_url = sqs.create_queue(QueueName="nudge-ingest-dlq")["QueueUrl"]
    queue_url = sqs.create_queue(QueueName="nudge-ingest")["QueueUrl"]
    dlqs = {
        function: sqs.create_queue(QueueName=name)["QueueUrl"]
        for function, name in FUNCTION_DLQS.items()
    }
    os.environ["NUDGE_DLQ_URL"] = dlq_url
    reset_env()
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = aws.client("events")
    events.create_event_bus(Name=ENV["NUDGE_BUS_NAME"])
    events.put_rule(
        Name="nudge-ingest",
        EventBusName=ENV["NUDGE_BUS_NAME"],
        EventPattern=pattern_json(pattern),
    )
    events.put_targets(
        Rule="nudge-ingest",
        EventBusName=ENV["NUDGE_BUS_NAME"],
        Targets=[{"Id": "ingest-queue", "Arn": queue_arn}],
    )
    aws.client("scheduler").create_schedule_group(Name=ENV["NUDGE_SCHEDULER_GROUP"])
    create_unsubscribe_secret()
    create_webhook_secret()
    # webhooks: the rule matching nudge's webhook events, to a queue the simulator posts from
    # (as the API destination target would), and the dead-letter queue
    webhook_pattern, policy = webhook_policy(template)
    webhook_queue = sqs.create_queue(QueueName="nudge-webhook-deliveries")["QueueUrl"]
    webhook_dlq = sqs.create_queue(QueueName="nudge-webhook-dlq")["QueueUrl"]
    webhook_arn = sqs.get_queue_attributes(QueueUrl=webhook_queue, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events.put_rule(
        Name="nudge-webhooks",
        EventBusName=ENV["NUDGE_BUS_NAME"],
        EventPattern=pattern_json(webhook_pattern),
    )
    events.put_targets(
        Rule="nudge-webhooks",
        EventBusName=ENV["NUDGE_BUS_NAME"],
        Targets=[{"Id": "webhook-destination", "Arn": webhook_arn}],
    )
    from nudge.flows.campaign import sync_schedules

    # as the deploy does: one cron per campaign, and the daily recompute's
    sync_schedules(daily=daily)
    if sender:
        address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
        aws.client("ses").verify_email_identity(EmailAddress=address)
        aws.client("sesv2").create_email_identity(EmailIdentity=address.split("@")[-1])
    timing = retry_timing(template)
    return Deployment(
        stream_arn,
        queue_url,
        dlq_url,
        stream_filters,
        timing,
        dlqs,
        webhook_queue,
        webhook_dlq,
        policy,
    )
