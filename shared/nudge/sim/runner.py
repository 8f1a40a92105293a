"""Run the real handlers on moto with a simulated clock that fires due schedules.

Events go the deployed way: PutEvents on the bus -> rule (real pattern matching) -> SQS ->
ingest handler (as an SQS batch). New outbox items are read from the table's stream and handed
to dispatch when the template's stream filter lets them through (those due at once); one-time
schedules (waits, messages due later) are fired by the clock when they fall due.

Failures are retried as the deployed stack retries them (``template.yaml``), on the simulated
clock: an ingest record that failed is received again after the queue's visibility timeout, up
to ``maxReceiveCount`` receives, then moved to the ingest DLQ; a stream record dispatch failed is
retried (``MaximumRetryAttempts``), then described in the dispatch DLQ; an asynchronous invocation
(wake, campaign, score, feedback, the sweeper) that raised is retried about 1 and 2 minutes later,
then its invocation record goes to the function's DLQ. Once anything failed, the sweeper's
schedule (every few minutes) runs too, until nothing is left in flight.

Simulated time follows the data: the clock starts at the first event (or at a given start) and
crons (campaigns, the daily recompute) count from there, so a run costs what its events and the
days they cover cost, whatever the date.
"""

from __future__ import annotations

import base64
import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nudge.aws import clients as aws
from nudge.aws.store import transactions
from nudge.config import get_config, load_config
from nudge.core import clock
from nudge.core.clock import SimulatedClock, iso, parse_time
from nudge.core.cron import parse_cron
from nudge.core.durations import HINT as DURATION_HINT
from nudge.core.durations import parse_duration
from nudge.env import reset_env
from nudge.faults import InjectedCrash, in_handler
from nudge.sim.backends import DEFAULT_BACKEND, make_backend
from nudge.sim.infra import ENV, RetryTiming, create_resources
from nudge.sim.patterns import matches
from nudge.sim.readback import ReadBack

# where the clock stands when nothing says where to start (no start given, no event played yet)
FALLBACK_START = parse_time("2027-01-01T00:00:00Z")


