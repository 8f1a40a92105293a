"""Where a simulation's AWS lives: moto (``moto``) or nudge's in-memory AWS (``memory``, the
default). Both stand behind ``nudge.aws.clients.client``, so the handlers make the same calls;
the simulator asks its backend only for what AWS would do on its own (which schedules are due)
and for what the providers captured (emails, SMS).
"""

from __future__ import annotations

import copy
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from nudge.aws import clients as aws
from nudge.core.clock import parse_time
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
        _cheap_moto_queries()
        _cheap_moto_rules()
        self._mock = mock_aws()
        self._mock.start()
        aws.use_backend(None)

    def stop(self) -> None:
        """Stop ``mock_aws``."""
        self._mock.stop()
        aws.reset_clients()

    def schedules(self, group: str, until: datetime, first: bool = False) -> list[dict[str, Any]]:
        """The due ``at(...)`` schedules of the group (with ``first`` only the earliest) and its
        crons, read from moto's scheduler backend as GetSchedule would answer (ListSchedules
        and a GetSchedule for each, at every step of the clock, cost the square of a day)."""
        from moto.scheduler.models import scheduler_backends

        found = scheduler_backends[ACCOUNT][REGION].schedule_groups.get(group)
        if found is None:
            return []
        due: list[tuple[datetime, str, Any]] = []
        crons: list[Any] = []
        for name, schedule in found.schedules.items():
            expression = schedule.schedule_expression
            if expression.startswith("cron("):
                crons.append(schedule)
                continue
            at = _at_time(expression)
            if at is not None and at <= until:
                due.append((at, name, schedule))
        due.sort(key=lambda d: (d[0], d[1]))
        if first:
            due = due[:1]
        return [_answer(s) for s in [*(d[2] for d in due), *crons]]

    def emails(self) -> list[Any]:
        """moto's SES sent messages."""
        from moto.ses.models import ses_backends

        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def sms(self) -> dict[str, tuple[str, str]]:
        """moto's SNS SMS messages."""
        from moto.sns.models import sns_backends

        return dict(sns_backends[ACCOUNT][REGION].sms_messages)


@lru_cache(maxsize=65536)
def _at_time(expression: str) -> datetime | None:
    """When an ``at(...)`` expression fires (None for another kind)."""
    if not expression.startswith("at("):
        return None
    return parse_time(expression[3:-1] + "Z")


def _answer(schedule: Any) -> dict[str, Any]:
    """A moto schedule as GetSchedule answers it (what the simulator reads of it)."""
    got = schedule.to_dict()
    return {k: copy.deepcopy(v) for k, v in got.items() if v is not None}


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


_QUERIES_PATCHED = False


def _cheap_moto_queries() -> None:
    """Make moto's Query on a table cost its partition, not the table.

    moto answers a Query by sorting every item of the table (``Table.all_items``) and keeping
    those of the partition asked for: each read of a customer's items costs the whole table, a
    day the square of its size. Patched (once per process): during a Query on the table's own key
    ``all_items`` is the partition's items, in the same order; what moto answers is unchanged (a
    query on an index still walks the table, as moto needs)."""
    global _QUERIES_PATCHED
    if _QUERIES_PATCHED:
        return
    import inspect

    from moto.dynamodb.models.table import Table

    original = Table.query
    signature = inspect.signature(original)

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        asked = signature.bind(self, *args, **kwargs).arguments
        hash_key = asked.get("hash_key")
        if asked.get("index_name") or hash_key is None:
            return original(self, *args, **kwargs)
        part = self.items.get(hash_key)
        found = [] if part is None else list(part.values()) if self.range_key_attr else [part]
        order = sorted(
            found, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key
        )
        self.all_items = lambda: order  # the instance's, for this call only
        try:
            return original(self, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query  # type: ignore[method-assign]
    _QUERIES_PATCHED = True


def _cheap_moto_rules() -> None:
    """moto delivers each matched event to its target through an input template of JSONPath
    expressions, parsing each expression again for every event (jsonpath-ng builds a parser
    each time): about a third of a PutEvents. The parsed expressions are remembered instead;
    the same expressions give the same answers."""
    import jsonpath_ng.ext

    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        jsonpath_ng.ext.parse = lru_cache(maxsize=256)(jsonpath_ng.ext.parse)


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
