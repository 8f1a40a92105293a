"""Crash at every step of every handler, with the deployed retry timing on the simulated clock.

The simulator retries as the stack does (``template.yaml``): ingest records come back after the
queue's visibility timeout (5 receives, then the DLQ), dispatch's stream records are retried 5
times within seconds (then described in its DLQ), asynchronous invocations (wake, campaign,
score, feedback) are retried about 1 and 2 minutes later (then their DLQ), and the sweeper runs
every 5 minutes while anything failed. The profile API is synchronous: its caller retries on a
5xx answer.

Each run crashes once, just before or just after one AWS call of one handler (a crash after a
call keeps its effect), then lets a day go by. Every run must end with: each message sent at
most once, and either sent and recorded, or recorded ``failed`` (never left ``sending``, never
without a decision); each event applied exactly once (profiles equal to the clean run's); every
segment/tier announcement on the bus; nothing left in flight. A reduced set runs here (every
call of ingest, wake, dispatch and feedback; every other call of campaign, score and the API);
``make bench`` reports the full matrix.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from nudge.core.clock import parse_time
from nudge.faults import WRITES, AwsFaults, crash_at, inject
from nudge.sim import Simulation
from tests.conftest import CONFIG, customer, event, make_config
from tests.feedback_payloads import ses_for
from tests.scenarios.test_daily_recompute import BusTap

ITEMS = [{"product_id": "p-1", "name": "Ring", "category": "jewelry", "price": 300.0}]
START = parse_time("2027-02-10T13:00:00Z")


def _storefront() -> list[dict[str, Any]]:
    # ana's record comes 13 minutes before her cart: a crash in ingest brings it back after the
    # 190 s visibility timeout, still before the cart. (Closer, the redelivered record would
    # arrive after the cart, whose trigger then finds no consent: SQS does not keep order, and
    # that reordering is not what this suite measures.)
    return [
        customer("ana", "2027-02-10T13:50:00Z"),
        event("cart_updated", "ana", "2027-02-10T14:03:00Z", value=300.0, items=ITEMS),
        customer("bo", "2027-02-10T14:05:00Z"),
        event(
            "order_placed",
            "bo",
            "2027-02-10T14:10:00Z",
            event_id="o-bo-1",
            order_id="bo-1",
            value=600.0,
            gift=False,
        ),
        customer("cy", "2027-02-10T14:12:00Z"),
    ]


class Run:
    """One run of the scenario: the storefront's events (ingest), ana's cart reminder (wake,
    dispatch), SES telling us it was delivered (feedback), the monthly campaign, the daily
    recompute (score), and the profile API exporting and erasing cy (api)."""

    def __init__(
        self,
        faults: AwsFaults | None = None,
        named: str | None = None,
        config: Path = CONFIG,
    ):
        self.config = config
        self.faults = faults or AwsFaults()
        self.named = named  # a crash point (faults.checkpoint) armed for the whole run
        self.api_answers: list[int] = []

    def play(self) -> Run:
        with Simulation(self.config, start=START, backend="moto") as sim, inject(self.faults):
            self.sim = sim
            tap = BusTap()
            if self.named:
                with crash_at(self.named):
                    sim.run(_storefront(), until=parse_time("2027-02-10T16:00:00Z"))
            else:
                sim.run(_storefront(), until=parse_time("2027-02-10T16:00:00Z"))
            mail = _sent_to(sim, "ana")
            if mail is not None:  # SES tells us it was delivered
                sim.invoke("feedback", ses_for("delivery", mail))
            sim.invoke("campaign", {"kind": "campaign", "campaign": "monthly_value_tiers"})
            sim.invoke("score", {"kind": "daily", "date": "2027-02-10"})
            self._api("GET", "/profiles/cy/export")
            self._api("DELETE", "/profiles/cy")
            sim.advance(sim.clock.current + timedelta(days=1))
            self.result = self._read(sim, tap)
        return self

    def _api(self, method: str, path: str) -> None:
        """A caller of the profile API: a 5xx (the function crashed) is retried, 3 tries."""
        from nudge.faults import InjectedCrash, in_handler

        for _try in range(3):
            try:
                with in_handler("api"):
                    status = self.sim.api(method, path)["status"]
            except InjectedCrash:
                status = 502  # API Gateway's answer when the function dies
            self.api_answers.append(status)
            if status < 500:
                return

    def _read(self, sim: Simulation, tap: BusTap) -> dict[str, Any]:
        from moto.ses.models import ses_backends

        from nudge.aws import store
        from nudge.sim.infra import ACCOUNT, REGION

        emails = Counter[str]()
        for raw in ses_backends[ACCOUNT][REGION].sent_messages:
            data = getattr(raw, "raw_data", "") or ""
            for line in data.splitlines():
                if line.lower().startswith("x-nudge-message-id:"):
                    emails[line.split(":", 1)[1].strip()] += 1
        outbox = {
            i["message_id"]["S"]: (i["customer_id"]["S"], i["trigger"]["S"], i["status"]["S"])
            for i in store.scan_kind("outbox")
        }
        finals: dict[str, tuple[str, str | None]] = {}
        for d in sim.decisions():
            if d.get("message_id"):
                finals[d["message_id"]] = (d["outcome"], d["reason"])
        profiles = {
            cid: {k: p.get(k) for k in ("orders_count", "lifetime_value", "segments")}
            for cid, p in sim.profiles().items()
        }
        histories = {
            i["pk"]["S"]: [e.get("id") for e in store.profile_doc(i).get("history") or ()]
            for i in store.scan_kind("profile")
        }
        changes = sorted(
            (c[0], c[1]) for c in tap.changes() if c[1] not in ("message_sent", "email_delivered")
        )
        left = [
            i["sk"]["S"]
            for i in [*store.scan_kind("outbox"), *store.scan_kind("announce")]
            if i.get("status", {}).get("S", "announce") in ("sending", "announce")
        ]
        cy_items = [i for i in store.partition_items("cy") if i["sk"]["S"] != "ERASED"]
        return {
            "emails": emails,
            "outbox": outbox,
            "finals": finals,
            "profiles": profiles,
            "histories": histories,
            "changes": changes,
            "in_flight": left,
            "cy_left": len(cy_items),
            # for a failing test's message: what failed, and each message's decisions
            "trace": [f"failed {f[0]:%H:%M:%S} {f[1]}: {f[2][:150]}" for f in sim.failures]
            + [
                f"{d['at']} {d['customer_id']} {d['trigger']} {d['outcome']} {d['reason']}"
                for d in sim.decisions()
                if d.get("message_id")
            ],
        }


_clean: Run | None = None


def clean() -> Run:
    """The run without faults (once per test process)."""
    global _clean
    if _clean is None:
        _clean = Run().play()
    return _clean


def verdict(run: Run) -> str:
    """How a faulty run ended, compared with the clean one: "ok", "ok (recorded failed)" or
    what went wrong."""
    got, want = run.result, clean().result
    problems = []
    for mid, (cid, trigger, status) in got["outbox"].items():
        times = got["emails"].get(mid, 0)
        final = got["finals"].get(mid)
        if times > 1:
            problems.append(f"{trigger} to {cid} sent {times} times")
        if status in ("sending",) or final is None:
            problems.append(f"{trigger} to {cid} lost: {status}, no decision")
        elif times == 1 and final[0] != "sent" and final != ("failed", "provider_error"):
            problems.append(f"{trigger} to {cid} sent without a record ({final})")
        elif times == 0 and final[0] == "sent":
            problems.append(f"{trigger} to {cid} recorded sent, never sent")
    failed = [m for m, f in got["finals"].items() if f == ("failed", "provider_error")]
    sent = {(o[0], o[1]) for m, o in got["outbox"].items() if got["emails"].get(m)}
    clean_sent = {(o[0], o[1]) for m, o in want["outbox"].items() if want["emails"].get(m)}
    missing = clean_sent - sent
    if missing and not failed:
        problems.append(f"never sent: {sorted(missing)}")
    if got["profiles"] != want["profiles"]:
        problems.append("profiles differ from the clean run")
    for pk, ids in got["histories"].items():
        if len(ids) != len(set(ids)):
            problems.append(f"an event applied twice in {pk}")
    # announcements are at least once (docs/delivery.md): every one there, duplicates allowed
    if sorted(set(got["changes"])) != sorted(set(want["changes"])):
        problems.append(
            f"bus announcements differ: {len(got['changes'])} vs {len(want['changes'])}"
        )
    if got["in_flight"]:
        problems.append(f"{len(got['in_flight'])} left in flight")
    if got["cy_left"]:
        problems.append("the erased customer still has data")
    if problems:
        return "; ".join(sorted(set(problems)))
    return "ok (recorded failed)" if failed else "ok"


# dispatch's own function (the stream) serves messages due at once: see the stream tests below
HANDLERS = ("ingest", "wake", "feedback", "campaign", "score", "api")


def crash_points(handler: str, every: int = 1) -> list[tuple[str, int, str]]:
    """Every (handler, n-th call, before/after) of the clean run: before each call, and after
    each write (after a read is before the next call). ``every``: only every n-th call."""
    calls = [c for h, c in clean().faults.calls if h == handler]
    points = []
    for n, call in enumerate(calls, 1):
        if (n - 1) % every:
            continue
        points.append((handler, n, "before"))
        if call.split(".", 1)[1] in WRITES:
            points.append((handler, n, "after"))
    return points


def matrix(points: list[tuple[str, int, str]]) -> dict[str, str]:
    """Crash point -> how the run ended."""
    out = {}
    by_handler = {h: [c for hh, c in clean().faults.calls if hh == h] for h in HANDLERS}
    for point in points:
        handler, n, where = point
        run = Run(AwsFaults(crash=point)).play()
        label = f"{handler} #{n} {where} {by_handler[handler][n - 1]}"
        out[label] = verdict(run) if run.faults.crashed else "never reached"
    return out


def test_the_clean_run_sends_the_reminder_and_announces_the_changes():
    result = clean().result
    assert sorted(o[:2] for m, o in result["outbox"].items() if result["emails"].get(m)) == [
        ("ana", "cart_jewelry_high_value"),
        ("bo", "monthly_value_tiers"),
    ]
    assert ("bo", "segment_entered") in result["changes"]
    assert result["cy_left"] == 0 and not result["in_flight"]
    assert {h for h, _c in clean().faults.calls} >= set(HANDLERS)


@pytest.mark.parametrize("handler", HANDLERS)
def test_a_crash_at_any_step_of_a_handler_loses_nothing(handler):
    # reduced here (every third call of a handler that makes more than a few); make bench runs
    # every call of every handler
    every = 3 if len(crash_points(handler)) > 6 else 1
    ended = matrix(crash_points(handler, every))
    assert ended
    bad = {point: how for point, how in ended.items() if not how.startswith("ok")}
    assert not bad, json.dumps(bad, indent=1)


def _sent_to(sim: Simulation, cid: str) -> dict[str, Any] | None:
    """The email SES took for ``cid`` (from SES's side: it may be recorded nowhere else)."""
    from moto.ses.models import ses_backends

    from nudge.sim.infra import ACCOUNT, REGION

    for raw in ses_backends[ACCOUNT][REGION].sent_messages:
        data = getattr(raw, "raw_data", "") or ""
        if f"{cid}@shop.example" not in raw.destinations:
            continue
        for line in data.splitlines():
            if line.lower().startswith("x-nudge-message-id:"):
                mid = line.split(":", 1)[1].strip()
                return {
                    "customer_id": cid,
                    "message_id": mid,
                    "provider_id": raw.id,
                    "to": f"{cid}@shop.example",
                }
    return None


# -- the crash points the issue found lost, by name ---------------------------------------------
# In the sample config every message waits out the arbitration window, so its one-time schedule
# hands it to dispatch inside the wake function (an asynchronous invocation: retried after about
# 1 and 2 minutes, then parked); the crash points are counted in that function's calls.
NAMES = (
    "after the claim",
    "before the provider call",
    "after the calling_at marker",
    "after the provider accepted",
    "SES unreachable",
    "ingest after the write (segment/tier announcements)",
)


def _nth(handler: str, operation: str, nth: int = 1) -> int:
    """The number of ``handler``'s ``nth`` call of ``operation`` in the clean run."""
    calls = [c for h, c in clean().faults.calls if h == handler]
    found = [n for n, call in enumerate(calls, 1) if call.endswith("." + operation)]
    return found[nth - 1]


def named_point(name: str) -> AwsFaults:
    """The fault that interrupts dispatch (or ingest) where ``name`` says."""
    claim = _nth("wake", "UpdateItem")
    reserve = _nth("wake", "TransactWriteItems", 2)  # the cap slot and the calling_at marker
    return {
        "after the claim": lambda: AwsFaults(crash=("wake", claim, "after")),
        "before the provider call": lambda: AwsFaults(crash=("wake", reserve, "before")),
        "after the calling_at marker": lambda: AwsFaults(crash=("wake", reserve, "after")),
        "after the provider accepted": lambda: AwsFaults(
            crash=("wake", _nth("wake", "SendEmail"), "after")
        ),
        "SES unreachable": lambda: AwsFaults(unreachable={("sesv2", "SendEmail"): 6}),
        # bo's order: the write that puts bo in two segments and a tier (the only transaction
        # of ingest here: the others are plain writes, docs/storage.md)
        "ingest after the write (segment/tier announcements)": lambda: AwsFaults(
            crash=("ingest", _nth("ingest", "TransactWriteItems", 1), "after")
        ),
    }[name]()


@pytest.mark.parametrize("name", NAMES)
def test_the_crash_points_found_lost_end_sent_once_or_recorded_failed(name):
    run = Run(named_point(name)).play()
    assert verdict(run).startswith("ok"), f"{name}: {verdict(run)}"


# -- the same crash points when dispatch's own function sends (the table stream) ---------------
STREAM_POINTS = {
    "after the claim": ("UpdateItem", 1, "after"),
    "before the provider call": ("TransactWriteItems", 1, "before"),
    "after the calling_at marker": ("TransactWriteItems", 1, "after"),
    "after the provider accepted": ("SendEmail", 1, "after"),
}


@pytest.fixture(scope="module")
def stream_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The sample config without the arbitration window: a message due at once is handed to
    dispatch by the table stream (retried 5 times within seconds, then DispatchDLQ); and the
    calls dispatch makes in a clean run of it."""
    settings = (CONFIG / "settings.yaml").read_text()
    settings = settings.replace("arbitration_window: 1m", "arbitration_window: 0m")
    config = make_config(tmp_path_factory.mktemp("stream"), **{"settings.yaml": settings})
    baseline = Run(config=config).play()
    return config, [c for h, c in baseline.faults.calls if h == "dispatch"]


@pytest.mark.parametrize("name", list(STREAM_POINTS))
def test_the_same_crash_points_in_the_stream_path_end_sent_once_or_recorded_failed(
    name, stream_config
):
    config, calls = stream_config
    assert "sesv2.SendEmail" in calls  # dispatch's own function sends here
    operation, nth, where = STREAM_POINTS[name]
    n = [i for i, c in enumerate(calls, 1) if c.endswith("." + operation)][nth - 1]

    run = Run(AwsFaults(crash=("dispatch", n, where)), config=config).play()

    assert run.faults.crashed
    sent = {m: o for m, o in run.result["outbox"].items() if run.result["emails"].get(m)}
    assert all(run.result["emails"][m] == 1 for m in sent)  # never twice
    ended = {o[:2]: run.result["finals"].get(m) for m, o in run.result["outbox"].items()}
    assert all(f is not None for f in ended.values()), run.result["trace"]
    assert not run.result["in_flight"], run.result["trace"]
    assert ended[("ana", "cart_jewelry_high_value")] in (
        ("sent", None),
        ("failed", "provider_error"),
    )
