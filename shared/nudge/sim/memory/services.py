"""SQS, EventBridge, EventBridge Scheduler, SES (v1 and v2), SNS and Lambda in memory: the
operations nudge calls, each with the AWS behaviour it models (docs/simulation.md). Time is the
simulated clock's (``nudge.core.clock.now``)."""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.parser import HeaderParser
from email.utils import formataddr, getaddresses, parseaddr
from functools import lru_cache
from typing import Any

from nudge.core.clock import now, parse_time
from nudge.sim.memory.errors import error, exceptions
from nudge.sim.patterns import matches

_random = random.Random()


def _id() -> str:
    """A random (version 4) UUID, as AWS's ids are, without a system call for each."""
    n = _random.getrandbits(122)
    return (
        f"{n >> 90:08x}-{(n >> 74) & 0xFFFF:04x}-4{(n >> 62) & 0xFFF:03x}-"
        f"{0x8000 | ((n >> 48) & 0x3FFF):04x}-{n & 0xFFFFFFFFFFFF:012x}"
    )


# -- SQS -----------------------------------------------------------------------------------------
@dataclass
class _Message:
    id: str
    body: str
    attributes: dict[str, Any]
    sent: datetime
    visible_at: datetime
    receives: int = 0
    receipt: str = ""


@dataclass
class _Queue:
    name: str
    url: str
    arn: str
    visibility: int = 30
    redrive: dict[str, Any] | None = None
    messages: list[_Message] = field(default_factory=list)


class MemorySQS:
    """SQS standard queues: a received message is hidden for the visibility timeout (the
    queue's, 30 s by default, or the receive's ``VisibilityTimeout``) and comes back if not
    deleted; with a ``RedrivePolicy`` a message received more than ``maxReceiveCount`` times
    moves to the dead-letter queue instead. Order is first-in first-out here (best effort in
    SQS)."""

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.queues: dict[str, _Queue] = {}
        self.exceptions = exceptions("sqs")

    def _queue(self, op: str, url: str) -> _Queue:
        queue = self.queues.get(url)
        if queue is None:
            raise error(
                "sqs",
                op,
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
            )
        return queue

    def create_queue(self, **request: Any) -> dict[str, Any]:
        """CreateQueue: idempotent for the same name; ``VisibilityTimeout`` and
        ``RedrivePolicy`` attributes are honoured."""
        name = request["QueueName"]
        url = f"https://sqs.{self.region}.amazonaws.com/{self.account}/{name}"
        attributes = request.get("Attributes") or {}
        if url not in self.queues:
            arn = f"arn:aws:sqs:{self.region}:{self.account}:{name}"
            queue = _Queue(name, url, arn, int(attributes.get("VisibilityTimeout", 30)))
            if "RedrivePolicy" in attributes:
                queue.redrive = json.loads(attributes["RedrivePolicy"])
            self.queues[url] = queue
        return {"QueueUrl": url}

    def get_queue_attributes(self, **request: Any) -> dict[str, Any]:
        """GetQueueAttributes: ``QueueArn``, ``VisibilityTimeout`` and the approximate counts."""
        queue = self._queue("GetQueueAttributes", request["QueueUrl"])
        at = now()
        visible = sum(1 for m in queue.messages if m.visible_at <= at)
        return {
            "Attributes": {
                "QueueArn": queue.arn,
                "VisibilityTimeout": str(queue.visibility),
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(len(queue.messages) - visible),
            }
        }

    def send_message(self, **request: Any) -> dict[str, Any]:
        """SendMessage: the body (at most 256 KiB) and its message attributes."""
        queue = self._queue("SendMessage", request["QueueUrl"])
        body = request["MessageBody"]
        if len(body.encode()) > 262_144:
            raise error(
                "sqs", "SendMessage", "InvalidParameterValue", "One or more parameters are invalid."
            )
        message = _Message(_id(), body, dict(request.get("MessageAttributes") or {}), now(), now())
        queue.messages.append(message)
        return {"MessageId": message.id, "MD5OfMessageBody": hashlib.md5(body.encode()).hexdigest()}

    def receive_message(self, **request: Any) -> dict[str, Any]:
        """ReceiveMessage: up to ``MaxNumberOfMessages`` (1-10) visible messages, each hidden for
        the visibility timeout with a fresh receipt handle; message attributes only when
        ``MessageAttributeNames`` asks for them."""
        queue = self._queue("ReceiveMessage", request["QueueUrl"])
        wanted = int(request.get("MaxNumberOfMessages", 1))
        if not 1 <= wanted <= 10:
            raise error(
                "sqs",
                "ReceiveMessage",
                "InvalidParameterValue",
                f"Value {wanted} for parameter MaxNumberOfMessages is invalid. Reason: Must be "
                "between 1 and 10, if provided.",
            )
        hide = timedelta(seconds=int(request.get("VisibilityTimeout", queue.visibility)))
        names = request.get("MessageAttributeNames") or []
        at = now()
        out: list[dict[str, Any]] = []
        for message in list(queue.messages):
            if len(out) == wanted:
                break
            if message.visible_at > at:
                continue
            if queue.redrive and message.receives >= int(queue.redrive["maxReceiveCount"]):
                queue.messages.remove(message)
                dlq = next(
                    q for q in self.queues.values() if q.arn == queue.redrive["deadLetterTargetArn"]
                )
                message.receives = 0
                dlq.messages.append(message)
                continue
            message.receives += 1
            message.visible_at = at + hide
            message.receipt = _id()
            got: dict[str, Any] = {
                "MessageId": message.id,
                "ReceiptHandle": message.receipt,
                "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest(),
                "Body": message.body,
            }
            if names and message.attributes:
                keep = {
                    k: v
                    for k, v in message.attributes.items()
                    if "All" in names or ".*" in names or k in names
                }
                if keep:
                    got["MessageAttributes"] = keep
            out.append(got)
        return {"Messages": out} if out else {}

    def delete_message(self, **request: Any) -> dict[str, Any]:
        """DeleteMessage by the latest receipt handle (an outdated handle deletes nothing)."""
        queue = self._queue("DeleteMessage", request["QueueUrl"])
        handle = request["ReceiptHandle"]
        queue.messages = [m for m in queue.messages if m.receipt != handle]
        return {}


