"""``nudge backtest``: the same events through two configs on the simulator, and what the change
would have changed: messages added and removed per trigger, who, cap pressure and deferrals, sends
to customers who ordered anyway within the attribution window, and for changed templates the
rendered difference for a few customers (docs/testing-rules.md#backtest)."""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nudge.core.clock import iso, parse_time
from nudge.core.durations import parse_duration
from nudge.sim.backends import DEFAULT_BACKEND

SAMPLE = 5  # customers listed per trigger, and rendered diffs shown per changed template
# what nudge writes into a history itself (the replay derives them again), and customer_updated,
# whose traits the history does not keep (the profile's current traits stand in for them)
NOT_REPLAYED = ("segment_entered", "segment_exited", "value_tier_changed", "customer_updated")
_TOKEN = re.compile(r"t=n2\.[A-Za-z0-9_.-]+")


@dataclass
class Run:
    """One config's replay: its decisions and messages."""

    config_dir: str
    decisions: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    config: Any


def replay(config_dir: str | Path, events: list[dict[str, Any]], backend: str) -> Run:
    """Play ``events`` through the config on the simulator (raises ConfigInvalid)."""
    from nudge.sim.runner import Simulation

    with Simulation(config_dir, backend=backend) as sim:
        sim.run(events)
        return Run(str(config_dir), sim.decisions(), sim.messages(), sim.config)


