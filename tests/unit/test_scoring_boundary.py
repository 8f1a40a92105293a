"""numpy, scipy and pandas stay inside nudge.scoring and nudge.lift (the CLI's lift report, left
out of the Lambda layer and forbidden to the handlers by import-linter): the event path never
loads them."""

from __future__ import annotations

import ast
from pathlib import Path

import nudge

HEAVY = {"numpy", "scipy", "pandas"}
PACKAGE = Path(nudge.__file__).resolve().parent


def heavy_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] in HEAVY]
    return found


def test_only_the_scoring_and_lift_packages_import_numpy_scipy_or_pandas() -> None:
    offenders = [
        hit
        for path in sorted(PACKAGE.rglob("*.py"))
        if not {"scoring", "lift"} & set(path.relative_to(PACKAGE).parts)
        for hit in heavy_imports(path)
    ]
    assert offenders == []


def test_importing_the_scoring_package_itself_loads_nothing_heavy() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, nudge.scoring, nudge.lift.facts; "
        "assert not {'numpy', 'scipy'} & set(sys.modules)"
    )
    env_path = str(PACKAGE.parent)
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": env_path}
    )