# -- EventBridge ---------------------------------------------------------------------------------
class MemoryEvents:
    """EventBridge: buses, rules with event patterns (matched by moto's implementation of
    EventBridge's pattern language), SQS targets. A matched event reaches its target as
    EventBridge's JSON envelope."""

    def __init__(self, region: str, account: str, sqs: MemorySQS) -> None:
        self.region = region
        self.account = account
        self.sqs = sqs
        self.buses: dict[str, dict[str, Any]] = {"default": {}}
        self.exceptions = exceptions("events")

    def create_event_bus(self, **request: Any) -> dict[str, Any]:
        """CreateEventBus."""
        name = request["Name"]
        if name in self.buses:
            raise error(
                "events",
                "CreateEventBus",
                "ResourceAlreadyExistsException",
                f"Event bus {name} already exists.",
            )
        self.buses[name] = {}
        return {"EventBusArn": f"arn:aws:events:{self.region}:{self.account}:event-bus/{name}"}

    def put_rule(self, **request: Any) -> dict[str, Any]:
        """PutRule with an ``EventPattern``."""
        from moto.events.models import EventPattern

        bus = self.buses[request.get("EventBusName") or "default"]
        rule = bus.setdefault(request["Name"], {"targets": []})
        rule["pattern"] = EventPattern.load(request["EventPattern"])
        return {"RuleArn": f"arn:aws:events:{self.region}:{self.account}:rule/{request['Name']}"}

    def put_targets(self, **request: Any) -> dict[str, Any]:
        """PutTargets (SQS queues by ARN)."""
        rule = self.buses[request.get("EventBusName") or "default"][request["Rule"]]
        rule["targets"].extend(t["Arn"] for t in request["Targets"])
        return {"FailedEntryCount": 0, "FailedEntries": []}

    def put_events(self, **request: Any) -> dict[str, Any]:
        """PutEvents: at most 10 entries; an entry without ``Source``, ``DetailType`` or a JSON
        object ``Detail`` fails on its own (``FailedEntryCount``); the others go to every rule
        whose pattern matches, ``time`` being the entry's ``Time`` or now."""
        entries = request["Entries"]
        if len(entries) > 10:
            raise error(
                "events",
                "PutEvents",
                "ValidationException",
                "1 validation error detected: Value '[PutEventsRequestEntry]' at 'entries' "
                "failed to satisfy constraint: Member must have length less than or equal to 10",
            )
        out: list[dict[str, Any]] = []
        for entry in entries:
            missing = next(
                (k for k in ("Source", "DetailType", "Detail") if not entry.get(k)), None
            )
            if missing:
                out.append(
                    {
                        "ErrorCode": "InvalidArgument",
                        "ErrorMessage": f"Parameter {missing} is not valid. Reason: {missing} is a required argument.",
                    }
                )
                continue
            try:
                detail = json.loads(entry["Detail"])
            except ValueError:
                detail = None
            if not isinstance(detail, dict):
                out.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})
                continue
            event_id = _id()
            out.append({"EventId": event_id})
            when = entry.get("Time") or now()
            if isinstance(when, str):
                when = parse_time(when)
            envelope = {
                "version": "0",
                "id": event_id,
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": self.account,
                "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": entry.get("Resources", []),
                "detail": detail,
            }
            body = ""
            bus = self.buses.get(entry.get("EventBusName") or "default", {})
            for rule in bus.values():
                if matches(rule["pattern"], envelope):
                    for arn in rule["targets"]:
                        queue = next((q for q in self.sqs.queues.values() if q.arn == arn), None)
                        if queue is not None:
                            # the envelope as JSON, the detail as it was put (it is JSON)
                            body = body or _with_detail(envelope, entry["Detail"])
                            self.sqs.send_message(QueueUrl=queue.url, MessageBody=body)
        failed = sum(1 for e in out if "ErrorCode" in e)
        return {"FailedEntryCount": failed, "Entries": out}


