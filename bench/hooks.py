"""Watching the real handlers from a bench: their invocations and every AWS call they make."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# (the real ``_make_api_call``, the client, the operation, its parameters) -> the answer
CallHook = Callable[[Callable[..., Any], Any, str, dict[str, Any]], Any]


@contextmanager
def watching(
    wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]], call: CallHook
) -> Iterator[None]:
    """While the block runs, the ingest, dispatch and wake handlers are ``wrap(name, handle)``
    and every botocore call goes through ``call``; both are put back after."""
    import botocore.client

    from nudge.flows import dispatch, ingest, wake

    saved = (ingest.handle, dispatch.handle, wake.handle)
    ingest.handle = wrap("ingest", ingest.handle)  # type: ignore[method-assign]
    dispatch.handle = wrap("dispatch", dispatch.handle)  # type: ignore[method-assign]
    wake.handle = wrap("wake", wake.handle)  # type: ignore[method-assign]
    real = botocore.client.BaseClient._make_api_call

    def hooked(self: Any, operation: str, params: dict[str, Any]) -> Any:
        return call(real, self, operation, params)

    botocore.client.BaseClient._make_api_call = hooked  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]
        ingest.handle, dispatch.handle, wake.handle = saved  # type: ignore[method-assign]
