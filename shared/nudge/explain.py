"""``nudge explain``: the timeline of decisions for one customer, with the values behind them.

Reads a ``nudge simulate`` output file (``--from-file``) or a deployed table (``--table`` or
``$NUDGE_TABLE``, with the usual AWS credentials and region). See
docs/reference.md#nudge-explain.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from nudge.core.attribution import CONVERTED
from nudge.core.clock import iso, parse_time
from nudge.core.decisions import MISSES_MAX, misses_gone, reason_words
from nudge.core.durations import parse_duration


class ExplainError(Exception):
    """What the user asked for cannot be answered; the message says why and what to do."""


def since_time(text: str, now: datetime) -> str:
    """``--since``: a time with an offset (``2027-02-10T00:00:00Z``), a date (``2027-02-10``,
    UTC midnight) or a duration back from ``now`` (``7d``, ``12h``); as an ISO time in UTC."""
    text = text.strip()
    try:
        return iso(now - parse_duration(text))
    except ValueError:
        pass
    try:
        if len(text) == 10:
            text += "T00:00:00Z"
        return iso(parse_time(text))
    except ValueError:
        raise ExplainError(
            f"--since {text!r}: give a duration back from now (7d, 12h, 30m) or a time with an "
            "offset (2027-02-10T00:00:00Z)"
        ) from None


def _suggest(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _known_of(kind: str, name: str, known: set[str]) -> str:
    listed = ", ".join(sorted(known)) if known else "none"
    return f"unknown {kind} {name!r}{_suggest(name, known)} (known: {listed})"


def _from_file(
    args: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any], set[str], datetime]:
    path = Path(args.from_file)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ExplainError(f"--from-file {path}: not a nudge simulate output ({exc})") from None
    customer_id = args.customer_id
    everyone = {d["customer_id"] for d in doc.get("decisions", [])} | set(doc.get("profiles", {}))
    if customer_id not in everyone:
        raise ExplainError(
            f"no customer {customer_id!r} in {path}{_suggest(customer_id, everyone)}"
        )
    decisions = [
        d
        for d in [*doc["decisions"], *doc.get("conversions", [])]
        if d["customer_id"] == customer_id
    ]
    messages = {
        m["message_id"]: m for m in doc.get("messages", []) if m.get("customer_id") == customer_id
    }
    triggers = set(doc.get("funnel") or {}) | {
        d["trigger"] for d in doc.get("decisions", []) if d.get("trigger")
    }
    until = doc.get("simulated_until")
    now = parse_time(until) if until else datetime.now().astimezone()
    return decisions, doc.get("profiles", {}).get(customer_id), messages, triggers, now


def _config_triggers(args: Any) -> set[str]:
    """Trigger and campaign ids of the config (``--config``, $NUDGE_CONFIG_DIR or ./config)."""
    directory = getattr(args, "config", None) or os.environ.get("NUDGE_CONFIG_DIR") or "config"
    if not Path(directory).is_dir():
        return set()
    from nudge.config import ConfigInvalid, load_config

    try:
        config = load_config(directory)
    except ConfigInvalid:
        return set()
    return set(config.triggers) | set(config.campaigns)


def _from_table(
    args: Any,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, dict[str, Any], set[str], datetime]:
    if not (args.table or os.environ.get("NUDGE_TABLE")):
        raise ExplainError(
            "say where the decisions are: --from-file FILE (a `nudge simulate` output, e.g. "
            "out/day.json) or --table TABLE (a deployment; or set $NUDGE_TABLE)"
        )
    import botocore.exceptions as boto_errors

    from nudge.aws import store
    from nudge.env import reset_env

    if args.table:
        os.environ["NUDGE_TABLE"] = args.table
    reset_env()
    try:
        profile = store.get_profile(args.customer_id).doc
        decisions = store.decisions_for(args.customer_id)
    except boto_errors.NoRegionError:
        raise ExplainError(
            "no AWS region: set AWS_REGION (or a profile's region in ~/.aws/config) to the "
            "deployment's region, or read a simulation with --from-file out/day.json"
        ) from None
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        raise ExplainError(f"reading table {os.environ['NUDGE_TABLE']}: {exc}") from None
    if not decisions and profile is None:
        raise ExplainError(f"no customer {args.customer_id!r} in {os.environ['NUDGE_TABLE']}")
    triggers = _config_triggers(args) | {d["trigger"] for d in decisions if d.get("trigger")}
    return decisions, profile, {}, triggers, datetime.now().astimezone()


def explain_command(args: Any) -> int:
    """Print the customer's decision timeline. Exit 1, saying why, for an unknown customer or
    trigger (with a did-you-mean), a bad ``--since``, or a table that cannot be read."""
    try:
        return _explain(args)
    except ExplainError as exc:
        print(f"explain: {exc}", file=sys.stderr)
        return 1


def _explain(args: Any) -> int:
    source = _from_file if args.from_file else _from_table
    decisions, profile, messages, triggers, now = source(args)
    trigger = getattr(args, "trigger", None)
    if trigger and trigger not in triggers:
        raise ExplainError(_known_of("trigger", trigger, triggers))
    if trigger:
        decisions = [d for d in decisions if d.get("trigger") == trigger]
    since = getattr(args, "since", None)
    if since:
        start = since_time(since, now)
        decisions = [d for d in decisions if parse_time(d["at"]) >= parse_time(start)]
    print(f"Customer {args.customer_id}")
    if profile is not None:
        consent = profile.get("consent") or {}
        print(
            f"  now: orders {profile.get('orders_count', 0)}, lifetime value "
            f"{profile.get('lifetime_value', 0)}, segments {profile.get('segments') or []}, "
            f"tier {profile.get('value_tier')}, consent email={consent.get('email')} "
            f"sms={consent.get('sms')}"
        )
    gone, gone_at = misses_gone(profile)
    if gone and gone_at and (not since or gone_at >= since_time(since, now)):
        print(
            f"  earlier: {gone} event(s) up to {gone_at} decided only that the customer was not "
            f"in a trigger's audience; they are no longer kept (the profile keeps the last "
            f"{MISSES_MAX} such events)"
        )
    if not decisions:
        scope = f" by {trigger}" if trigger else ""
        scope += f" since {since_time(since, now)}" if since else ""
        print(f"  nothing was decided{scope}: no trigger or campaign matched any of their events")
        return 0
    decisions = sorted(decisions, key=lambda d: (d["at"], (d.get("detail") or {}).get("seq", 0)))
    for d in decisions:
        if d["outcome"] == CONVERTED:
            print(_conversion_line(d))
            continue
        reason = d.get("reason")
        detail = dict(d.get("detail") or {})
        because = detail.pop("because", None)
        detail.pop("seq", None)
        why = f" ({reason}: {reason_words(reason)})" if reason else ""
        via = f" via {d['channel']}" if d.get("channel") else ""
        cause = f", on {d['event_type']} {d['event_id']}" if d.get("event_type") else ""
        print(f"  {d['at']}  {d.get('trigger') or '-'}: {d['outcome']}{why}{via}{cause}")
        if because:
            print(f"      because {because}")
        for key, value in detail.items():
            print(f"      {key} = {json.dumps(value, default=str)}")
        sent = messages.get(d.get("message_id") or "")
        if sent and d["outcome"] == "sent":
            print(f"      message to {sent['to']}: {sent.get('subject') or sent.get('text')!r}")
    paths = journey_paths(decisions)
    if paths:
        print("  journeys (the path through each, one line per time they entered):")
        for journey, line in paths:
            print(f"    {journey}: {line}")
    return 0


def _conversion_line(d: dict[str, Any]) -> str:
    """``<at>  cart_x: converted, order o-1 (120.00 USD) credited to the message sent at <at>
    (last_touch)``: a conversion in the timeline."""
    detail = d.get("detail") or {}
    value = " ".join(str(v) for v in (detail.get("value"), detail.get("currency")) if v)
    order = f", {d.get('event_type') or 'order'} {detail.get('order_id') or d.get('event_id')}"
    touch = "held out" if detail.get("touch") == "held_out" else "sent"
    return (
        f"  {d['at']}  {d.get('trigger') or '-'}: converted{order}"
        + (f" ({value})" if value else "")
        + f", credited to the message {touch} at {detail.get('touched_at')} "
        f"({detail.get('model', 'last_touch')})"
    )


def journey_paths(decisions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each journey run of these decisions (in order) as one line: the steps the customer went
    through, what each did, and how it ended (``entered -> wait1 (waited until ...) -> ...``)."""
    journeys = {d.get("trigger") for d in decisions if d["outcome"] == "entered"}
    runs: list[tuple[str, list[str]]] = []
    current: dict[str, list[str]] = {}
    for d in decisions:
        journey = d.get("trigger")
        if journey not in journeys:
            continue
        assert journey is not None
        detail = d.get("detail") or {}
        outcome, reason, step = d["outcome"], d.get("reason"), detail.get("step")
        if outcome == "entered":
            current[journey] = ["entered" + (f" (held out: {reason})" if reason else "")]
            runs.append((journey, current[journey]))
            continue
        line = current.get(journey)
        if line is None:
            continue
        if reason in ("in_journey", "reentry"):
            line.append(f"(entered again at {d['at']}: not taken, {reason})")
        elif outcome == "waiting":
            line.append(f"{step} (waited until {detail.get('until')})")
        elif outcome == "branched":
            line.append(f"{step} [{detail.get('branch')} -> {detail.get('to')}]")
        elif outcome == "split":
            line.append(f"{step} [{detail.get('variant')}]")
        elif outcome in ("exited", "completed"):
            line.append(outcome + (f" ({reason})" if reason else ""))
        elif step:
            via = f" via {d['channel']}" if d.get("channel") else ""
            line.append(f"{step} ({outcome}{f' {reason}' if reason else ''}{via})")
    return [(journey, " -> ".join(line)) for journey, line in runs]
