"""Message-path benchmark: Lambda invocations and AWS calls from a fired trigger to the provider.

A customer views the same product three times (``browse_repeat_view``: no ``wait``, one email).
Counted from the ingest of the event that fires the trigger up to and including the SES call:
every handler invocation the simulation makes on the way (ingest, dispatch from the stream,
wake from a schedule) and every AWS API call those handlers make (botocore ``before-call``).
The simulation's own plumbing (reading the stream, firing schedules) is not counted: in AWS the
event source mapping and EventBridge Scheduler do that. A second case does the same for a trigger
with a ``wait`` (``cart_jewelry_high_value``), from the cart event to the SES call.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
EVENTS = ROOT / "events"
PROVIDER_CALLS = {"SendEmail", "SendRawEmail", "Publish"}
# measured with this benchmark on e4d0089, before the one message path (stream -> dispatch only
# scheduled a wake for the arbitration window -> wake -> dispatch again)
BEFORE = "no wait: 3 invocations, 12 calls; with a wait: 4 invocations, 16 calls (e4d0089)"


def _metric(
    value: float | int, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def _event(kind: str, cid: str, at: str, n: int, **properties: Any) -> dict[str, Any]:
    env: dict[str, Any] = json.loads((EVENTS / f"{kind}.json").read_text())
    env = copy.deepcopy(env)
    env["time"], env["id"] = at, f"bench-{n}"
    env["detail"].update(customer_id=cid, event_id=f"bench-e{n}")
    if kind == "customer_updated":
        env["detail"]["traits"] = {"email": f"{cid}@shop.example", "first_name": "Bea"}
        env["detail"]["consent"] = {"email": True, "sms": False}
    env["detail"].setdefault("properties", {}).update(properties)
    return env


class Counter:
    """Counts handler invocations and the AWS calls made inside them, until the provider call."""

    def __init__(self) -> None:
        self.active = False
        self.inside = 0
        self.invocations: list[str] = []
        self.calls: list[str] = []
        self.done = False

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self.active and not self.done and self.inside == 0:
                self.invocations.append(name)
            self.inside += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self.inside -= 1

        return counted

    def on_call(self, model: Any, **_: Any) -> None:
        if self.active and not self.done and self.inside:
            self.calls.append(model.service_model.service_name + ":" + model.name)
            if model.name in PROVIDER_CALLS:
                self.done = True


@contextmanager
def _counting(counter: Counter) -> Iterator[None]:
    from bench.hooks import watching

    def call(real: Callable[..., Any], client: Any, operation: str, params: Any) -> Any:
        counter.on_call(client.meta.service_model.operation_model(operation))
        return real(client, operation, params)

    with watching(counter.wrap, call):
        yield


def _measure(events: list[dict[str, Any]]) -> Counter:
    """Play ``events``; count from the last one (the one that fires) to the provider call."""
    from nudge.core.clock import parse_time
    from nudge.sim import Simulation

    counter = Counter()
    with (
        Simulation(CONFIG, start=parse_time(events[0]["time"]), backend="moto") as sim,
        _counting(counter),
    ):
        for envelope in events[:-1]:
            sim.advance(parse_time(envelope["time"]))
            sim.put(envelope)
        last = events[-1]
        sim.advance(parse_time(last["time"]))
        counter.active = True
        sim.put(last)
        sim.advance(parse_time(last["time"]) + timedelta(hours=3))
        if not counter.done or len(sim.messages()) != 1:
            raise RuntimeError(f"expected one message, got {sim.messages()!r}")
    return counter


def run() -> dict[str, Any]:
    """Both cases; targets for the no-wait one (the issue: <= 2 invocations, <= 8 calls)."""
    cid = "bea"  # not in the 5% control group of the sample config's salt
    views = [
        _event("product_viewed", cid, f"2027-02-10T15:0{i}:00Z", i, product_id="p-1")
        for i in range(1, 4)
    ]
    plain = _measure([_event("customer_updated", cid, "2027-02-10T15:00:00Z", 0), *views])
    items = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
    cart = _event("cart_updated", cid, "2027-02-10T15:03:00Z", 9, value=300.0, items=items)
    waited = _measure([_event("customer_updated", cid, "2027-02-10T15:00:00Z", 0), cart])
    return {
        "message_path_invocations": _metric(len(plain.invocations), "invocations", "<=", 2),
        "message_path_aws_calls": _metric(len(plain.calls), "calls", "<=", 8),
        "message_path_steps": " -> ".join(plain.invocations),
        "message_path_call_mix": ", ".join(plain.calls),
        "message_path_wait_invocations": _metric(len(waited.invocations), "invocations"),
        "message_path_wait_aws_calls": _metric(len(waited.calls), "calls"),
        "message_path_wait_steps": " -> ".join(waited.invocations),
        "message_path_before": BEFORE,
    }


if __name__ == "__main__":
    for key, value in run().items():
        print(key, value["value"] if isinstance(value, dict) else value)
