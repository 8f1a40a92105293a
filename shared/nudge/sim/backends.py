"""Where a simulation's AWS lives: moto (``moto``) or nudge's in-memory AWS (``memory``, the
default). Both stand behind ``nudge.aws.clients.client``, so the handlers make the same calls;
the simulator asks its backend only for what AWS would do on its own (which schedules are due)
and for what the providers captured (emails, SMS).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from nudge.aws import clients as aws
from nudge.sim.infra import ACCOUNT, REGION

BACKENDS = ("memory", "moto")
DEFAULT_BACKEND = "memory"


class Backend(Protocol):
    """What the simulator needs from an AWS backend."""

    name: str

    def start(self) -> None:
        """Put this backend behind ``nudge.aws.clients.client``."""

    def stop(self) -> None:
        """Take it away again."""

    def schedules(self, group: str, until: datetime, first: bool = False) -> list[dict[str, Any]]:
        """GetSchedule answers of every schedule that may be due by ``until`` (at least every
        due ``at(...)`` one, or with ``first`` the earliest, and every ``cron(...)`` one)."""
        ...

    def emails(self) -> list[Any]:
        """Raw emails SES accepted, in order (``id``, ``destinations``, ``raw_data``)."""
        ...

    def sms(self) -> dict[str, tuple[str, str]]:
        """SMS SNS accepted, in order: provider id -> (number, text)."""
        ...


class MotoBackend:
    """moto's ``mock_aws``: every AWS call goes through botocore to moto's in-process backends."""

    name = "moto"

    def __init__(self) -> None:
        self._mock: Any = None

    def start(self) -> None:
        """Start ``mock_aws``."""
        from moto import mock_aws

        _cheap_moto_transactions()
        self._mock = mock_aws()
        self._mock.start()
        aws.use_backend(None)

    def stop(self) -> None:
        """Stop ``mock_aws``."""
        self._mock.stop()
        aws.reset_clients()

    def schedules(self, group: str, until: datetime, first: bool = False) -> list[dict[str, Any]]:
        """Every schedule of the group (ListSchedules, then GetSchedule each)."""
        sched = aws.client("scheduler")
        return [
            sched.get_schedule(Name=s["Name"], GroupName=group)
            for s in sched.list_schedules(GroupName=group).get("Schedules", [])
        ]

    def emails(self) -> list[Any]:
        """moto's SES sent messages."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def sms(self) -> dict[str, tuple[str, str]]:
        """moto's SNS SMS messages."""
        from moto.sns.models import sns_backends

        return dict(sns_backends[ACCOUNT][REGION].sms_messages)


_PATCHED = False


def _cheap_moto_transactions() -> None:
    """Make moto's TransactWriteItems cost the items it touches, not the table.

    moto deep-copies every table a transaction names (all its items, and every stream record
    ever written) so that it can roll back: each transaction costs the size of the table, and a
    simulated day the square of its size. Patched here (once per process): moto's copy of a table
    is the table itself, and this wrapper keeps a copy of only the partitions the transaction
    touches and the stream's length, and puts them back when the transaction fails. What moto
    answers is unchanged (tests/contract runs the same contract on both backends)."""
    global _PATCHED
    if _PATCHED:
        return
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items
    missing = object()

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: dict[tuple[str, Any], Any] = {}
        streams: dict[str, int] = {}
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            key = op.get("Key") or op.get("Item") or {}
            if table is None or table.hash_key_attr not in key:
                continue
            part = DynamoType(key[table.hash_key_attr])
            if (table.name, part) not in saved:
                there = table.items.get(part, missing)
                saved[(table.name, part)] = there if there is missing else copy.deepcopy(there)
            if table.stream_shard is not None:
                streams[table.name] = len(table.stream_shard.items)
        Table.__deepcopy__ = lambda table, memo: table  # type: ignore[attr-defined]
        try:
            original(self, transact_items)
        except Exception:
            for (name, part), items in saved.items():
                table = self.tables[name]
                if items is missing:
                    table.items.pop(part, None)
                else:
                    table.items[part] = items
            for name, length in streams.items():
                del self.tables[name].stream_shard.items[length:]
            raise
        finally:
            del Table.__deepcopy__  # type: ignore[attr-defined]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _PATCHED = True


class MemoryBackend:
    """nudge's in-memory AWS (``nudge.sim.memory``)."""

    name = "memory"

    def __init__(self) -> None:
        from nudge.sim.memory import MemoryAWS

        self.aws = MemoryAWS(REGION, ACCOUNT)

    def start(self) -> None:
        """Serve every client from the in-memory AWS."""
        aws.use_backend(self.aws.client)

    def stop(self) -> None:
        """Back to boto3."""
        aws.use_backend(None)

    def schedules(self, group: str, until: datetime, first: bool = False) -> list[dict[str, Any]]:
        """The due ``at(...)`` schedules (from a time-ordered heap; with ``first`` only the
        earliest) and the crons."""
        sched = self.aws.scheduler
        return sched.due_one_time(group, until, first) + sched.crons(group)

    def emails(self) -> list[Any]:
        """Emails SES accepted."""
        return list(self.aws.sesv2.sent)

    def sms(self) -> dict[str, tuple[str, str]]:
        """SMS SNS accepted."""
        return dict(self.aws.sns.sms)


def make_backend(name: str) -> Backend:
    """The backend called ``name`` (``memory`` or ``moto``); ValueError for another name."""
    if name == "memory":
        return MemoryBackend()
    if name == "moto":
        return MotoBackend()
    raise ValueError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}")