def _with_detail(envelope: dict[str, Any], detail: str) -> str:
    """``envelope`` as JSON with ``detail`` (JSON text of an object) as its last member."""
    head = json.dumps({k: v for k, v in envelope.items() if k != "detail"})
    return f'{head[:-1]}, "detail": {detail.strip()}}}'


# -- EventBridge Scheduler ------------------------------------------------------------------------
class _Paginator:
    def __init__(self, call: Any) -> None:
        self.call = call

    def paginate(self, **request: Any) -> Any:
        yield self.call(**request)


class MemoryScheduler:
    """EventBridge Scheduler: schedule groups and schedules (``at(...)`` and ``cron(...)``),
    names unique per group. The simulator fires due ones (:meth:`due_one_time` finds the
    ``at`` ones without looking at the rest)."""

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.groups: dict[str, dict[str, dict[str, Any]]] = {"default": {}}
        self._at: list[tuple[datetime, str, str]] = []  # (time, group, name) of at(...) ones
        self._crons: dict[str, dict[str, None]] = {}  # group -> names of its cron(...) ones
        self.exceptions = exceptions("scheduler")

    def _group(self, op: str, name: str | None) -> dict[str, dict[str, Any]]:
        group = self.groups.get(name or "default")
        if group is None:
            raise error(
                "scheduler",
                op,
                "ResourceNotFoundException",
                f"Schedule group {name} does not exist.",
                404,
            )
        return group

    def create_schedule_group(self, **request: Any) -> dict[str, Any]:
        """CreateScheduleGroup."""
        name = request["Name"]
        if name in self.groups:
            raise error(
                "scheduler",
                "CreateScheduleGroup",
                "ConflictException",
                f"Schedule group {name} already exists.",
                409,
            )
        self.groups[name] = {}
        return {
            "ScheduleGroupArn": f"arn:aws:scheduler:{self.region}:{self.account}:schedule-group/{name}"
        }

    def _store(self, request: dict[str, Any], group_name: str) -> dict[str, Any]:
        schedule = {
            "Arn": f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{group_name}/{request['Name']}",
            "GroupName": group_name,
            "State": "ENABLED",
            **{k: v for k, v in request.items() if k != "GroupName"},
        }
        expression = request["ScheduleExpression"]
        crons = self._crons.setdefault(group_name, {})
        crons.pop(request["Name"], None)
        if expression.startswith("at("):
            heapq.heappush(
                self._at, (parse_time(expression[3:-1] + "Z"), group_name, request["Name"])
            )
        elif expression.startswith("cron("):
            crons[request["Name"]] = None
        return schedule

    def create_schedule(self, **request: Any) -> dict[str, Any]:
        """CreateSchedule: ConflictException if the group already has one of that name."""
        group_name = request.get("GroupName") or "default"
        group = self._group("CreateSchedule", group_name)
        name = request["Name"]
        if name in group:
            raise error(
                "scheduler",
                "CreateSchedule",
                "ConflictException",
                f"Schedule {name} already exists.",
                409,
            )
        group[name] = self._store(request, group_name)
        return {"ScheduleArn": group[name]["Arn"]}

    def update_schedule(self, **request: Any) -> dict[str, Any]:
        """UpdateSchedule: replaces the schedule; ResourceNotFoundException if absent."""
        group_name = request.get("GroupName") or "default"
        group = self._group("UpdateSchedule", group_name)
        if request["Name"] not in group:
            raise error(
                "scheduler",
                "UpdateSchedule",
                "ResourceNotFoundException",
                f"Schedule {request['Name']} does not exist.",
                404,
            )
        group[request["Name"]] = self._store(request, group_name)
        return {"ScheduleArn": group[request["Name"]]["Arn"]}

    def get_schedule(self, **request: Any) -> dict[str, Any]:
        """GetSchedule: ResourceNotFoundException if absent."""
        group = self._group("GetSchedule", request.get("GroupName"))
        got = group.get(request["Name"])
        if got is None:
            raise error(
                "scheduler",
                "GetSchedule",
                "ResourceNotFoundException",
                f"Schedule {request['Name']} does not exist.",
                404,
            )
        return json.loads(json.dumps(got))

    def delete_schedule(self, **request: Any) -> dict[str, Any]:
        """DeleteSchedule: ResourceNotFoundException if absent."""
        group = self._group("DeleteSchedule", request.get("GroupName"))
        self._crons.get(request.get("GroupName") or "default", {}).pop(request["Name"], None)
        if group.pop(request["Name"], None) is None:
            raise error(
                "scheduler",
                "DeleteSchedule",
                "ResourceNotFoundException",
                f"Schedule {request['Name']} does not exist.",
                404,
            )
        return {}

    def list_schedules(self, **request: Any) -> dict[str, Any]:
        """ListSchedules of a group, by ``NamePrefix`` (one page here)."""
        group = self._group("ListSchedules", request.get("GroupName"))
        prefix = request.get("NamePrefix") or ""
        return {
            "Schedules": [
                {
                    "Name": s["Name"],
                    "GroupName": s["GroupName"],
                    "Arn": s["Arn"],
                    "State": s["State"],
                    "Target": {"Arn": s["Target"]["Arn"]},
                }
                for name, s in group.items()
                if name.startswith(prefix)
            ]
        }

    def get_paginator(self, operation: str) -> _Paginator:
        """A paginator for ``list_schedules``."""
        if operation != "list_schedules":
            raise NotImplementedError(operation)
        return _Paginator(self.list_schedules)

    def due_one_time(
        self, group_name: str, until: datetime, first: bool = False
    ) -> list[dict[str, Any]]:
        """The ``at(...)`` schedules of a group due at or before ``until``, earliest first (with
        ``first`` only the earliest), for the simulator, which fires them: read from a
        time-ordered heap, not by listing every schedule. Entries of deleted or changed
        schedules are dropped from the heap as they come up."""
        out: list[dict[str, Any]] = []
        kept: list[tuple[datetime, str, str]] = []
        while self._at and self._at[0][0] <= until:
            entry = heapq.heappop(self._at)
            got = self.groups.get(entry[1], {}).get(entry[2])
            if (
                not got
                or got["ScheduleExpression"] != f"at({entry[0].strftime('%Y-%m-%dT%H:%M:%S')})"
            ):
                continue  # deleted, or now due at another time (its own entry says when)
            kept.append(entry)
            if entry[1] == group_name:
                out.append(got)
                if first:
                    break
        for entry in kept:  # still there until deleted
            heapq.heappush(self._at, entry)
        return out

    def crons(self, group_name: str) -> list[dict[str, Any]]:
        """The ``cron(...)`` schedules of a group (kept apart: the group may hold many
        one-time ones)."""
        group = self.groups.get(group_name, {})
        return [group[name] for name in self._crons.get(group_name, {})]


