"""Read a config directory into validated models, with every problem located at file:line:col."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nudge.config import schema
from nudge.config.raw import ConfigError, RawConfig, SourceFile, data_path
from nudge.config.yamlpos import YamlError, load_located
from nudge.core.rules import SAME_MESSAGE_ONLY

_FIELDS: set[str] = set()


def _all_fields() -> set[str]:
    if not _FIELDS:
        for obj in vars(schema).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                for name, info in obj.model_fields.items():
                    _FIELDS.add(info.alias or name)
    return _FIELDS


def _message(err: Any) -> str:
    kind = err["type"]
    loc = err["loc"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        if key == "same_message":
            return f"unknown key 'same_message': {SAME_MESSAGE_ONLY}"
        if key in _all_fields():  # a real key, in the wrong place (indentation, say)
            return f"unknown key {key!r} here: it belongs elsewhere (check the indentation)"
        close = difflib.get_close_matches(key, _all_fields(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"{loc[-1]!r} is required here"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "literal_error":
        return f"{err.get('input')!r}: {msg.lower()}"
    if kind == "string_pattern_mismatch":
        return f"{err.get('input')!r} does not have the expected form"
    return msg


def pydantic_errors(src: SourceFile, exc: ValidationError) -> list[ConfigError]:
    """Turn pydantic's errors into located config errors (one per distinct place)."""
    out: list[ConfigError] = []
    seen: set[tuple[Any, ...]] = set()
    errors = exc.errors()
    # a union reports every branch; keep the branch that got furthest into the data
    depth = max(len(data_path(src.located.data, e["loc"])) for e in errors) if errors else 0
    for err in errors:
        path = data_path(src.located.data, err["loc"])
        if err["type"] in ("list_type", "string_type", "dict_type") and len(path) < depth:
            continue
        message = _message(err)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append(src.error(path, message, key=err["type"] == "extra_forbidden"))
    return out


def _parse(root: Path, path: Path, raw: RawConfig) -> SourceFile | None:
    rel = str(path.relative_to(root))
    try:
        located = load_located(path)
    except YamlError as exc:
        raw.errors.append(ConfigError(rel, exc.mark.line, exc.mark.column, "", exc.message))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raw.errors.append(ConfigError(rel, 1, 1, "", f"cannot read: {exc}"))
        return None
    src = SourceFile(rel, located)
    raw.files[rel] = src
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raw.errors.append(src.error((), "the file must be a map of key: value"))
        return None
    return src


def _model(src: SourceFile, model: type[Any], raw: RawConfig) -> Any:
    """``model`` validated from the file's data; None, with the errors added to ``raw``, if
    invalid."""
    try:
        return model.model_validate(src.located.data)
    except ValidationError as exc:
        raw.errors.extend(pydantic_errors(src, exc))
        return None


def read_config(directory: str | Path) -> RawConfig:
    """Parse and validate the shape of every file; errors are collected, not raised."""
    root = Path(directory)
    raw = RawConfig(root=root)
    if not root.is_dir():
        raw.errors.append(ConfigError(str(root), 1, 1, "", "config directory not found"))
        return raw
    singles = {
        "settings": schema.Settings,
        "segments": schema.SegmentsFile,
        "content": schema.ContentFile,
    }
    for stem, model in singles.items():
        for suffix in (".yaml", ".yml"):
            path = root / f"{stem}{suffix}"
            if path.exists():
                src = _parse(root, path, raw)
                value = _model(src, model, raw) if src else None
                if value is not None:
                    setattr(raw, stem, value)
                break
    for sub, model, sink in (
        ("triggers", schema.Trigger, raw.triggers),
        ("campaigns", schema.Campaign, raw.campaigns),
    ):
        for path in sorted((root / sub).glob("*.y*ml")) if (root / sub).is_dir() else []:
            src = _parse(root, path, raw)
            value = _model(src, model, raw) if src else None
            if value is not None and src is not None:
                sink.append((value, src))
    tdir = root / "templates"
    for path in sorted(tdir.glob("*.y*ml")) if tdir.is_dir() else []:
        src = _parse(root, path, raw)
        tpl = _model(src, schema.Template, raw) if src else None
        if tpl is not None and src is not None:
            if tpl.name in raw.templates:
                raw.errors.append(
                    src.error(("name",), f"template {tpl.name!r} is defined twice", key=False)
                )
            raw.templates[tpl.name] = (tpl, src)
    return raw
