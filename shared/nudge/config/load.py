"""Read a config directory into validated models, with every problem located at file:line:col."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from nudge.config import schema
from nudge.config.yamlpos import Located, Mark, YamlError, load_located
from nudge.core.rules import SAME_MESSAGE_ONLY


@dataclass(frozen=True, slots=True)
class ConfigError:
    """One problem in the config, as ``file:line:column: key: message``."""

    file: str
    line: int
    column: int
    key: str
    message: str
    severity: str = "error"  # or "warning": reported, but the config still loads

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if self.severity != "error":
            where += f": {self.severity}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigInvalid(Exception):
    """The config has errors; ``errors`` lists them all."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


@dataclass
class SourceFile:
    """A parsed file and its positions, kept so later checks can point into it."""

    rel: str
    located: Located

    def error(self, path: tuple[Any, ...], message: str, *, key: bool = False) -> ConfigError:
        """An error at ``path``: at its value, or at its key when ``key`` (an unknown key)."""
        path = _data_path(self.located.data, path)
        mark: Mark = self.located.mark(path, key=key)
        dotted = ".".join(str(p) for p in path)
        return ConfigError(self.rel, mark.line, mark.column, dotted, message)


@dataclass
class RawConfig:
    """Validated models, and where each came from."""

    root: Path
    settings: schema.Settings = field(default_factory=schema.Settings)
    segments: schema.SegmentsFile = field(default_factory=schema.SegmentsFile)
    content: schema.ContentFile = field(default_factory=schema.ContentFile)
    triggers: list[tuple[schema.Trigger, SourceFile]] = field(default_factory=list)
    campaigns: list[tuple[schema.Campaign, SourceFile]] = field(default_factory=list)
    templates: dict[str, tuple[schema.Template, SourceFile]] = field(default_factory=dict)
    files: dict[str, SourceFile] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Map a pydantic location onto the data: drop union tags and the 0 of a wrapped single map."""
    out: list[Any] = []
    current = data
    for part in loc:
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            out.append(part)
            current = current[part]
        elif isinstance(part, str) and not isinstance(current, dict | list):
            break
        elif isinstance(part, str) and ("[" in part or part[:1].isupper() or "-" in part):
            continue  # a union branch tag such as 'list[Who]' or 'function-after[...]'
        elif isinstance(part, int) and isinstance(current, dict):
            continue  # a single map standing for a one-item list
        else:
            out.append(part)
            break
    return tuple(out)


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
    depth = max(len(_data_path(src.located.data, e["loc"])) for e in errors) if errors else 0
    for err in errors:
        path = _data_path(src.located.data, err["loc"])
        if err["type"] in ("list_type", "string_type", "dict_type") and len(path) < depth:
            continue
        message = _message(err)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        out.append(src.error(path, message, key=err["type"] == "extra_forbidden"))
    return out


def _parse(
    root: Path, path: Path, raw: RawConfig, parsed: dict[str, Any] | None = None
) -> SourceFile | None:
    rel = str(path.relative_to(root))
    try:
        # from the compiled-config artefact: the data without positions (no errors to place)
        located = (
            Located(parsed[rel], {}, {})
            if parsed is not None and rel in parsed
            else load_located(path)
        )
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


def _model(src: SourceFile, model: type[Any], raw: RawConfig, checked: bool = False) -> Any:
    """``model`` validated from the file's data (``checked``: data of a compiled-config
    artefact, see ``schema.CHECKED``); None, with the errors added to ``raw``, if invalid."""
    try:
        return model.model_validate(src.located.data, context={schema.CHECKED: checked})
    except ValidationError as exc:
        raw.errors.extend(pydantic_errors(src, exc))
        return None


def read_config(directory: str | Path, parsed: dict[str, Any] | None = None) -> RawConfig:
    """Parse and validate the shape of every file; errors are collected, not raised.
    ``parsed``: the files' data from a compiled-config artefact that matches them."""
    root = Path(directory)
    raw = RawConfig(root=root)
    checked = parsed is not None
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
                src = _parse(root, path, raw, parsed)
                value = _model(src, model, raw, checked) if src else None
                if value is not None:
                    setattr(raw, stem, value)
                break
    for sub, model, sink in (
        ("triggers", schema.Trigger, raw.triggers),
        ("campaigns", schema.Campaign, raw.campaigns),
    ):
        for path in sorted((root / sub).glob("*.y*ml")) if (root / sub).is_dir() else []:
            src = _parse(root, path, raw, parsed)
            value = _model(src, model, raw, checked) if src else None
            if value is not None and src is not None:
                sink.append((value, src))
    tdir = root / "templates"
    for path in sorted(tdir.glob("*.y*ml")) if tdir.is_dir() else []:
        src = _parse(root, path, raw, parsed)
        tpl = _model(src, schema.Template, raw, checked) if src else None
        if tpl is not None and src is not None:
            if tpl.name in raw.templates:
                raw.errors.append(
                    src.error(("name",), f"template {tpl.name!r} is defined twice", key=False)
                )
            raw.templates[tpl.name] = (tpl, src)
    return raw
