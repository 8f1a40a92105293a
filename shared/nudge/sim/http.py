"""HTTP requests to the profile API as API Gateway (payload format 2.0) delivers them."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

CALLER = {
    "accessKey": "ASIAEXAMPLEACCESSKEY",
    "accountId": "123456789012",
    "callerId": "AROAEXAMPLEROLEID:storefront",
    "cognitoIdentity": None,
    "principalOrgId": None,
    "userArn": "arn:aws:sts::123456789012:assumed-role/rose-storefront/storefront",
    "userId": "AROAEXAMPLEROLEID:storefront",
}


def request_event(method: str, path: str, *, signed: bool = True) -> dict[str, Any]:
    """The Lambda event for ``method path``; ``signed=False`` leaves out the IAM identity, as a
    Function URL with ``AuthType: NONE`` or a misconfigured route would."""
    raw = "/".join(quote(part, safe=":@") for part in path.split("/"))
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "sim",
        "domainName": "sim.execute-api.local",
        "http": {
            "method": method,
            "path": raw,
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.23",
            "userAgent": "nudge-sim",
        },
        "requestId": "sim",
        "routeKey": "$default",
        "stage": "$default",
    }
    if signed:
        context["authorizer"] = {"iam": dict(CALLER)}
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw,
        "rawQueryString": "",
        "headers": {"accept": "application/json"},
        "requestContext": context,
        "isBase64Encoded": False,
    }