def _at_time(expression: str) -> datetime | None:
    """When an ``at(...)`` expression fires (None for another kind)."""
    return parse_time(expression[3:-1] + "Z") if expression.startswith("at(") else None


# -- SES, SNS, Lambda ----------------------------------------------------------------------------
@dataclass
class SentEmail:
    """A raw email SES accepted: as moto's ``RawMessage`` (``id``, ``source``, ``destinations``,
    ``raw_data``)."""

    id: str
    source: str
    destinations: list[str]
    raw_data: str


class MemorySES:
    """SES v1 and v2 (one account's identities): verified addresses and domains, and raw emails
    sent (captured, never delivered). Sending from an address whose address or domain is not
    verified is refused (``MessageRejected``), as in the SES sandbox."""

    def __init__(self, v2: bool, shared: dict[str, Any]) -> None:
        self.v2 = v2
        self.shared = shared  # identities and sent mail, common to v1 and v2
        self.exceptions = exceptions("sesv2" if v2 else "ses")

    @property
    def sent(self) -> list[SentEmail]:
        sent: list[SentEmail] = self.shared["sent"]
        return sent

    def verify_email_identity(self, **request: Any) -> dict[str, Any]:
        """SES v1 VerifyEmailIdentity (verified at once here)."""
        self.shared["identities"].add(parseaddr(request["EmailAddress"])[1])
        return {}

    def create_email_identity(self, **request: Any) -> dict[str, Any]:
        """SES v2 CreateEmailIdentity: an address or a domain (verified at once here)."""
        name = request["EmailIdentity"]
        if name in self.shared["identities"]:
            raise error(
                "sesv2", "CreateEmailIdentity", "AlreadyExistsException", f"{name} already exists"
            )
        self.shared["identities"].add(name)
        return {
            "IdentityType": "EMAIL_ADDRESS" if "@" in name else "DOMAIN",
            "VerifiedForSendingStatus": True,
        }

    def _verified(self, address: str) -> bool:
        address = _bare(address)
        return (
            address in self.shared["identities"]
            or address.split("@", 1)[-1] in self.shared["identities"]
        )

    def send_email(self, **request: Any) -> dict[str, Any]:
        """SES v2 SendEmail with ``Content.Raw``: the sender must be verified; the recipients
        are ``Destination``'s and the message's To/Cc/Bcc headers."""
        op = "SendEmail"
        service = "sesv2"
        source = request.get("FromEmailAddress")
        raw = request["Content"]["Raw"]["Data"]
        data = raw.decode("utf-8") if isinstance(raw, bytes) else base64.b64decode(raw).decode()
        # only the header section is read (the body can be large and is kept as sent)
        message = HeaderParser().parsestr(_HEAD_END.split(data, maxsplit=1)[0])
        if source is None:
            source = parseaddr(message["from"] or "")[1]
        if not source or not self._verified(source):
            raise error(
                service,
                op,
                "MessageRejected",
                f"Did not have authority to send from email {parseaddr(source or '')[1]}",
            )
        destination = request.get("Destination") or {}
        targets = [
            *destination.get("ToAddresses", []),
            *destination.get("CcAddresses", []),
            *destination.get("BccAddresses", []),
        ]
        headers = [message[h] for h in ("TO", "CC", "BCC") if h in message]
        targets += [formataddr((name, addr)) for name, addr in getaddresses(headers) if addr]
        if len(targets) > 50:
            raise error(service, op, "MessageRejected", "Too many recipients.")
        sent = SentEmail(_id(), source, targets, data)
        self.sent.append(sent)
        return {"MessageId": sent.id}


