"""Where policy lives and where AWS is called can be read off the tree (docs/architecture.md).

import-linter (``make lint``) keeps the package's direction; these tests cover what it cannot
see: the Lambda handlers, which are not in the package, and the edge's monopoly on boto3.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "shared" / "nudge"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_each_handler_imports_only_its_flow_and_the_powertools_wrapper():
    apps = sorted((ROOT / "functions").glob("*/app.py"))
    assert len(apps) == 9
    for app in apps:
        nudge = {m for m in _imports(app) if m.split(".")[0] == "nudge"}
        # nudge.coldstart: the collector is off while they import (docs/deploy.md, "Cold start")
        assert nudge == {f"nudge.flows.{app.parent.name}", "nudge.observe", "nudge.coldstart"}, app


def test_only_the_aws_edge_and_the_simulator_import_boto3():
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(m.split(".")[0] in ("boto3", "moto") for m in _imports(path))
    }
    assert importers, "the check found no importer at all: it would pass on anything"
    outside = {p for p in importers if not p.startswith(("aws/", "sim/"))}
    assert outside == set()


def test_the_tree_names_its_layers():
    for layer in ("core", "aws", "flows"):
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert doc, f"nudge/{layer} says what belongs in it"