def since_filter(
    events: list[dict[str, Any]], since: str | None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The events of the last ``since`` (``30d``) before ``now`` (default: the last event)."""
    if not since:
        return events
    times = [parse_time(e["time"]) for e in events if e.get("time")]
    if not times:
        return events
    horizon = (now or max(times)) - parse_duration(since)
    return [e for e in events if e.get("time") and parse_time(e["time"]) >= horizon]


def ordered_after(events: list[dict[str, Any]], event_type: str) -> dict[str, list[datetime]]:
    """When each customer did ``event_type`` (the attribution event), in time order."""
    out: dict[str, list[datetime]] = defaultdict(list)
    for e in events:
        detail = e.get("detail")
        if e.get("detail-type") == event_type and isinstance(detail, dict) and e.get("time"):
            out[str(detail.get("customer_id"))].append(parse_time(e["time"]))
    return {k: sorted(v) for k, v in out.items()}


def ordered_anyway(
    message: dict[str, Any], orders: dict[str, list[datetime]], window: timedelta
) -> datetime | None:
    """The first attribution event of the message's customer within ``window`` after it was
    sent (they "ordered anyway": the message may have been unneeded), or None."""
    sent = parse_time(message["at"]) if message.get("at") else None
    if sent is None:
        return None
    for at in orders.get(str(message.get("customer_id")), ()):
        if sent <= at <= sent + window:
            return at
    return None


def _key(m: dict[str, Any]) -> tuple[str, str, str]:
    return (str(m.get("customer_id")), str(m.get("trigger")), str(m.get("channel")))


def _split(
    base: list[dict[str, Any]], change: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[dict[str, Any], dict[str, Any]]]]:
    """(added, removed, kept pairs): messages matched by customer, trigger and channel, in
    time order; the ones left over on either side are added or removed."""
    by_base: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    by_change: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in base:
        by_base[_key(m)].append(m)
    for m in change:
        by_change[_key(m)].append(m)
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for key in sorted(set(by_base) | set(by_change)):
        b, c = by_base.get(key, []), by_change.get(key, [])
        pairs += list(zip(b, c, strict=False))
        added += c[len(b) :]
        removed += b[len(c) :]
    return added, removed, pairs


def _content(config: Any) -> dict[str, Any]:
    """The message sources of each trigger and campaign variant, to see which changed."""
    out: dict[str, Any] = {}
    for tid, t in config.triggers.items():
        out[tid] = (t.email, t.sms)
    for cid, c in config.campaigns.items():
        out[cid] = tuple((v.email, v.sms) for v in c.variants)
    return out


def _shown(m: dict[str, Any]) -> list[str]:
    lines = [f"Subject: {m['subject']}"] if m.get("subject") is not None else []
    lines += str(m.get("text") or "").splitlines()
    return [_TOKEN.sub("t=…", line) for line in lines]


def compare(
    base: Run, change: Run, events: list[dict[str, Any]], sample: int = SAMPLE
) -> dict[str, Any]:
    """What the change changes, per trigger and overall (the ``--json`` document)."""
    settings = change.config.settings
    window = parse_duration(settings.attribution.window)
    orders = ordered_after(events, settings.attribution.event)
    added, removed, pairs = _split(base.messages, change.messages)
    targets = sorted(
        {str(m.get("trigger")) for m in [*base.messages, *change.messages]}
        | {str(d.get("trigger")) for d in [*base.decisions, *change.decisions] if d.get("trigger")}
    )

    def row(tid: str | None) -> dict[str, Any]:
        def mine(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [i for i in items if tid is None or i.get("trigger") == tid]

        plus, minus = mine(added), mine(removed)
        kept = [(b, c) for b, c in pairs if tid is None or b.get("trigger") == tid]
        later = sum(1 for b, c in kept if c["at"] > b["at"])
        earlier = sum(1 for b, c in kept if c["at"] < b["at"])
        moved = [b for b, c in kept if c["at"] != b["at"]]
        affected = sorted({str(m["customer_id"]) for m in [*plus, *minus, *moved]})
        anyway = []
        for m in plus:
            at = ordered_anyway(m, orders, window)
            if at is not None:
                anyway.append({"customer": m["customer_id"], "sent": m["at"], "ordered": iso(at)})

        def count(run: Run, test: Any) -> int:
            return sum(1 for d in mine(run.decisions) if test(d))

        def sent_then_ordered(run: Run) -> int:
            return sum(1 for m in mine(run.messages) if ordered_anyway(m, orders, window))

        return {
            "messages": {"base": len(mine(base.messages)), "change": len(mine(change.messages))},
            "added": len(plus),
            "removed": len(minus),
            "later": later,  # sent under both, but later under the change
            "earlier": earlier,
            "customers_affected": len(affected),
            "sample": affected[:sample],
            "deferred": {
                "base": count(base, lambda d: d["outcome"] == "deferred"),
                "change": count(change, lambda d: d["outcome"] == "deferred"),
            },
            "cap_pressure": {  # decisions held back or dropped by a frequency cap
                "base": count(base, lambda d: d.get("reason") == "frequency_cap"),
                "change": count(change, lambda d: d.get("reason") == "frequency_cap"),
            },
            "ordered_anyway": {
                "base": sent_then_ordered(base),
                "change": sent_then_ordered(change),
            },
            "added_ordered_anyway": anyway,
        }

    before, after = _content(base.config), _content(change.config)
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    diffs = []
    for tid in changed:
        shown = 0
        for b, c in pairs:
            if b.get("trigger") != tid or shown >= min(sample, 3):
                continue
            lines = list(
                difflib.unified_diff(_shown(b), _shown(c), "base", "change", lineterm="", n=1)
            )
            if lines:
                diffs.append({"trigger": tid, "customer": b["customer_id"], "diff": lines})
                shown += 1

    def brief(m: dict[str, Any], other: Run) -> dict[str, Any]:
        out = {k: m.get(k) for k in ("customer_id", "trigger", "channel", "at", "subject")}
        # what the other config decided last for this customer and trigger instead
        theirs = [
            d
            for d in other.decisions
            if d.get("customer_id") == m.get("customer_id") and d.get("trigger") == m.get("trigger")
        ]
        last = theirs[-1] if theirs else None
        out["instead"] = (
            {k: last.get(k) for k in ("outcome", "reason", "at", "event_type")} if last else None
        )
        return out

    return {
        "base": base.config_dir,
        "change": change.config_dir,
        "events": len(events),
        "attribution": {"window": settings.attribution.window, "event": settings.attribution.event},
        "overall": row(None),
        "triggers": {tid: row(tid) for tid in targets},
        "added": [brief(m, base) for m in added],
        "removed": [brief(m, change) for m in removed],
        "changed_content": changed,
        "template_diffs": diffs,
    }


def render_backtest(report: dict[str, Any]) -> str:
    """The backtest as a marketer reads it."""
    window = report["attribution"]["window"]
    lines = [
        f"backtest: {report['events']} events through {report['base']} (base) and "
        f"{report['change']} (change)",
        "",
    ]
    rows = [("overall", report["overall"]), *report["triggers"].items()]
    for name, r in rows:
        m = r["messages"]
        delta = m["change"] - m["base"]
        lines.append(
            f"{name}: {m['base']} -> {m['change']} messages ({delta:+d}; "
            f"+{r['added']} added, -{r['removed']} removed)"
        )
        if r["later"] or r["earlier"]:
            lines.append(f"  sent later: {r['later']}, sent earlier: {r['earlier']}")
        if r["customers_affected"]:
            more = r["customers_affected"] - len(r["sample"])
            listed = ", ".join(r["sample"]) + (f" and {more} more" if more > 0 else "")
            lines.append(f"  customers affected: {r['customers_affected']} ({listed})")
        d, c, o = r["deferred"], r["cap_pressure"], r["ordered_anyway"]
        if d["base"] or d["change"]:
            lines.append(f"  deferred: {d['base']} -> {d['change']}")
        if c["base"] or c["change"]:
            lines.append(f"  held back or dropped by a frequency cap: {c['base']} -> {c['change']}")
        if o["base"] or o["change"]:
            lines.append(
                f"  sent to customers who ordered within {window} anyway: "
                f"{o['base']} -> {o['change']}"
            )
        anyway = r["added_ordered_anyway"]
        if anyway:
            lines.append(
                f"  {len(anyway)} of the {r['added']} added went to customers who ordered "
                f"anyway within {window}:"
            )
            for a in anyway[:SAMPLE]:
                lines.append(f"    {a['customer']}: sent {a['sent']}, ordered {a['ordered']}")
        lines.append("")
    if report["added"] or report["removed"]:
        lines.append("messages:")
        for sign, key, other in (("+", "added", "base"), ("-", "removed", "change")):
            for m in report[key]:
                lines.append(
                    f"  {sign} {m['at']}  {m['customer_id']}  {m['trigger']}  {m['channel']}"
                    + (f'  "{m["subject"]}"' if m.get("subject") else "")
                )
                instead = m.get("instead")
                if instead:
                    why = f" ({instead['reason']})" if instead.get("reason") else ""
                    by = f" by {instead['event_type']}" if instead.get("event_type") else ""
                    lines.append(
                        f"      {other}: {instead['outcome']}{why} at {instead['at']}"
                        + (by if instead["outcome"] == "cancelled" else "")
                    )
                else:
                    lines.append(f"      {other}: no decision for this customer and trigger")
        lines.append("")
    for d in report["template_diffs"]:
        lines.append(f"{d['trigger']}, rendered for {d['customer']}:")
        lines += [f"  {line}" for line in d["diff"]]
        lines.append("")
    if report["changed_content"] and not report["template_diffs"]:
        changed = ", ".join(report["changed_content"])
        lines.append(f"content changed for {changed}; no customer got it under both configs")
    return "\n".join(lines).rstrip() + "\n"


def events_from_table(
    since: str | None = None, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The storefront events a deployed table still holds, as envelopes: each profile's recent
    history (what ``did``/``count``/``cancel_if`` read: at most 200 events per customer, and
    none older than the history horizon, 90 days), preceded by a ``customer_updated`` with the
    profile's traits and consent as they are now. nudge's own events (engagement, segment and
    tier changes) are left out: the replay makes its own. Reads the table named by ``NUDGE_TABLE``."""
    from nudge.aws.store import profile_docs
    from nudge.core.events import ENGAGEMENT_TYPES

    out: list[dict[str, Any]] = []
    for doc in profile_docs():
        cid = str(doc.get("customer_id"))
        history = [
            h
            for h in doc.get("history") or ()
            if h.get("type") not in ENGAGEMENT_TYPES and h.get("type") not in NOT_REPLAYED
        ]
        if not history:
            continue
        first = min(float(h["ts"]) for h in history)
        out.append(
            _envelope(
                "customer_updated",
                cid,
                datetime.fromtimestamp(first - 1, tz=UTC),
                {"traits": doc.get("traits") or {}, "consent": doc.get("consent") or {}},
                f"bt-{cid}",
            )
        )
        for h in history:
            when = datetime.fromtimestamp(float(h["ts"]), tz=UTC)
            detail = {"properties": h.get("properties") or {}}
            out.append(_envelope(str(h["type"]), cid, when, detail, str(h.get("id"))))
    out.sort(key=lambda e: e["time"])
    return since_filter(out, since, now)


REPLAY_POLL_SECONDS = 15.0
REPLAY_TIMEOUT_SECONDS = 3600.0


def events_from_archive(
    archive: str,
    since: str | None = None,
    now: datetime | None = None,
    poll_seconds: float = REPLAY_POLL_SECONDS,
) -> list[dict[str, Any]]:
    """The events an EventBridge archive of the nudge bus keeps, from ``since`` before ``now``
    (default: since the archive was created) until ``now``.

    EventBridge replays an archive only onto the bus it archives, so: a temporary queue and a
    temporary rule on that bus sending everything to it, a replay of the time range to that rule
    alone (``FilterArns``: the deployed rules never see the replayed events), then the queue
    drained and everything temporary deleted. Live events that reach the temporary rule meanwhile
    are told apart by their time (after the range) and dropped."""
    import uuid as _uuid

    from nudge.aws import clients as aws
    from nudge.core import clock

    events, sqs = aws.client("events"), aws.client("sqs")
    found = events.describe_archive(ArchiveName=archive)
    bus_arn = found["EventSourceArn"]
    end = now or clock.now()
    start = end - parse_duration(since) if since else found["CreationTime"]
    name = f"nudge-backtest-{_uuid.uuid4().hex[:12]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    rule_made = False
    try:
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        pattern = {"source": [{"prefix": ""}]}  # everything the replay brings
        rule_arn = events.put_rule(
            Name=name, EventBusName=bus_arn, EventPattern=json.dumps(pattern), State="ENABLED"
        )["RuleArn"]
        rule_made = True
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
        events.put_targets(
            Rule=name, EventBusName=bus_arn, Targets=[{"Id": "backtest", "Arn": queue_arn}]
        )
        events.start_replay(
            ReplayName=name,
            EventSourceArn=found["ArchiveArn"],
            EventStartTime=start,
            EventEndTime=end,
            Destination={"Arn": bus_arn, "FilterArns": [rule_arn]},
        )
        bodies: list[str] = []
        waited = 0.0
        while True:
            state = events.describe_replay(ReplayName=name)["State"]
            bodies += _drain(sqs, queue_url)
            if state in ("COMPLETED", "FAILED", "CANCELLED"):
                if state != "COMPLETED":
                    raise ValueError(f"the replay of {archive} ended {state}")
                break
            if waited > REPLAY_TIMEOUT_SECONDS:
                raise ValueError(f"the replay of {archive} did not finish within an hour")
            clock.sleep(poll_seconds)
            waited += poll_seconds
        bodies += _drain(sqs, queue_url)  # delivery may trail the replay's end a little
    finally:
        if rule_made:
            events.remove_targets(Rule=name, EventBusName=bus_arn, Ids=["backtest"])
            events.delete_rule(Name=name, EventBusName=bus_arn)
        sqs.delete_queue(QueueUrl=queue_url)
    out: dict[str, dict[str, Any]] = {}
    for body in bodies:
        event = json.loads(body)
        when = parse_time(event["time"]) if event.get("time") else None
        if when is None or not start <= when <= end:
            continue
        event.pop("replay-name", None)
        event.pop("ingestion-time", None)
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        # one per storefront event (a replay may deliver one twice)
        key = str(detail.get("event_id") or event.get("id"))
        out.setdefault(f"{event.get('detail-type')}|{key}", event)
    return sorted(out.values(), key=lambda e: str(e["time"]))


def _drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = got.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _envelope(
    kind: str, cid: str, at: datetime, detail: dict[str, Any], event_id: str
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": f"bt-{event_id}",
        "detail-type": kind,
        "source": "shop.storefront",
        "account": "123456789012",
        "time": iso(at),
        "region": "us-east-1",
        "resources": [],
        "detail": {"customer_id": cid, "event_id": event_id, **detail},
    }


def backtest(
    base_dir: str | Path,
    change_dir: str | Path,
    events: list[dict[str, Any]],
    backend: str = DEFAULT_BACKEND,
) -> dict[str, Any]:
    """Replay ``events`` through both configs and compare (raises ConfigInvalid)."""
    base = replay(base_dir, events, backend)
    change = replay(change_dir, events, backend)
    return compare(base, change, events)
