"""Mutated real events for the ingest fuzz suite (tests/integration/test_fuzz_ingest.py, and
``make bench`` at full size).

The bases are the real events: every storefront sample in events/ (native, Shopify, Segment),
the Segment spec messages of tests/fixtures/segment, and Shopify's published webhook bodies of
tests/fixtures/shopify in the partner envelope. Each case mutates one to three places of one base
(replace a value with a hostile one, delete a key, add a key) and goes through the real ingest
handler as an SQS record. ``FuzzRun`` tallies what happened and checks the invariants: no
record fails, every parked item has a reason, no stored profile holds NaN, Infinity, negative
money or a time outside [2000, now + max_future].
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
NOW = "2027-03-01T00:00:00Z"  # the clock of a fuzz run: after every base event

_SHOPIFY_TEMPLATE = "shopify_orders_create"


def _shopify_fixtures() -> Iterator[tuple[str, dict[str, Any]]]:
    """Shopify's published example bodies, each in the partner envelope of the samples."""
    template = json.loads((ROOT / "events" / f"{_SHOPIFY_TEMPLATE}.json").read_text())
    for path in sorted((ROOT / "tests" / "fixtures" / "shopify").rglob("*.json")):
        published = json.loads(path.read_text())
        envelope = copy.deepcopy(template)
        envelope["detail"]["payload"] = published["response"]
        envelope["detail"]["metadata"]["X-Shopify-Topic"] = published["name"]
        yield f"fixtures/shopify/{path.relative_to(path.parents[2])}", envelope


def bases() -> list[tuple[str, dict[str, Any]]]:
    """(name, envelope) of every real event the fuzz starts from."""
    out = []
    for path in sorted((ROOT / "events").glob("*.json")):
        envelope = json.loads(path.read_text())
        if isinstance(envelope, dict) and envelope.get("detail-type") and envelope.get("source"):
            out.append((f"events/{path.name}", envelope))
    for path in sorted((ROOT / "tests" / "fixtures" / "segment").glob("*.json")):
        out.append((f"fixtures/segment/{path.name}", json.loads(path.read_text())))
    out.extend(_shopify_fixtures())
    return out


HOSTILE: list[Any] = [
    math.nan,
    math.inf,
    -math.inf,
    -1,
    -0.01,
    0,
    1e308,
    10**30,
    2**63,
    0.1 + 0.2,
    19.999,
    "NaN",
    "Infinity",
    "-5.00",
    "1e999",
    "",
    "   ",
    None,
    True,
    [],
    {},
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "2027-02-10T10:00:00",
    "2099-01-01T00:00:00Z",
    "a@x.example, evil@y.example",
    "line\r\nBcc: evil@y.example",
    "sep\u2028arator",
    "\x00nul",
    "jpy",
    "JPY",
    "KWD",
    "ZZZZ",
    10_001,
    2.5,
]


def _deep(depth: int) -> Any:
    value: Any = "x"
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return value


values = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.builds(lambda ch, n: ch * n, st.characters(), st.integers(0, 40_000)),
    st.builds(_deep, st.integers(1, 40)),
    st.lists(st.sampled_from(HOSTILE), max_size=5),
    st.builds(
        lambda n: [{"product_id": "p", "price": 1.0, "quantity": 1}] * n, st.integers(0, 800)
    ),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for n, item in enumerate(value[:5]):
            yield from _paths(item, (*prefix, n))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, str]:
    """(base name, SQS body): a real event mutated in one to three places."""
    name, base = draw(st.sampled_from(BASES))
    envelope = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(envelope) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _parent(envelope, path)
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    return name, json.dumps(envelope, allow_nan=True, default=str)


BASES = bases()


class FuzzRun:
    """Feeds cases to the real ingest handler on a running ``Simulation`` and tallies them."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.counts: Counter[str] = Counter()
        self.problems: list[str] = []

    def case(self, body: str) -> None:
        """One SQS record through ``ingest.handle``; then drain the DLQ and check profiles."""
        from nudge.flows import ingest

        self.counts["cases"] += 1
        record = {
            "messageId": "m-0",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
        }
        try:
            result = ingest.handle({"Records": [record]})
        except Exception as exc:  # a handler that raises loses the batch
            self._problem("crash", f"{type(exc).__name__}: {exc}")
            return
        if result.get("batchItemFailures"):
            self._problem("crash", "the record failed (it would be retried, then redriven)")
        for letter in self._drain_dlq():
            self.counts["parked"] += 1
            if not letter:
                self._problem("parked_without_reason", "a parked item has no reason")

    def check_profiles(self) -> None:
        """Every stored profile is sane (``corruption``); each bad one counted once."""
        from nudge.core.clock import now, parse_time

        horizon = now().timestamp() + 3600
        for cid, doc in self.sim.profiles().items():
            found = corruption(doc, parse_time("2000-01-01T00:00:00Z").timestamp(), horizon)
            if found:
                self._problem("corrupted_profiles", f"{cid}: {found}")

    def _problem(self, kind: str, text: str) -> None:
        self.counts[kind] += 1
        self.problems.append(f"{kind}: {text[:300]}")

    def _drain_dlq(self) -> list[str | None]:
        from nudge.aws import clients

        sqs = clients.client("sqs")
        reasons: list[str | None] = []
        while True:
            got = sqs.receive_message(
                QueueUrl=self.sim.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = got.get("Messages", [])
            if not messages:
                return reasons
            for m in messages:
                reason = m.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
                reasons.append(reason)
                sqs.delete_message(QueueUrl=self.sim.dlq_url, ReceiptHandle=m["ReceiptHandle"])


_MONEY = ("lifetime_value", "avg_order_value")
_TIMES = ("last_seen_at", "first_order_at", "last_order_at")


def corruption(doc: dict[str, Any], earliest: float, latest: float) -> str | None:
    """What is wrong with a profile (as ``profile_view`` shows it), or None: a non-finite
    number anywhere, negative money, a time before ``earliest`` or after ``latest``."""
    bad = _non_finite(doc, "")
    if bad:
        return f"{bad}: not finite"
    money = [(k, doc.get(k)) for k in _MONEY]
    money.append(("cart.value", (doc.get("cart") or {}).get("value")))
    for n, order in enumerate(doc.get("orders") or []):
        money += [(f"orders[{n}].value", order.get("value"))]
        money += [(f"orders[{n}].refunded", order.get("refunded"))]
    for key, value in money:
        if isinstance(value, int | float) and value < 0:
            return f"{key}: negative ({value})"
    times = [(k, doc.get(k)) for k in _TIMES]
    times += [(f"orders[{n}].at", o.get("at")) for n, o in enumerate(doc.get("orders") or [])]
    for key, value in times:
        if value is None:
            continue
        from nudge.core.clock import parse_time

        ts = parse_time(value).timestamp()
        if not earliest <= ts <= latest:
            return f"{key}: {value} outside [2000, now + 1h]"
    for entry in doc.get("history") or []:
        if not earliest <= entry["ts"] <= latest:
            return f"history: an entry dated {entry['ts']}"
    return None


def _non_finite(value: Any, path: str) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return path or "."
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = _non_finite(item, f"{path}[{n}]")
            if found:
                return found
    return None