class SimulationError(Exception):
    """The simulation cannot run (bad config, unreadable events)."""


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """Events from a JSONL file (one EventBridge envelope per line); raises on unreadable lines."""
    events = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SimulationError(f"{path}: cannot read events: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise SimulationError(f"{path}:{number}: not a JSON event: {exc}") from None
        if not isinstance(event, dict):
            raise SimulationError(f"{path}:{number}: each line must be a JSON object")
        events.append(event)
    return events


def _event_time(event: dict[str, Any]) -> datetime | None:
    try:
        return parse_time(event.get("time") or "")
    except (ValueError, TypeError, AttributeError):
        return None


def event_span(events: Iterable[dict[str, Any]]) -> tuple[datetime, datetime] | None:
    """The first and last event times (events without a readable ``time`` left out), or None."""
    times = [t for t in map(_event_time, events) if t is not None]
    return (min(times), max(times)) if times else None


def parse_start(text: str) -> datetime:
    """``--start``: an ISO 8601 time with an offset; raises ``ValueError`` with a hint."""
    try:
        return parse_time(text)
    except ValueError as exc:
        hint = str(exc) if "no UTC offset" in str(exc) else "write it like 2027-02-10T00:00:00Z"
        raise ValueError(f"--start {text!r} is not a time; {hint}") from None


def parse_until(text: str) -> datetime | timedelta:
    """``--until``: an ISO 8601 time, or a duration after the last event (``7d``, ``36h``)."""
    try:
        return parse_duration(text)
    except ValueError:
        pass
    try:
        return parse_time(text)
    except ValueError:
        raise ValueError(
            f"--until {text!r} is neither a time (2027-02-17T00:00:00Z) nor a duration after "
            f"the last event ({DURATION_HINT})"
        ) from None


def check_times(
    events: list[dict[str, Any]], start: datetime | None, until: datetime | timedelta | None
) -> None:
    """What ``nudge simulate`` refuses (raises SimulationError): an event before ``--start``
    (the run would play it late, at the start, as a history import) and a ``--until`` time
    before the last event (every event is played, so the run cannot stop before one)."""
    span = event_span(events)
    if span and start and span[0] < start:
        early = sum(1 for t in map(_event_time, events) if t is not None and t < start)
        raise SimulationError(
            f"{early} event(s) are before --start {iso(start)} (the first at {iso(span[0])}); "
            "give a --start at or before the first event, or leave it out to start there"
        )
    last, what = (span[1], "the last event") if span else (start, "--start")
    if isinstance(until, datetime) and last is not None and until < last:
        raise SimulationError(
            f"--until {iso(until)} is before {what} ({iso(last)}); give a later time, or a "
            "duration after the last event (2d)"
        )


class Simulation(ReadBack):
    """An in-process nudge deployment. Use as a context manager. This module drives it (events,
    the stream, due schedules); reading it back (decisions, messages, profiles, ...) is
    :class:`nudge.sim.readback.ReadBack`."""

    def __init__(
        self,
        config_dir: str | Path,
        start: datetime | None = None,
        daily: bool = False,
        backend: str = DEFAULT_BACKEND,
    ) -> None:
        """``start`` puts the clock there; without it the clock starts at the first event
        :meth:`run` plays (or :meth:`put` puts, or the first time :meth:`advance` goes to).
        Crons fire only after the start. ``daily`` also fires the daily recompute (scores,
        time-driven segment changes) at 03:00 shop time, as the deployed schedule does;
        ``nudge simulate`` turns it on. ``backend`` is where AWS lives: ``memory`` (nudge's
        in-memory AWS, the default) or ``moto``; both run the same handlers and calls."""
        self.backend = make_backend(backend)  # raises ValueError before anything runs
        self.config_dir = str(config_dir)
        self.config = load_config(self.config_dir)  # raises ConfigInvalid before anything runs
        self.clock = SimulatedClock(start or FALLBACK_START)
        self.started = self.clock.current
        self._begun = start is not None
        self.daily = daily
        # every schedule fired, in order: (time, kind) with kind "wake", "campaign" or "daily"
        self.fired: list[tuple[datetime, str]] = []
        self._cron_last: dict[str, datetime] = {}
        self._saved_env: dict[str, str | None] = {}
        self._restore_stubber: Any = lambda: None
        self._previous_clock: Any = None
        self._iterators: dict[str, str] = {}
        self.stream_arn = ""
        self.queue_url = ""
        self.dlq_url = ""
        self.dispatched = 0
        self._stream_filters: list[Any] = []
        self.timing = RetryTiming()
        self.dlqs: dict[str, str] = {}  # function -> its DLQ's URL (ingest's is dlq_url)
        # failed invocations waiting for their retry: (at, seq, kind, payload, attempt)
        self._retries: list[tuple[datetime, int, str, Any, int]] = []
        self._next_sweep: datetime | None = None  # the sweeper runs once something failed
        self._seq = 0
        self.failures: list[tuple[datetime, str, str]] = []  # (when, function, error)
        self.webhook_queue_url = self.webhook_dlq_url = ""
        self.webhook_policy: Any = None
        # every webhook request an endpoint took: what it received (messages() lists them)
        self.webhook_posts: list[dict[str, Any]] = []
        # log items the profiles kept instead of putting (store.transactions.KEPT_LISTENERS)
        self.kept_log: list[dict[str, Any]] = []
        self._keep = self.kept_log.append

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Simulation:
        for key, value in {**ENV, "NUDGE_CONFIG_DIR": self.config_dir}.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        self.backend.start()
        reset_env()
        get_config.cache_clear()
        self._previous_clock = clock.install(self.clock)
        self._restore_stubber = _leave_faulted_requests_alone()
        transactions.KEPT_LISTENERS.append(self._keep)
        sender = self.config.settings.sender.email
        made = create_resources(Path(self.config_dir), self.daily, sender)
        self.stream_arn, self.queue_url = made.stream_arn, made.queue_url
        self.dlq_url, self._stream_filters = made.dlq_url, made.stream_filters
        self.timing, self.dlqs = made.timing, made.dlqs
        self.webhook_queue_url, self.webhook_dlq_url = made.webhook_queue_url, made.webhook_dlq_url
        self.webhook_policy = made.webhook_policy
        return self

    def __exit__(self, *exc: object) -> None:
        if self._keep in transactions.KEPT_LISTENERS:
            transactions.KEPT_LISTENERS.remove(self._keep)
        clock.install(self._previous_clock)
        self._restore_stubber()
        self.backend.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_env()
        get_config.cache_clear()

    # -- driving -----------------------------------------------------------------------------
    def begin(self, start: datetime) -> None:
        """Start the clock at ``start``; crons count from there. Once, before anything ran;
        raises SimulationError if the clock already started elsewhere."""
        start = parse_time(start)
        if self._begun:
            if start != self.started:
                raise SimulationError(
                    f"the clock already started at {iso(self.started)}; cannot start it again "
                    f"at {iso(start)}"
                )
            return
        self.clock.current = start.astimezone(UTC)  # set() never moves back; this is the start
        self.started = self.clock.current
        self._cron_last.clear()
        self._begun = True

    def put(self, envelope: dict[str, Any]) -> None:
        """Put one storefront event on the bus and let everything it causes happen."""

        if not self._begun:
            self.begin(_event_time(envelope) or self.clock.current)
        detail = envelope.get("detail")
        entry = {
            "Source": str(envelope.get("source") or ""),
            "DetailType": str(envelope.get("detail-type") or ""),
            "Detail": detail if isinstance(detail, str) else json.dumps(detail),
            "EventBusName": ENV["NUDGE_BUS_NAME"],
        }
        when = _event_time(envelope)
        if when is not None:
            entry["Time"] = when  # type: ignore[assignment]
        bodies: list[str] = []
        is_object = isinstance(detail, dict) or _is_json_object(entry["Detail"])
        if entry["Source"] and entry["DetailType"] and is_object:
            aws.client("events").put_events(Entries=[entry])
            bodies = self._drain(self.queue_url)
        else:
            # EventBridge would refuse it at PutEvents; a storefront bug that reached a queue
            # directly is still handled: ingest parks it in the DLQ with the reason.
            bodies = [json.dumps(envelope)]
        if bodies:
            records = [{"messageId": f"m-{i}", "body": b} for i, b in enumerate(bodies)]
            self._ingest(records, 1)
        self.pump()

    # -- invoking, as Lambda does, with its retries ------------------------------------------
    def _later(self, at: datetime, kind: str, payload: Any, attempt: int) -> None:
        self._seq += 1
        self._retries.append((at, self._seq, kind, payload, attempt))
        self._retries.sort(key=lambda r: (r[0], r[1]))
        self._start_sweeping()

    def _failed(self, function: str, error: str) -> None:
        self.failures.append((self.clock.current, function, error))
        self._start_sweeping()

    def _start_sweeping(self) -> None:
        if self._next_sweep is None:
            self._next_sweep = self.clock.current + self.timing.sweep_every

    def _ingest(self, records: list[dict[str, Any]], receives: int) -> None:
        """An SQS batch to ingest; failed records are received again after the visibility
        timeout, and moved to the DLQ after ``maxReceiveCount`` receives."""
        from nudge.flows import ingest

        try:
            with in_handler("ingest"):
                out = ingest.handle({"Records": records})
            failed = {f["itemIdentifier"] for f in out.get("batchItemFailures") or ()}
        except InjectedCrash:  # the run died: the whole batch comes back
            failed = {r["messageId"] for r in records}
        for record in records:
            if record["messageId"] not in failed:
                continue
            self._failed("ingest", "batch item failure")
            if receives < self.timing.max_receives:
                again = self.clock.current + self.timing.visibility_timeout
                self._later(again, "ingest", record, receives + 1)
            else:  # SQS's redrive moves the message as it is
                aws.client("sqs").send_message(QueueUrl=self.dlq_url, MessageBody=record["body"])

    def _dispatch(self, records: list[dict[str, Any]], attempt: int) -> None:
        """Stream records to dispatch; failed ones are retried, then described in its DLQ."""
        from nudge.flows import dispatch

        try:
            with in_handler("dispatch"):
                out = dispatch.handle({"Records": records})
            failed = {f["itemIdentifier"] for f in out.get("batchItemFailures") or ()}
        except InjectedCrash:  # the run died: the whole batch is retried
            failed = {str(r["dynamodb"].get("SequenceNumber")) for r in records}
        for record in records:
            if str(record["dynamodb"].get("SequenceNumber")) not in failed:
                continue
            self._failed("dispatch", "batch item failure")
            if attempt <= self.timing.stream_retries:
                again = self.clock.current + timedelta(seconds=2 ** (attempt - 1))
                self._later(again, "dispatch", record, attempt + 1)
            else:
                self._park("dispatch", _stream_failure(record, attempt, self.clock.current))

    def invoke(self, function: str, payload: dict[str, Any], attempt: int = 1) -> Any:
        """Invoke ``function`` asynchronously (as Scheduler and EventBridge do): if it raises,
        Lambda retries it after about 1 and then 2 minutes, then sends the invocation record to
        its DLQ. Returns the handler's answer, or None when it raised."""
        try:
            with in_handler(function):
                answer = _async_handler(function)(payload)
        except (Exception, InjectedCrash) as exc:  # Lambda retries any error of an async run
            self._failed(function, repr(exc))
            # the sweeper's next run is its retry (MaximumRetryAttempts: 0)
            delays = () if function == "sweeper" else self.timing.async_retry_delays
            if attempt <= len(delays):
                again = self.clock.current + delays[attempt - 1]
                self._later(again, f"async:{function}", payload, attempt + 1)
            else:
                self._park(function, _invocation_record(function, payload, exc, attempt))
            answer = None
        self.pump()
        return answer

    def _park(self, function: str, record: dict[str, Any]) -> None:
        url = self.dlqs.get(function) or self.dlq_url
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))

    def sweep(self) -> Any:
        """Run the sweeper once, as its schedule does."""
        return self.invoke("sweeper", {"kind": "sweep"})

    def _next_retry(self, until: datetime) -> tuple[datetime, str] | None:
        candidates: list[tuple[datetime, str]] = []
        if self._retries and self._retries[0][0] <= until:
            candidates.append((self._retries[0][0], "retry"))
        if self._next_sweep is not None and self._next_sweep <= until:
            candidates.append((self._next_sweep, "sweep"))
        return min(candidates) if candidates else None

    def _run_retry(self, what: str) -> None:
        if what == "sweep":
            assert self._next_sweep is not None
            self.clock.set(self._next_sweep)
            answer = self.sweep()
            # a failed run (None) is retried by the next one
            busy = answer is None or answer.get("in_flight") or self._retries
            self._next_sweep = self.clock.current + self.timing.sweep_every if busy else None
            return
        at, _seq, kind, payload, attempt = self._retries.pop(0)
        self.clock.set(at)
        if kind == "webhook":
            self._post_webhook(payload, attempt)
        elif kind == "ingest":
            self._ingest([payload], attempt)
            self.pump()
        elif kind == "dispatch":
            self._dispatch([payload], attempt)
            self.pump()
        else:
            self.invoke(kind.split(":", 1)[1], payload, attempt)

    def _drain(self, url: str) -> list[str]:
        sqs = aws.client("sqs")
        bodies: list[str] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def pump(self) -> int:
        """Deliver new stream records to dispatch as the event source mapping does: only those
        its filter (``FilterCriteria`` in template.yaml) lets through."""
        streams = aws.client("dynamodbstreams")
        total = 0
        while True:
            records: list[dict[str, Any]] = []
            shards = streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"][
                "Shards"
            ]
            for shard in shards:
                shard_id = shard["ShardId"]
                iterator = (
                    self._iterators.get(shard_id)
                    or streams.get_shard_iterator(
                        StreamArn=self.stream_arn,
                        ShardId=shard_id,
                        ShardIteratorType="TRIM_HORIZON",
                    )["ShardIterator"]
                )
                page = streams.get_records(ShardIterator=iterator)
                self._iterators[shard_id] = page.get("NextShardIterator") or iterator
                records.extend(page.get("Records", []))
            wanted = [r for r in records if self._passes_filter(r)]
            if not records:
                self._webhooks()
                return total
            if wanted:
                self._dispatch(wanted, 1)
                total += len(wanted)

    # -- webhooks: what the API destination target does in AWS (nudge.sim.webhooks) -------------
    def _webhooks(self) -> None:
        """Post each webhook event the bus matched since the last look, once."""
        if not self.webhook_queue_url:
            return
        for body in self._drain(self.webhook_queue_url):
            self._post_webhook(json.loads(body), 1)

    def _post_webhook(self, event: dict[str, Any], tries: int) -> None:
        """Try ``event`` for the ``tries``-th time: delivered, tried again later on the
        simulated clock, or parked in the webhook dead-letter queue with the reason."""
        from nudge.sim import webhooks

        policy = self.webhook_policy or webhooks.WebhookPolicy()
        name, headers, body = webhooks.request_of(event, policy)
        endpoint = self.config.settings.webhooks.get(name)
        if endpoint is None:
            attempt = webhooks.Attempt(False, False, "UNKNOWN_ENDPOINT", f"no endpoint {name!r}")
        else:
            attempt = webhooks.post(endpoint.url, headers, body)
        if attempt.ok:
            assert endpoint is not None
            self.webhook_posts.append(
                {
                    "provider_id": str(event.get("id") or ""),
                    "url": endpoint.url,
                    "headers": headers,
                    "body": body,
                    "tries": tries,
                    "delivered_at": iso(self.clock.current),
                }
            )
            return
        self._failed("webhook", f"{attempt.code}: {attempt.message}")
        sent_at = parse_time(event.get("time") or iso(self.clock.current))
        again = webhooks.next_try(policy, attempt, tries, sent_at, self.clock.current)
        if again is not None:
            self._seq += 1
            self._retries.append((again, self._seq, "webhook", event, tries + 1))
            self._retries.sort(key=lambda r: (r[0], r[1]))
            return
        message = webhooks.dead_letter(event, attempt, tries, policy)
        aws.client("sqs").send_message(QueueUrl=self.webhook_dlq_url, **message)

    def _passes_filter(self, record: dict[str, Any]) -> bool:
        # as JSON, the way Lambda matches it (times and binary attributes are Python objects here)
        return any(matches(f, record, _as_json) for f in self._stream_filters)

    def due_schedules(
        self, until: datetime, first: bool = False
    ) -> list[tuple[datetime, str, dict[str, Any]]]:
        """Schedules due at or before ``until``, earliest first: one-time ``at(...)`` ones and
        the next firing of each ``cron(...)`` one (campaigns, the daily recompute). ``first``:
        the backend may leave out one-time ones after the earliest (the next to fire is right)."""
        group = ENV["NUDGE_SCHEDULER_GROUP"]
        due = []
        for got in self.backend.schedules(group, until, first):
            expression = got["ScheduleExpression"]
            if expression.startswith("at("):
                at: datetime | None = parse_time(expression[3:-1] + "Z")
            elif expression.startswith("cron("):
                zone = got.get("ScheduleExpressionTimezone") or "UTC"
                since = self._cron_last.setdefault(got["Name"], self.started)
                at = _next_cron(expression, zone, since)
            else:
                continue
            if at is not None and at <= until:
                due.append((at, got["Name"], json.loads(got["Target"]["Input"])))
        return sorted(due, key=lambda d: (d[0], d[1]))

    def advance(self, until: datetime) -> None:
        """Move the clock to ``until``, firing every schedule that falls due on the way (and
        the retries of anything that failed, and the sweeper while anything did)."""
        if not self._begun:
            self.begin(until)
        sched = aws.client("scheduler")
        while True:
            due = self.due_schedules(until, first=True)
            retry = self._next_retry(until)
            if retry is not None and (not due or retry[0] < due[0][0]):
                self._run_retry(retry[1])
                continue
            if not due:
                break
            at, name, payload = due[0]
            self.clock.set(at)
            if name in self._cron_last:
                self._cron_last[name] = at  # recurring: remember, keep the schedule
            else:
                sched.delete_schedule(Name=name, GroupName=ENV["NUDGE_SCHEDULER_GROUP"])
            kind = payload.get("kind")
            self.fired.append(
                (self.clock.current, kind if kind in ("campaign", "daily") else "wake")
            )
            function = {"campaign": "campaign", "daily": "score"}.get(str(kind), "wake")
            self.invoke(function, payload)
        self.clock.set(until)

    def run(
        self,
        events: Iterable[dict[str, Any]],
        until: datetime | timedelta | None = None,
        start: datetime | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Play events in time order, then let time run to ``until``: a time, or a duration
        after the last event (default 7 days after it).

        The clock starts at ``start``, else where the simulation was told to start, else at
        the first event. Events dated before the clock (a late history import) are played at
        once, in their order, at the clock's time; ``nudge simulate`` refuses them instead.
        ``progress`` is called with (events played, events in all) after each event."""
        with _fewer_collections():
            self._run(list(events), until, start, progress)

    def _run(
        self,
        events: list[dict[str, Any]],
        until: datetime | timedelta | None,
        start: datetime | None,
        progress: Callable[[int, int], None] | None,
    ) -> None:
        span = event_span(events)
        if start is not None:
            self.begin(start)
        elif not self._begun:
            self.begin(span[0] if span else self.clock.current)
        ordered = sorted(events, key=lambda e: _event_time(e) or self.clock.current)
        last = self.clock.current
        for done, event in enumerate(ordered, 1):
            when = _event_time(event) or self.clock.current
            self.advance(when)
            self.put(event)
            last = max(last, when)
            if progress is not None:
                progress(done, len(ordered))
        if not isinstance(until, datetime):
            until = last + (until if until is not None else timedelta(days=7))
        self.advance(until)


# objects made before the cyclic garbage collector looks for cycles (Python's default: 700)
_GC_EVERY = 100_000


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Let Python's cyclic garbage collector run less often during a run: a day makes millions
    of short-lived objects (freed at once by reference counting, cycles are rare) while the
    table it keeps grows, and each collection walks what is alive (about a sixth of a long
    run's time at the default threshold). Restored afterwards."""
    saved = gc.get_threshold()
    gc.set_threshold(max(saved[0], _GC_EVERY), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


@lru_cache(maxsize=256)
def _next_cron(expression: str, zone: str, since: datetime) -> datetime | None:
    """When a cron next fires after ``since`` (cached: asked again at every step of the clock)."""
    return parse_cron(expression).next_after(since, ZoneInfo(zone))


def _as_json(record: dict[str, Any]) -> dict[str, Any]:
    """A stream record as Lambda's filter sees it, in JSON: its time as text, binary attribute
    values base64-encoded (the rest of a record is JSON already)."""
    if not isinstance(record.get("dynamodb"), dict):
        return record
    body = dict(record["dynamodb"])
    when = body.get("ApproximateCreationDateTime")
    if when is not None and not isinstance(when, int | float | str):
        body["ApproximateCreationDateTime"] = str(when)
    for image in ("NewImage", "OldImage", "Keys"):
        if image in body and any("B" in v for v in body[image].values()):
            body[image] = {k: _b64(v) for k, v in body[image].items()}
    return {**record, "dynamodb": body}


def _b64(value: dict[str, Any]) -> dict[str, Any]:
    if "B" in value and isinstance(value["B"], bytes | bytearray):
        return {"B": base64.b64encode(value["B"]).decode()}
    return value


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _async_handler(function: str) -> Any:
    """The ``handle`` of a function the simulator invokes asynchronously."""
    if function == "wake":
        from nudge.flows import wake

        return wake.handle
    if function == "campaign":
        from nudge.flows import campaign

        return campaign.handle
    if function == "score":
        from nudge.flows import score  # type: ignore[attr-defined,unused-ignore]

        return score.handle
    if function == "feedback":
        from nudge.flows import feedback

        return feedback.handle
    if function == "sweeper":
        from nudge.flows import sweeper

        return sweeper.handle
    raise SimulationError(f"no function {function!r} is invoked asynchronously")


def _invocation_record(
    function: str, payload: Any, exc: BaseException, attempts: int, at: datetime | None = None
) -> dict[str, Any]:
    """What Lambda sends to an asynchronous function's failure destination once its retries
    ran out (the invocation record of the Lambda developer guide, "Capturing records of
    asynchronous invocations")."""
    return {
        "version": "1.0",
        "timestamp": iso(at or clock.now()),
        "requestContext": {
            "requestId": f"sim-{function}-{attempts}",
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:nudge-{function}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": str(exc), "errorType": type(exc).__name__},
    }


def _stream_failure(record: dict[str, Any], attempts: int, at: datetime) -> dict[str, Any]:
    """What a DynamoDB stream event source mapping sends to its on-failure destination: a
    description of the records it gave up on, not the records."""
    sequence = str(record.get("dynamodb", {}).get("SequenceNumber"))
    return {
        "requestContext": {
            "requestId": f"sim-dispatch-{sequence}",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:nudge-dispatch",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": None},
        "version": "1.0",
        "timestamp": iso(at),
        "DDBStreamBatchInfo": {
            "shardId": "sim-shard",
            "startSequenceNumber": sequence,
            "endSequenceNumber": sequence,
            "approximateArrivalOfFirstRecord": iso(at),
            "approximateArrivalOfLastRecord": iso(at),
            "batchSize": 1,
            "streamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/nudge-sim/stream/sim",
        },
    }


def _leave_faulted_requests_alone() -> Any:
    """Make moto ignore requests ``nudge.faults`` answered itself (a throttled request never
    reaches the service); returns the undo."""
    from moto.core.botocore_stubber import BotocoreStubber

    from nudge.faults import FAULT_HEADER

    original = BotocoreStubber.__call__

    def call(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if request.headers.get(FAULT_HEADER):
            return None
        return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = call  # type: ignore[method-assign]

    def restore() -> None:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]

    return restore
