"""Create nudge's AWS resources in moto from ``template.yaml`` (not copied by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

# Used only when no template.yaml can be found (nudge installed without the repo);
# tests check that these match the template.
DEFAULT_TABLE: dict[str, Any] = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
}
DEFAULT_PATTERN: dict[str, Any] = {"source": [{"anything-but": ["nudge"]}]}


class CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {f"Fn::{suffix}" if suffix != "Ref" else "Ref": value}


CfnLoader.add_multi_constructor("!", _tag)


def find_template(*starts: Path) -> Path | None:
    """``template.yaml`` in one of ``starts`` or their parents."""
    for start in starts:
        for folder in [start.resolve(), *start.resolve().parents]:
            candidate = folder / "template.yaml"
            if candidate.is_file():
                return candidate
    return None


def read_template(path: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(table properties, ingest rule event pattern) from the SAM template."""
    if path is None:
        return DEFAULT_TABLE, DEFAULT_PATTERN
    doc = yaml.load(path.read_text(), Loader=CfnLoader)
    resources = doc.get("Resources", {})
    table = next(
        (r["Properties"] for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"),
        None,
    )
    pattern = next(
        (
            r["Properties"]["EventPattern"]
            for r in resources.values()
            if r.get("Type") == "AWS::Events::Rule" and "EventPattern" in r.get("Properties", {})
        ),
        None,
    )
    return table or DEFAULT_TABLE, pattern or DEFAULT_PATTERN


# the dispatch function's stream filter when there is no template (as template.yaml has it)
DEFAULT_DISPATCH_FILTERS = [
    '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["outbox"]}, '
    '"scheduled": {"S": [{"exists": false}]}}}}'
]


def dispatch_filters(path: Path | None) -> list[str]:
    """The stream filter patterns of the function fed by the table's stream (``DispatchFunction``:
    its ``DynamoDB`` event's ``FilterCriteria``), as JSON strings."""
    if path is None:
        return list(DEFAULT_DISPATCH_FILTERS)
    doc = yaml.load(path.read_text(), Loader=CfnLoader)
    for resource in doc.get("Resources", {}).values():
        for source in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if source.get("Type") == "DynamoDB":
                filters = (source["Properties"].get("FilterCriteria") or {}).get("Filters") or []
                return [str(f["Pattern"]) for f in filters]
    return list(DEFAULT_DISPATCH_FILTERS)


def create_table(ddb: Any, name: str, props: dict[str, Any]) -> str:
    """Create the table as the template declares it; returns its stream ARN."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    stream = props.get("StreamSpecification") or {}
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": stream.get("StreamViewType", "NEW_IMAGE"),
        }
    gsis = props.get("GlobalSecondaryIndexes")
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in g.items() if k in ("IndexName", "KeySchema", "Projection")}
            for g in gsis
        ]
    out = ddb.create_table(**kwargs)
    return str(out["TableDescription"].get("LatestStreamArn", ""))


def pattern_json(pattern: dict[str, Any]) -> str:
    """The event pattern as EventBridge wants it."""
    return json.dumps(pattern)
