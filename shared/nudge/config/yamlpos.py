"""YAML loading that remembers where every key and value was written (line and column)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # PyYAML is imported when a file is parsed: a function starting from the
    import yaml  # compiled-config artefact (nudge.config.artefact) never needs it

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Mark:
    """A position in a file, 1-based like editors show it."""

    line: int
    column: int


class YamlError(ValueError):
    """The file is not valid YAML."""

    def __init__(self, message: str, mark: Mark) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


@dataclass(slots=True)
class Located:
    """A parsed YAML document and the positions of its keys (``keys``) and values (``values``)."""

    data: Any
    keys: dict[Path_, Mark]
    values: dict[Path_, Mark]

    def mark(self, path: Path_, *, key: bool = True) -> Mark:
        """Position of the deepest existing prefix of ``path`` (key position by default)."""
        path = tuple(path)
        while path:
            table = self.keys if key else self.values
            if path in table:
                return table[path]
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), Mark(1, 1))


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def load_located(path: Path) -> Located:
    """Parse one YAML file; raises ``YamlError`` with the position of a syntax error."""
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Mark(mark.line + 1, mark.column + 1) if mark else Mark(1, 1)
        raise YamlError(f"not valid YAML: {exc.problem or exc}", pos) from None
    keys: dict[Path_, Mark] = {}
    values: dict[Path_, Mark] = {}
    constructor = yaml.SafeLoader("")

    def build(n: yaml.Node, at: Path_) -> Any:
        values[at] = _mark(n)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise YamlError("YAML merge keys (<<) are not supported", _mark(key_node))
                key = constructor.construct_object(key_node, deep=True)
                key = key if isinstance(key, str | int) else str(key)
                keys[(*at, key)] = _mark(key_node)
                out[key] = build(value_node, (*at, key))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(child, (*at, i)) for i, child in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    data = build(node, ()) if node is not None else None
    return Located(data=data, keys=keys, values=values)
