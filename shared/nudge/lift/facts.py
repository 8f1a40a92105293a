"""What the lift report needs besides the decision log, read from a config and from profiles:
the control-group shares, the triggers and campaigns, the attribution rule, engagement per
message. No numpy here: ``nudge simulate`` writes these into its output file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nudge.core.events import ENGAGEMENT_TYPES


def engagement_of(histories: Iterable[Iterable[dict[str, Any]]]) -> dict[str, set[str]]:
    """Message id -> the engagement event types recorded about it in profile histories."""
    out: dict[str, set[str]] = {}
    for history in histories:
        for entry in history or ():
            mid = (entry.get("properties") or {}).get("message_id")
            if entry.get("type") in ENGAGEMENT_TYPES and mid:
                out.setdefault(str(mid), set()).add(str(entry["type"]))
    return out


def config_facts(directory: str | None) -> dict[str, Any]:
    """From a config directory: the control-group shares (``holdout``: ``global`` and
    ``triggers`` in percent), the ``targets`` for the funnel and the ``attribution`` rule.
    Empty when there is no readable config."""
    directory = directory or os.environ.get("NUDGE_CONFIG_DIR") or "config"
    if not Path(directory).is_dir():
        return {}
    from nudge.config import ConfigInvalid, load_config

    try:
        config = load_config(directory)
    except ConfigInvalid:
        return {}
    return facts_of(config)


def facts_of(config: Any) -> dict[str, Any]:
    """``holdout``, ``targets`` and ``attribution`` of a compiled config."""
    settings = config.settings
    shares: dict[str, float] = {}
    targets: dict[str, dict[str, Any]] = {}
    for tid, t in config.triggers.items():
        shares[tid] = float(getattr(t.model, "holdout", 0) or 0)
        targets[tid] = {"kind": "trigger", "event": t.model.when.event, "enabled": t.model.enabled}
    for cid, c in config.campaigns.items():
        shares[cid] = float(getattr(c.model, "holdout", 0) or 0)
        targets[cid] = {
            "kind": "campaign",
            "event": None,
            "enabled": getattr(c.model, "enabled", True),
        }
    rule = settings.attribution
    return {
        "holdout": {
            "global": float(settings.holdout.percent) if settings.holdout else 0.0,
            "triggers": shares,
        },
        "targets": targets,
        "attribution": {"event": rule.event, "window": rule.window, "model": rule.model},
    }
