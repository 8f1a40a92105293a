"""The profile API: what the website reads (profile, content blocks) and privacy requests.

Behind an API Gateway HTTP API or a Lambda Function URL (both send the payload format 2.0) with
IAM authorisation; docs/api.md and docs/openapi.yaml describe the routes. A small hand-written
router rather than Powertools' event handler: four routes do not justify its import time on a
path the website waits on (docs/api.md has the numbers).

Every answer is JSON. 403 when the request carries no IAM identity (the gateway refuses
unsigned calls already; this is the second lock), 404 for an unknown or erased id, 405 for a
method a path does not serve.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from nudge.core.clock import iso
from nudge.core.clock import now as clock_now
from nudge.core.profile import PROFILE_FIELDS
from nudge.core.react import refresh_view
from nudge.flows.common import current_config, envelope_field
from nudge.flows.identity import read_customer

log = logging.getLogger("nudge.api")
Response = dict[str, Any]
Handler = Callable[[str, dict[str, Any]], Response]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        # personal data: no shared cache may keep it
        "headers": {
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            **(headers or {}),
        },
        "body": json.dumps(body, separators=(",", ":"), default=str),
    }


def _not_found(customer_id: str) -> Response:
    return _json(404, {"error": "not_found", "message": f"no profile for {customer_id!r}"})


def _view(customer_id: str) -> dict[str, Any] | None:
    """The profile as conditions see it now (segments recomputed), following a merged alias."""
    try:
        doc = read_customer(customer_id)[1].doc
    except RuntimeError:  # an alias chain nudge never makes
        return None
    if doc is None:
        return None
    return refresh_view(doc, current_config(), clock_now())


def get_profile(customer_id: str, event: dict[str, Any]) -> Response:
    """``GET /profiles/{id}``: the profile, its segments, value tier and scores."""
    view = _view(customer_id)
    if view is None:
        return _not_found(customer_id)
    body = {key: view[key] for key in PROFILE_FIELDS if key in view}
    return _json(200, body)


def get_content(customer_id: str, event: dict[str, Any]) -> Response:
    """``GET /profiles/{id}/content``: the content blocks config/content.yaml assigns."""
    from nudge.config.compiled import evaluate_content
    from nudge.core.rules import Ctx

    view = _view(customer_id)
    if view is None:
        return _not_found(customer_id)
    now = clock_now()
    blocks = evaluate_content(
        current_config(), Ctx(view, view.get("history") or (), now.timestamp())
    )
    return _json(
        200,
        {
            "customer_id": view["customer_id"],
            "segments": view.get("segments") or [],
            "value_tier": view.get("value_tier"),
            "blocks": blocks,
            "at": iso(now),
        },
    )


def export_profile(customer_id: str, event: dict[str, Any]) -> Response:
    """``GET /profiles/{id}/export``: everything held about the customer (privacy request)."""
    from nudge.flows.privacy import export_customer

    exported = export_customer(customer_id)
    if exported is None:
        return _not_found(customer_id)
    return _json(
        200, exported, {"Content-Disposition": f'attachment; filename="{customer_id}.json"'}
    )


def erase_profile(customer_id: str, event: dict[str, Any]) -> Response:
    """``DELETE /profiles/{id}``: erase everything held about the customer (privacy request)."""
    from nudge.flows.privacy import erase_customer

    erased = erase_customer(customer_id)
    if erased is None:
        return _not_found(customer_id)
    log.info("customer erased", extra={"caller": _caller(event), "items": erased["items_deleted"]})
    return _json(200, {"erased": True, **erased})


@dataclass(frozen=True, slots=True)
class Route:
    """One method and path template (``/profiles/{id}``) served by ``handler``."""

    method: str
    path: str
    handler: Handler

    def match(self, path: str) -> str | None:
        """The ``{id}`` of ``path`` if it fits the template (ids are one segment), else None."""
        want, got = self.path.split("/"), path.split("/")
        if len(want) != len(got):
            return None
        found = None
        for part, value in zip(want, got, strict=True):
            if part == "{id}":
                found = unquote(value)
            elif part != value:
                return None
        return found or None


ROUTES: tuple[Route, ...] = (
    Route("GET", "/profiles/{id}", get_profile),
    Route("GET", "/profiles/{id}/content", get_content),
    Route("GET", "/profiles/{id}/export", export_profile),
    Route("DELETE", "/profiles/{id}", erase_profile),
)


def _caller(event: dict[str, Any]) -> str | None:
    """The IAM identity API Gateway or the Function URL verified, if any."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    return iam.get("userArn") or iam.get("callerId") or iam.get("accessKey") or None


def _path(event: dict[str, Any]) -> str:
    context = event.get("requestContext") or {}
    path = event.get("rawPath") or (context.get("http") or {}).get("path") or "/"
    stage = context.get("stage")
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]  # a named stage prefixes the path
    return str(path).rstrip("/") or "/"


def handle(event: dict[str, Any], context: Any = None) -> Response:
    """Lambda entry: one HTTP request (payload format 2.0)."""
    # Imported here, not with the module, to keep cold-start import time down (nudge.observe
    # has loaded Powertools by the first invoke).
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

    request = APIGatewayProxyEventV2(event)
    if _caller(event) is None:
        return _json(403, {"error": "forbidden", "message": "sign the request (IAM, SigV4)"})
    method = str(envelope_field(lambda: request.http_method) or "GET")
    path = _path(event)
    allowed = []
    for route in ROUTES:
        customer_id = route.match(path)
        if customer_id is None:
            continue
        if route.method != method.upper():
            allowed.append(route.method)
            continue
        return route.handler(customer_id, event)
    if allowed:
        return _json(
            405,
            {"error": "method_not_allowed", "allowed": allowed},
            {"Allow": ", ".join(sorted(set(allowed)))},
        )
    return _json(404, {"error": "no_route", "message": f"{method} {path} is not served"})
