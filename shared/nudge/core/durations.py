"""Durations as marketers write them: ``90s``, ``30m``, ``1h``, ``2d``, ``1w``."""

from __future__ import annotations

import re
from datetime import timedelta

_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
HINT = "use a number and a unit: 90s, 30m, 1h, 2d, 1w"


def parse_duration(text: str) -> timedelta:
    """Parse a duration string; raises ``ValueError`` with a hint when it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; {HINT}")
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; {HINT}")
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


def seconds(text: str) -> float:
    """Duration string to seconds."""
    return parse_duration(text).total_seconds()
