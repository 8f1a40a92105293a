"""What reading a config directory gives (``nudge.config.load``; from the compiled-config artefact,
``nudge.config.artefact``): its models, the files they came from, and the problems found. No
pydantic here: a function starting from the artefact imports this module, not the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nudge.config.yamlpos import Located, Mark

if TYPE_CHECKING:
    from nudge.config import schema


def _default(name: str) -> Any:
    def make() -> Any:
        from nudge.config import schema

        return getattr(schema, name)()

    return make


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
        path = data_path(self.located.data, path)
        mark: Mark = self.located.mark(path, key=key)
        dotted = ".".join(str(p) for p in path)
        return ConfigError(self.rel, mark.line, mark.column, dotted, message)


@dataclass
class RawConfig:
    """Validated models, and where each came from (from the compiled-config artefact: the same
    models in their plain form, ``nudge.config.plain``, which reads like them)."""

    root: Path
    settings: schema.Settings = field(default_factory=_default("Settings"))
    segments: schema.SegmentsFile = field(default_factory=_default("SegmentsFile"))
    content: schema.ContentFile = field(default_factory=_default("ContentFile"))
    triggers: list[tuple[schema.Trigger, SourceFile]] = field(default_factory=list)
    campaigns: list[tuple[schema.Campaign, SourceFile]] = field(default_factory=list)
    templates: dict[str, tuple[schema.Template, SourceFile]] = field(default_factory=dict)
    files: dict[str, SourceFile] = field(default_factory=dict)
    errors: list[ConfigError] = field(default_factory=list)


def data_path(data: Any, loc: tuple[Any, ...]) -> tuple[Any, ...]:
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
