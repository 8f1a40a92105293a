"""A function's init: its handler module imports nudge and its dependencies, thousands of modules,
classes and functions that live as long as the container. The cyclic garbage collector would run
about a hundred times meanwhile, looking for garbage among them and finding none (a sixth of the
init's CPU time, ``make bench`` section ``cold``), so the handler modules import under
:func:`long_lived`: the collector is off while they import, then what they made is frozen
(``gc.freeze``: left out of every later collection, the first invocation's included) and the
collector is on again as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    """Run the block (a handler's imports) without the cyclic garbage collector, then freeze
    the objects it made and restore the collector as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
