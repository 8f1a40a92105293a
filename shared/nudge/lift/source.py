"""Where ``nudge report lift`` reads from: a ``nudge simulate`` output file, or a deployed
table (a scan of its decision, conversion and profile items, with the control-group shares
from the config)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from nudge.lift.facts import config_facts, engagement_of
from nudge.lift.measure import LiftInput


class LiftSourceError(Exception):
    """The report cannot read its input (said in words for the command line)."""


def from_file(path: str, config_dir: str | None = None) -> LiftInput:
    """A ``nudge simulate`` output file (its ``holdout``, else the config's)."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise LiftSourceError(f"--from-file {path}: not a nudge simulate output ({exc})") from None
    if not isinstance(doc, dict) or "decisions" not in doc:
        raise LiftSourceError(f"--from-file {path}: not a nudge simulate output (no decisions)")
    facts = config_facts(config_dir) if config_dir or "holdout" not in doc else {}
    targets = {
        tid: {k: row.get(k) for k in ("kind", "event", "enabled")}
        for tid, row in (doc.get("funnel") or {}).items()
    }
    engagement: dict[str, set[str]] = {}
    for item in doc.get("engagement") or ():
        engagement.setdefault(item["message_id"], set()).add(item["type"])
    return LiftInput(
        decisions=doc["decisions"],
        conversions=doc.get("conversions") or [],
        holdout=doc.get("holdout") or facts.get("holdout") or {},
        targets=targets or facts.get("targets") or {},
        engagement=engagement,
        attribution=doc.get("attribution") or facts.get("attribution") or {},
        now=doc.get("simulated_until"),
    )


def from_table(table: str | None, config_dir: str | None = None) -> LiftInput:
    """A deployed table (``--table`` or $NUDGE_TABLE): every decision, conversion and profile
    history, scanned; the shares and the funnel's ids from the config."""
    if table:
        os.environ["NUDGE_TABLE"] = table
    if not os.environ.get("NUDGE_TABLE"):
        raise LiftSourceError(
            "say where the decisions are: --from-file FILE (a `nudge simulate` output) or "
            "--table TABLE (a deployment; or set $NUDGE_TABLE)"
        )
    import botocore.exceptions as boto_errors

    from nudge.aws import store
    from nudge.env import reset_env

    reset_env()
    try:
        decisions = store.stored_decisions()  # log items, and what profiles keep
        conversions = [json.loads(i["doc"]["S"]) for i in store.scan_kind("conversion")]
        profiles = store.profile_docs()
    except boto_errors.NoRegionError:
        raise LiftSourceError(
            "no AWS region: set AWS_REGION to the deployment's region, or read a simulation "
            "with --from-file out/day.json"
        ) from None
    except (boto_errors.BotoCoreError, boto_errors.ClientError) as exc:
        raise LiftSourceError(f"reading table {os.environ['NUDGE_TABLE']}: {exc}") from None
    facts = config_facts(config_dir)
    return LiftInput(
        decisions=sorted(decisions, key=lambda d: d["at"]),
        conversions=sorted(conversions, key=lambda d: d["at"]),
        holdout=facts.get("holdout") or {},
        targets=facts.get("targets") or {},
        engagement=engagement_of(p.get("history") or () for p in profiles),
        attribution=facts.get("attribution") or {},
    )


def period_time(flag: str, text: str | None, now: datetime) -> str | None:
    """``--since``/``--until``: a time with an offset, a date (UTC midnight) or a duration back
    from ``now`` (``7d``), as an ISO time in UTC; None when not given."""
    if not text:
        return None
    from nudge.explain import ExplainError, since_time

    try:
        return since_time(text, now)
    except ExplainError:
        raise LiftSourceError(
            f"{flag} {text!r}: give a duration back from now (7d, 12h, 30m), a date "
            "(2027-02-10) or a time with an offset (2027-02-10T00:00:00Z)"
        ) from None
