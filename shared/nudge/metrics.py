"""Business metrics (Powertools, CloudWatch EMF): decisions counted by outcome and reason.

Powertools is imported on first use, never at import time.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from typing import Any


def count_decisions(decisions: Iterable[Any]) -> None:
    """Emit one count per (outcome, reason) seen in ``decisions``."""
    counts = Counter((d.outcome, d.reason or "none") for d in decisions)
    if not counts or not os.environ.get("POWERTOOLS_METRICS_NAMESPACE"):
        return
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true"):
        return
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    for (outcome, reason), n in counts.items():
        with single_metric(name="Decisions", unit=MetricUnit.Count, value=n) as metric:
            metric.add_dimension(name="outcome", value=outcome)
            metric.add_dimension(name="reason", value=reason)
