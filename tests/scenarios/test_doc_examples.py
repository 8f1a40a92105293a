"""Every `nudge simulate` and `nudge explain` example in README.md and docs/ runs as written, from
the repository's root, with exit status 0. Examples that read a deployed table (``--table``) or
show placeholders (``CUSTOMER_ID``, ``[--since TIME]``) are parsed by the real argument parser."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from nudge.cli import build_parser, main
from tests.conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]+\b|\[|\||\.\.\.|…")


def examples() -> list[tuple[str, list[str]]]:
    """(where, argv) of every documented example, in the order the docs give them."""
    found: list[tuple[str, list[str]]] = []
    for path in DOCS:
        text = path.read_text()
        fenced = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
        lines = [line for block in fenced for line in block.splitlines()]
        lines += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
        for line in lines:
            command = line.split("#", 1)[0].strip()
            command = command.removeprefix(".venv/bin/")
            if not re.match(r"nudge (simulate|explain)\b", command):
                continue
            argv = shlex.split(command)[1:]
            # a whole command, not a mention of one in prose (`nudge explain --since 7d`)
            if "--out" in argv or (argv[0] == "explain" and argv[1:2] and argv[1][0] != "-"):
                found.append((f"{path.relative_to(ROOT)}: {command}", argv))
    return found


def _runnable(argv: list[str]) -> bool:
    return "--table" not in argv and not _PLACEHOLDER.search(" ".join(argv))


def test_the_docs_have_examples_of_both_commands() -> None:
    kinds = {argv[0] for _, argv in examples() if _runnable(argv)}
    assert kinds == {"simulate", "explain"}


def test_every_example_that_needs_a_deployment_or_shows_placeholders_parses() -> None:
    parser = build_parser()
    for where, argv in examples():
        if _runnable(argv) or _PLACEHOLDER.search(" ".join(argv)):
            continue
        assert parser.parse_args(argv).func, where


@pytest.fixture
def in_a_copy_of_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the repository's config/ and events/ (outputs go to its out/)."""
    for name in ("config", "events"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_documented_simulate_and_explain_example_runs(in_a_copy_of_the_repository, capsys):
    runnable = [(where, argv) for where, argv in examples() if _runnable(argv)]
    # each distinct simulation once (a sample day costs seconds): with --report when some
    # example has it, as that run also does all the other one does
    simulations: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    for where, argv in runnable:
        if argv[0] == "simulate":
            key = tuple(a for a in argv if a != "--report")
            if key not in simulations or "--report" in argv:
                simulations[key] = (where, argv)
    explanations = [(where, argv) for where, argv in runnable if argv[0] == "explain"]
    assert simulations and explanations
    for where, argv in simulations.values():  # explain reads their output
        assert main(argv) == 0, where
        out = capsys.readouterr().out
        assert "119 events" in out, where
    for where, argv in explanations:
        assert main(argv) == 0, where
        out = capsys.readouterr().out
        assert out.startswith(f"Customer {argv[1]}\n"), where
        assert "Traceback" not in out