@lru_cache(maxsize=1024)
def _bare(address: str) -> str:
    """The addr-spec of an address (the same sender's, again and again)."""
    return parseaddr(address)[1]


_HEAD_END = re.compile(r"\r?\n\r?\n")
_E164 = re.compile(r"^\+?[1-9]\d{1,14}$")


class MemorySNS:
    """SNS direct SMS publishing: the number must be E.164 (``InvalidParameter`` otherwise) and
    the text at most 1,600 bytes; messages are captured, never delivered."""

    def __init__(self) -> None:
        self.sms: dict[str, tuple[str, str]] = {}  # message id -> (number, text)
        self.exceptions = exceptions("sns")

    def publish(self, **request: Any) -> dict[str, Any]:
        """Publish with ``PhoneNumber``."""
        number = request.get("PhoneNumber")
        if number is None:
            raise NotImplementedError(
                "the memory SNS publishes SMS only (nudge publishes no topics)"
            )
        if not _E164.match(number):
            raise error(
                "sns",
                "Publish",
                "InvalidParameter",
                "Invalid parameter: PhoneNumber Reason: does not meet the E164 format",
            )
        text = request["Message"]
        if len(text.encode()) > 1600:
            raise error("sns", "Publish", "InvalidParameter", "Invalid parameter: Message too long")
        message_id = _id()
        self.sms[message_id] = (number, text)
        return {"MessageId": message_id}


