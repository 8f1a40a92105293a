"""A progress bar for long simulations, on stderr.

Quiet for short runs: nothing is drawn before ``after`` seconds. On a terminal the bar is
redrawn in place (at most ten times a second); elsewhere (a CI log, a pipe) one plain line is
written per tenth of the run, so a long run still shows it is moving.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call with (events done, events in all) as a run goes; :meth:`close` at the end."""

    def __init__(self, stream: TextIO | None = None, after: float = 3.0, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.after = after
        self.width = width
        self.began = time.monotonic()
        self._last_draw = 0.0
        self._last_tenth = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        at = time.monotonic()
        elapsed = at - self.began
        if elapsed < self.after or total <= 0:
            return
        rate = done / elapsed if elapsed else 0.0
        if self.tty:
            if at - self._last_draw < 0.1 and done < total:
                return
            self._last_draw = at
            filled = self.width * done // total
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {done:,}/{total:,} events  {rate:,.0f}/s")
            self.stream.flush()
            self._drawn = True
            return
        tenth = 10 * done // total
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(f"simulate: {done:,}/{total:,} events ({rate:,.0f}/s)\n")
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line (if one was drawn)."""
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
