"""The nudge layer holds what the Lambdas run: no simulator, no CLI, no synthetic test data.

The layer is built by ``layers/nudge/Makefile`` (template.yaml NudgeLayer, ``BuildMethod:
makefile``); here it is built as ``sam build`` does, in a copy of ``shared/``, and its files read.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


class _Loader(yaml.SafeLoader):
    """Reads template.yaml's short-form intrinsics (!Ref, !Sub, ...) as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.fixture(scope="module")
def layer(tmp_path_factory) -> Path:
    """The built layer's ``python/`` directory (what becomes /opt/python)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)
    resource = template["Resources"]["NudgeLayer"]
    source = ROOT / resource["Properties"]["ContentUri"]
    makefile = ROOT / resource["Metadata"]["ContextPath"] / "Makefile"
    assert resource["Metadata"]["BuildMethod"] == "makefile"
    scratch = tmp_path_factory.mktemp("scratch")
    artifacts = tmp_path_factory.mktemp("artifacts")
    shutil.copytree(source, scratch, dirs_exist_ok=True)
    subprocess.run(
        [
            "make",
            "-s",
            "-f",
            str(makefile),
            "build-NudgeLayer",
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",  # the runtime's Python under `sam build`; ours here
        ],
        cwd=scratch,
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def _files(layer: Path) -> set[str]:
    return {p.relative_to(layer).as_posix() for p in layer.rglob("*") if p.is_file()}


def test_the_layer_has_no_simulator_cli_or_synthetic_data(layer):
    files = _files(layer)
    assert "nudge/flows/ingest.py" in files and "nudge/flows/dispatch.py" in files
    assert not [f for f in files if f.startswith("nudge/sim/")]
    assert "nudge/scoring/synthetic.py" not in files
    assert "nudge/cli.py" not in files
    assert not [f for f in files if f.startswith("nudge/lift/")]  # numpy/scipy: CLI only


def test_the_layer_carries_bytecode_checked_against_its_sources(layer):
    """Every module comes with a .pyc of the build's Python (a cold start compiles none of
    them: /opt is read-only), valid only while the source's hash matches, and no other."""
    sources = sorted(layer.rglob("*.py"))
    compiled = sorted(layer.rglob("*.pyc"))
    assert len(sources) > 40
    assert compiled == sorted(Path(importlib.util.cache_from_source(str(p))) for p in sources)
    for pyc in compiled:
        header = pyc.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == 0b11  # hash-based, checked
    source = layer / "nudge" / "flows" / "ingest.py"
    pyc = Path(importlib.util.cache_from_source(str(source)))
    assert pyc.read_bytes()[8:16] == importlib.util.source_hash(source.read_bytes())


def test_the_layer_is_compiled_by_the_functions_python():
    """The Makefile's default interpreter is the Runtime of template.yaml (a .pyc of another
    Python version would be ignored, and each module compiled at every cold start again)."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)
    runtime = template["Globals"]["Function"]["Runtime"]
    makefile = (ROOT / "layers" / "nudge" / "Makefile").read_text()
    assert re.search(rf"^PYTHON \?= {re.escape(runtime)}$", makefile, re.M)


def _module_file(layer: Path, module: str) -> bool:
    base = layer.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _nudge_imports(path: Path) -> set[str]:
    """Every ``nudge...`` module a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "nudge"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nudge":
            found.add(str(node.module))
            # `from nudge.flows import score` names a module too
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _unresolved(layer: Path, sources: list[Path]) -> dict[str, str]:
    """Modules of the nudge package that ``sources`` import and the layer lacks."""
    missing = {}
    for path in sources:
        for module in _nudge_imports(path):
            # `from nudge.x import name`: name is a module only if the package has one by that name
            if _module_file(ROOT / "shared", module) and not _module_file(layer, module):
                missing[module] = path.name
    return missing


def test_every_nudge_import_of_the_functions_and_the_layer_resolves_inside_the_layer(layer):
    sources = [*layer.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
    assert len(sources) > 40
    assert _unresolved(layer, sources) == {}
    # the check does see an import of what was left out: the CLI imports the simulator
    assert "nudge.sim" in _unresolved(layer, [ROOT / "shared/nudge/cli.py"])
