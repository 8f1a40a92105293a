"""JSON Schema of the config files, for editors (``nudge schema``)."""

from __future__ import annotations

from typing import Any

from nudge.config import schema

FILES: dict[str, type[schema.Strict]] = {
    "settings.yaml": schema.Settings,
    "segments.yaml": schema.SegmentsFile,
    "content.yaml": schema.ContentFile,
    "triggers/*.yaml": schema.Trigger,
    "campaigns/*.yaml": schema.Campaign,
    "templates/*.yaml": schema.Template,
}


def config_schema() -> dict[str, Any]:
    """One document: ``files`` maps each file pattern to its schema (``$defs`` shared)."""
    out: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "nudge config",
        "description": "Schemas of the files under config/; map each glob to its schema.",
        "files": {},
    }
    for pattern, model in FILES.items():
        out["files"][pattern] = model.model_json_schema(by_alias=True)
    return out
