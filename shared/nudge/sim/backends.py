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

    def schedules(self, group: str, until: datetime) -> list[dict[str, Any]]:
        """GetSchedule answers of every schedule that may be due by ``until`` (at least every
        due ``at(...)`` one and every ``cron(...)`` one)."""
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

        self._mock = mock_aws()
        self._mock.start()
        aws.use_backend(None)

    def stop(self) -> None:
        """Stop ``mock_aws``."""
        self._mock.stop()
        aws.reset_clients()

    def schedules(self, group: str, until: datetime) -> list[dict[str, Any]]:
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

    def schedules(self, group: str, until: datetime) -> list[dict[str, Any]]:
        """The due ``at(...)`` schedules (from a time-ordered heap) and the crons."""
        return self.aws.scheduler.due_one_time(group, until) + self.aws.scheduler.crons(group)

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