class MemoryLambda:
    """Lambda Invoke: no function is deployed in the simulation, so every invoke fails with
    ``ResourceNotFoundException`` (the daily recompute finishes in one invocation there)."""

    def __init__(self) -> None:
        self.exceptions = exceptions("lambda")
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        """Invoke: recorded, then refused (no such function)."""
        self.invoked.append(request)
        raise error(
            "lambda",
            "Invoke",
            "ResourceNotFoundException",
            f"Function not found: {request['FunctionName']}",
            404,
        )


class MemorySecretsManager:
    """Secrets Manager string secrets with the staging labels nudge reads: ``PutSecretValue``
    moves ``AWSCURRENT`` to the new version and ``AWSPREVIOUS`` to the one it replaced, as a
    rotation does; a deleted or unknown secret is ``ResourceNotFoundException``."""

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.secrets: dict[str, dict[str, str]] = {}  # arn -> staging label -> value
        self.names: dict[str, str] = {}  # name -> arn
        self.exceptions = exceptions("secretsmanager")

    def _arn(self, secret_id: str, operation: str) -> str:
        arn = self.names.get(secret_id, secret_id)
        if arn not in self.secrets:
            raise error(
                "secretsmanager",
                operation,
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            )
        return arn

    def create_secret(self, **request: Any) -> dict[str, Any]:
        """CreateSecret with a ``SecretString``: the first version is ``AWSCURRENT``."""
        name = request["Name"]
        if name in self.names:
            raise error(
                "secretsmanager",
                "CreateSecret",
                "ResourceExistsException",
                f"The operation failed because the secret {name} already exists.",
            )
        arn = f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}-{_id()[:6]}"
        self.names[name] = arn
        self.secrets[arn] = {"AWSCURRENT": request["SecretString"]}
        return {"ARN": arn, "Name": name}

    def put_secret_value(self, **request: Any) -> dict[str, Any]:
        """PutSecretValue: the new value becomes ``AWSCURRENT``, the old one ``AWSPREVIOUS``."""
        arn = self._arn(request["SecretId"], "PutSecretValue")
        stages = self.secrets[arn]
        stages["AWSPREVIOUS"] = stages["AWSCURRENT"]
        stages["AWSCURRENT"] = request["SecretString"]
        return {"ARN": arn}

    def get_secret_value(self, **request: Any) -> dict[str, Any]:
        """GetSecretValue by staging label (``AWSCURRENT`` by default)."""
        arn = self._arn(request["SecretId"], "GetSecretValue")
        stage = request.get("VersionStage", "AWSCURRENT")
        if stage not in self.secrets[arn]:
            raise error(
                "secretsmanager",
                "GetSecretValue",
                "ResourceNotFoundException",
                f"Secrets Manager can't find the specified secret value for staging label: {stage}",
            )
        return {"ARN": arn, "SecretString": self.secrets[arn][stage], "VersionStages": [stage]}

    def delete_secret(self, **request: Any) -> dict[str, Any]:
        """DeleteSecret (``ForceDeleteWithoutRecovery``: gone at once)."""
        arn = self._arn(request["SecretId"], "DeleteSecret")
        del self.secrets[arn]
        self.names = {n: a for n, a in self.names.items() if a != arn}
        return {"ARN": arn}
