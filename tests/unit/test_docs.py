"""The docs in this repository are what users rely on: no code, test or doc points to a document
outside it, every decision reason the code can emit is documented in words, and every documented
`nudge simulate` / `nudge explain` example runs (tests/scenarios/test_doc_examples.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from nudge.core.decisions import OUTCOMES, REASONS
from tests.conftest import ROOT

# Built from pieces so that this file does not cite what it forbids.
FORBIDDEN = ("CONTRACT" + " §", "CONTRACT" + ".md", "CONTRACT" + " section", ".." + "/shared")
SEARCHED = ("shared", "functions", "tests", "docs", "bench", "config", "events", "layers")


def _files() -> list[Path]:
    found = [ROOT / "README.md", ROOT / "template.yaml", ROOT / "Makefile"]
    for top in SEARCHED:
        for path in (ROOT / top).rglob("*"):
            text_file = path.suffix in (".py", ".md", ".yaml", ".yml", ".json", ".txt")
            built = ".egg-info" in str(path) or "__pycache__" in path.parts
            if path.is_file() and text_file and not built:
                found.append(path)
    return found


def test_nothing_cites_a_document_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _files()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if any(word in line for word in FORBIDDEN)
    ]
    assert offenders == []


def _reference_reasons() -> dict[str, str]:
    """Reason -> words, from docs/reference.md's decisions table."""
    text = (ROOT / "docs" / "reference.md").read_text()
    section = text.split("\n## Decisions\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+?) \|$", section, flags=re.M)
    return {reason: words for outcome, reason, words in rows if outcome in OUTCOMES}


def test_every_reason_is_documented_in_the_words_the_tools_print() -> None:
    documented = _reference_reasons()
    assert set(documented) == set(REASONS)
    for reason, words in REASONS.items():
        assert documented[reason] == words, reason


def _emitted_reasons() -> set[str]:
    """String reasons passed where the code builds decisions and verdicts: ``decision(..., SUPPRESS,
    "audience", ...)``, ``Suppress("expired")``, ``Defer(until, "quiet_hours")``, ``_end(...,
    "failed", "failed", "template_error")``, and what ``holdout_reason`` and ``channel_block``
    return."""
    builders = {"decision", "Decision", "_decision", "_end", "_defer", "Suppress", "Defer"}
    statuses = set(OUTCOMES) | {"pending", "queued", "sending", "keep"}
    found: set[str] = set()
    for path in (ROOT / "shared" / "nudge").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name not in builders:
                    continue
                args = [*node.args, *(k.value for k in node.keywords if k.arg == "reason")]
                found |= {
                    a.value
                    for a in args
                    if isinstance(a, ast.Constant)
                    and isinstance(a.value, str)
                    and re.fullmatch(r"[a-z_]+", a.value)
                    and a.value not in statuses
                }
            if isinstance(node, ast.FunctionDef) and node.name in (
                "holdout_reason",
                "channel_block",
            ):
                found |= {
                    r.value.value
                    for r in ast.walk(node)
                    if isinstance(r, ast.Return)
                    and isinstance(r.value, ast.Constant)
                    and isinstance(r.value.value, str)
                }
    return found


def test_every_reason_the_code_can_emit_is_documented() -> None:
    emitted = _emitted_reasons()
    # the scan finds the reasons it should (it is not vacuous)
    assert {"audience", "no_consent", "quiet_hours", "template_error", "global"} <= emitted
    assert emitted - set(REASONS) == set()
