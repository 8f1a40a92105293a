"""AWS errors the flows must tell apart (without holding a client)."""

from __future__ import annotations

# error codes that mean "this function is not allowed to": never retried into success, never
# to be swallowed (the template lacks a grant)
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def is_denied(exc: BaseException) -> bool:
    """Whether ``exc`` is an AWS permission error."""
    response = getattr(exc, "response", None)
    code = (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in DENIED
