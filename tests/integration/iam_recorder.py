"""Which AWS actions each function's handler performs: every botocore call made while a handler
(``nudge.flows.<name>.handle``) runs is recorded under that function and turned into the IAM
actions that authorise it."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

FUNCTIONS = (
    "ingest",
    "dispatch",
    "wake",
    "feedback",
    "campaign",
    "score",
    "api",
    "unsubscribe",
    "sweeper",
)

# transaction parts -> the item action that authorises each (TransactWriteItems has no action)
_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def iam_actions(signing: str, operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one API call needs (Service Authorization Reference, per operation)."""
    if signing == "dynamodb" and operation in ("TransactWriteItems", "TransactGetItems"):
        return {
            f"dynamodb:{_TRANSACT[kind]}"
            for item in params.get("TransactItems", [])
            for kind in item
        }
    if signing == "lambda" and operation == "Invoke":
        return {"lambda:InvokeFunction"}
    if signing == "ses" and operation == "SendEmail" and "Raw" in params.get("Content", {}):
        # SES v2 SendEmail of a raw MIME message is authorised as SendRawEmail as well
        return {"ses:SendEmail", "ses:SendRawEmail"}
    actions = {f"{signing}:{operation}"}
    target = params.get("Target") or {}
    if signing == "scheduler" and target.get("RoleArn"):
        actions.add("iam:PassRole")  # a schedule's target role is passed to Scheduler
    return actions


class Recorder:
    """Records calls per running handler (one handler at a time, as the simulator runs them;
    threads a handler starts are counted for it)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.actions: dict[str, set[str]] = defaultdict(set)
        self.outside: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(self, signing: str, operation: str, params: dict[str, Any]) -> None:
        with self._lock:
            if self.current is None:
                self.outside.add((signing, operation))
                return
            self.calls[self.current].add((signing, operation))
            self.actions[self.current] |= iam_actions(signing, operation, params)

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        outer = self.current
        self.current = outer or function  # nested handlers count for the outermost
        try:
            yield
        finally:
            self.current = outer


@contextmanager
def recording(monkeypatch: Any) -> Iterator[Recorder]:
    """Patch botocore and every flow's ``handle`` for the duration."""
    import importlib

    from botocore.client import BaseClient

    recorder = Recorder()
    original = BaseClient._make_api_call

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        signing = self.meta.service_model.signing_name or self.meta.service_model.endpoint_prefix
        recorder.record(str(signing), operation, params)
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    for name in FUNCTIONS:
        module = importlib.import_module(f"nudge.flows.{name}")
        handle = module.handle

        def wrapped(*args: Any, _handle: Any = handle, _name: str = name, **kwargs: Any) -> Any:
            with recorder.running(_name):
                return _handle(*args, **kwargs)

        monkeypatch.setattr(module, "handle", wrapped)
    yield recorder
