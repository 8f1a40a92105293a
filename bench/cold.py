"""Cold start: a function's init as Lambda runs it (import its handler module, create its first
AWS client, load the config) in a fresh process, against ``import boto3`` in the same run.

The nudge package is the layer ``sam build`` makes of it (layers/nudge/Makefile: without the
simulator and the CLI, with its bytecode), and once more the plain sources (every module compiled
at import, as a layer without bytecode has it). The config is a copy of the sample config with
the compiled-config artefact that ``make build`` puts in the config layer (``nudge validate
--compile``), and once more without it. Runs
alternate between the two commands and count the process's CPU time (``time.process_time``),
so that a busy machine (other processes on the cores) disturbs both alike; medians are kept.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("ingest", "dispatch", "wake")
TARGET_RATIO = 2.0

INIT = """
import time
t = time.process_time()
import app
from nudge.aws.clients import client
client("dynamodb")
from nudge.flows.common import current_config
current_config()
print(time.process_time() - t)
"""
BOTO3 = "import time; t = time.process_time(); import boto3; print(time.process_time() - t)"


def _metric(
    value: float | int, unit: str, op: str | None = None, target: float | None = None
) -> dict[str, Any]:
    return {"value": value, "unit": unit, "op": op, "target": target}


def _seconds(code: str, env: dict[str, str], cwd: Path) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def build_layer(scratch: Path) -> Path:
    """The nudge layer as ``sam build`` makes it (its ``python/``, /opt/python in Lambda), built
    by this Python."""
    source, artifacts = scratch / "shared", scratch / "layer"
    shutil.copytree(ROOT / "shared", source, ignore=shutil.ignore_patterns("*.egg-info"))
    artifacts.mkdir()
    makefile = ROOT / "layers" / "nudge" / "Makefile"
    subprocess.run(
        [
            *("make", "-s", "-f", str(makefile), "build-NudgeLayer"),
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def measure(
    function: str, config_dir: Path, package: Path | None = None, runs: int = 7
) -> dict[str, float]:
    """Median cold init of ``function`` and of ``import boto3``, in ms, alternating.
    ``package``: where nudge is imported from (a built layer); else the sources."""
    env = dict(os.environ)
    env.update(
        NUDGE_CONFIG_DIR=str(config_dir),
        PYTHONPATH=os.pathsep.join(
            filter(
                None,
                [
                    str(ROOT / "functions" / function),
                    str(package) if package else None,
                    env.get("PYTHONPATH"),
                ],
            )
        ),
        AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        PYTHONDONTWRITEBYTECODE="1",
        PYDANTIC_DISABLE_PLUGINS="__all__",  # as template.yaml's Globals set it
    )
    env.pop("AWS_ENDPOINT_URL", None)
    init, boto3 = [], []
    cwd = ROOT / "functions" / function
    for _ in range(runs):
        init.append(_seconds(INIT, env, cwd))
        boto3.append(_seconds(BOTO3, env, cwd))
    return {
        "init_ms": statistics.median(init) * 1000,
        "boto3_ms": statistics.median(boto3) * 1000,
    }


def run() -> dict[str, Any]:
    """``make bench``: cold init per function from the built layer with the artefact (target
    <= 2x boto3) and, for comparison, ingest without the artefact and from the plain sources."""
    from nudge.config.artefact import write_artefact

    scratch = Path(tempfile.mkdtemp(prefix="nudge-cold-"))
    try:
        plain = scratch / "plain"
        shutil.copytree(ROOT / "config", plain)
        built = scratch / "built"
        shutil.copytree(ROOT / "config", built)
        write_artefact(built)
        layer = build_layer(scratch)
        out: dict[str, Any] = {}
        for function in FUNCTIONS:
            got = measure(function, built, layer)
            ratio = round(got["init_ms"] / got["boto3_ms"], 2)
            out[f"cold_init_{function}_ms"] = _metric(round(got["init_ms"], 1), "ms")
            out[f"cold_init_{function}_ratio"] = _metric(ratio, "x boto3", "<=", TARGET_RATIO)
        got = measure("ingest", built)
        out["cold_init_ingest_no_bytecode_ms"] = _metric(round(got["init_ms"], 1), "ms")
        out["cold_init_ingest_no_bytecode_ratio"] = _metric(
            round(got["init_ms"] / got["boto3_ms"], 2), "x boto3"
        )
        got = measure("ingest", plain, layer)
        out["cold_init_ingest_no_artefact_ms"] = _metric(round(got["init_ms"], 1), "ms")
        out["cold_init_ingest_no_artefact_ratio"] = _metric(
            round(got["init_ms"] / got["boto3_ms"], 2), "x boto3"
        )
        out["cold_import_boto3_ms"] = _metric(round(got["boto3_ms"], 1), "ms")
        return out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    for key, value in run().items():
        print(key, value["value"])
