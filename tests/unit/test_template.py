"""template.yaml and the code agree: every function has a handler, every handler a function,
the environment names match what nudge reads, and the simulator builds the same table."""

from __future__ import annotations

import yaml

from nudge.env import _NAMES
from nudge.sim.infra import DEFAULT_TABLE, CfnLoader, read_template
from tests.conftest import ROOT

TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}


def test_every_function_in_the_template_has_a_thin_handler_and_the_reverse():
    code_dirs = {v["Properties"]["CodeUri"].strip("/").split("/")[-1] for v in FUNCTIONS.values()}
    on_disk = {p.name for p in (ROOT / "functions").iterdir() if (p / "app.py").is_file()}
    assert code_dirs == on_disk
    for name in on_disk:
        assert len((ROOT / "functions" / name / "app.py").read_text().splitlines()) <= 30


def test_the_environment_names_are_the_ones_nudge_reads():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    nudge_vars = {k for k in variables if k.startswith("NUDGE_")}
    assert nudge_vars == set(_NAMES.values())


def test_every_function_is_arm64_by_default_with_a_dlq_on_async_paths():
    assert TEMPLATE["Parameters"]["Architecture"]["Default"] == "arm64"
    queues = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::SQS::Queue"}
    assert {"IngestDLQ", "BusDLQ", "DispatchDLQ", "WakeDLQ", "FeedbackDLQ"} <= queues


def test_the_simulator_creates_the_table_the_template_declares():
    table, pattern = read_template(ROOT / "template.yaml")
    assert table["KeySchema"] == DEFAULT_TABLE["KeySchema"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert table["TimeToLiveSpecification"]["AttributeName"] == "ttl"
    assert pattern == {"source": [{"anything-but": ["nudge"]}]}
