"""An in-memory AWS for the simulator: the DynamoDB, DynamoDB Streams, SQS, EventBridge,
EventBridge Scheduler, SES, SNS and Lambda operations nudge calls, behaving as AWS documents them
(docs/simulation.md), at the cost of a dictionary lookup instead of moto's HTTP-shaped round trip
and whole-table copies.

:class:`MemoryAWS` is one account in one region; :meth:`MemoryAWS.client` stands in for
``boto3.client(service)`` behind ``nudge.aws.clients.client`` (see ``nudge.sim.backends``).
Errors are botocore's own exception classes with the codes AWS sends.
"""

from __future__ import annotations

from typing import Any

from nudge.sim.memory.dynamodb import MemoryDynamoDB, MemoryStreams
from nudge.sim.memory.services import (
    MemoryEvents,
    MemoryLambda,
    MemoryScheduler,
    MemorySES,
    MemorySNS,
    MemorySQS,
    SentEmail,
)

__all__ = ["MemoryAWS", "SentEmail"]


class MemoryAWS:
    """Every in-memory service of one account and region."""

    def __init__(self, region: str, account: str) -> None:
        self.dynamodb = MemoryDynamoDB(region, account)
        self.dynamodbstreams = MemoryStreams(self.dynamodb)
        self.sqs = MemorySQS(region, account)
        self.events = MemoryEvents(region, account, self.sqs)
        self.scheduler = MemoryScheduler(region, account)
        mail: dict[str, Any] = {"identities": set(), "sent": []}
        self.ses = MemorySES(False, mail)
        self.sesv2 = MemorySES(True, mail)
        self.sns = MemorySNS()
        self.lambda_ = MemoryLambda()

    def client(self, service: str) -> Any:
        """The in-memory client of ``service`` (``"dynamodb"``, ``"sqs"``, ...)."""
        found = getattr(self, "lambda_" if service == "lambda" else service, None)
        if found is None:
            raise NotImplementedError(f"the memory backend has no {service!r} service")
        return found
