"""The compiled-config artefact: a config directory's validated models, written once every check
passed (``nudge validate --compile``, run by ``make build`` before the config layer is packaged),
so a function's cold start neither parses the YAML nor validates it again: each model comes back
as a plain read-only object (``nudge.config.plain``), without pydantic or the schema classes, and
the checks that only report problems (types, templates, addresses) are not run again. It is used
only while it matches the files byte for byte (a SHA-256 of every file's path and contents, and
of nudge's artefact format); otherwise the config is read and checked in full, as without it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nudge.config.plain import TUPLE, decode, encode_model

if TYPE_CHECKING:
    from nudge.config.raw import RawConfig

NAME = ".nudge-compiled.json"
FORMAT = "nudge-config-artefact/2"
_DATE, _DATETIME = "$nudge-date", "$nudge-datetime"  # YAML timestamps, which JSON lacks


def _encode(value: Any) -> Any:
    if hasattr(type(value), "model_fields"):  # a validated config model
        return encode_model(value, _encode)
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, tuple):
        return {TUPLE: [_encode(v) for v in value]}
    if isinstance(value, datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, date):
        return {_DATE: value.isoformat()}
    return value


def _decode(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        if _DATETIME in value:
            return datetime.fromisoformat(value[_DATETIME])
        if _DATE in value:
            return date.fromisoformat(value[_DATE])
    return decode(value)


def config_files(root: Path) -> list[Path]:
    """Every YAML file of the config directory the functions read, in a stable order (not the
    scenario files of ``nudge test`` in ``tests/``: they are never loaded as config)."""
    return sorted(
        p
        for p in root.rglob("*.y*ml")
        if p.is_file() and p.suffix in (".yaml", ".yml") and p.relative_to(root).parts[0] != "tests"
    )


def fingerprint(root: Path, files: list[Path] | None = None) -> str:
    """SHA-256 over the artefact format and each file's relative path and bytes."""
    digest = hashlib.sha256(FORMAT.encode())
    for path in files if files is not None else config_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def read_artefact(root: Path) -> RawConfig | None:
    """The config's validated models, as plain objects, if the artefact matches the files; else
    None."""
    path = root / NAME
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_bytes(), object_hook=_decode)
    except (ValueError, KeyError, TypeError):  # a damaged or foreign file: read it in full
        return None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        return None
    if stored.get("fingerprint") != fingerprint(root):
        return None
    return _raw(root, stored["config"])


def _raw(root: Path, stored: dict[str, Any]) -> RawConfig:
    from nudge.config.raw import RawConfig, SourceFile
    from nudge.config.yamlpos import Located

    # the files, without their data or positions: everything in them passed, nothing to place
    files = {rel: SourceFile(rel, Located({}, {}, {})) for rel in stored["files"]}
    raw = RawConfig(
        root=root,
        settings=stored["settings"],
        segments=stored["segments"],
        content=stored["content"],
        files=files,
    )
    raw.triggers = [(model, files[rel]) for rel, model in stored["triggers"]]
    raw.campaigns = [(model, files[rel]) for rel, model in stored["campaigns"]]
    raw.templates = {model.name: (model, files[rel]) for rel, model in stored["templates"]}
    return raw


def write_artefact(root: Path) -> Path:
    """Write the artefact of a config directory that loads without errors (raises
    ``ConfigInvalid`` otherwise, writing nothing)."""
    from nudge.config.compiled import compile_checked
    from nudge.config.load import read_config

    raw = read_config(root)
    compile_checked(raw)  # every check, templates included
    config = {
        "settings": raw.settings,
        "segments": raw.segments,
        "content": raw.content,
        "triggers": [[src.rel, model] for model, src in raw.triggers],
        "campaigns": [[src.rel, model] for model, src in raw.campaigns],
        "templates": [[src.rel, model] for model, src in raw.templates.values()],
        "files": list(raw.files),
    }
    stored = {"format": FORMAT, "fingerprint": fingerprint(root), "config": config}
    target = root / NAME
    target.write_text(json.dumps(_encode(stored), separators=(",", ":")))
    return target
