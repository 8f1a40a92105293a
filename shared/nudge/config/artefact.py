"""The compiled-config artefact: a config directory's parsed files, written once it validated
(``nudge validate --compile``, run by ``make build`` before the config layer is packaged), so a
function's cold start skips the YAML parsing with positions and the template compile checks
that already passed. It is used only while it matches the files byte for byte (a SHA-256 of
every file's path and contents, and of nudge's artefact format); otherwise the config is read
and checked in full, as without it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

NAME = ".nudge-compiled.json"
FORMAT = "nudge-config-artefact/1"
_DATE, _DATETIME = "$nudge-date", "$nudge-datetime"  # YAML timestamps, which JSON lacks


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
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
    return value


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


def read_artefact(root: Path) -> dict[str, Any] | None:
    """The parsed files (relative path -> data) if the artefact matches the files, else None."""
    path = root / NAME
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_bytes(), object_hook=_decode)
    except ValueError:  # a damaged or foreign file: read the config in full
        return None
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        return None
    if stored.get("fingerprint") != fingerprint(root):
        return None
    files = stored.get("files")
    return files if isinstance(files, dict) else None


def write_artefact(root: Path) -> Path:
    """Write the artefact of a config directory that loads without errors (raises
    ``ConfigInvalid`` otherwise, writing nothing)."""
    from nudge.config.compiled import load_config
    from nudge.config.yamlpos import load_located

    load_config(root, use_artefact=False)  # every check, templates included
    files = config_files(root)
    parsed = {str(p.relative_to(root)): load_located(p).data for p in files}
    target = root / NAME
    stored = {"format": FORMAT, "fingerprint": fingerprint(root, files), "files": parsed}
    target.write_text(json.dumps(_encode(stored), separators=(",", ":")))
    return target
