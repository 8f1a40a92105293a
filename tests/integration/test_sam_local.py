"""`make sam-local` without Docker: the output checker, the event mapping and the sample events.

The invokes themselves need Docker and run in `.ci/run` (`make sam-local`, and
`bash .ci/sam.sh local --break-moto`, which must fail). What is checked here is the Python that
decides whether an invoke passed (SAM exits 0 even when the handler raised), on output captured
from real runs, and that every function in template.yaml has sample events.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.conftest import EVENTS, ROOT

_spec = importlib.util.spec_from_file_location(
    "sam_local_check", ROOT / ".ci" / "sam_local_check.py"
)
assert _spec and _spec.loader
check = importlib.util.module_from_spec(_spec)
sys.modules["sam_local_check"] = check
_spec.loader.exec_module(check)

# Captured from `bash .ci/sam.sh local --break-moto`: the moto server was stopped, so ingest's
# first DynamoDB call failed. SAM still exited 0.
MOTO_STOPPED_STDOUT = json.dumps(
    {
        "errorMessage": 'Could not connect to the endpoint URL: "http://172.17.0.1:53413/"',
        "errorType": "EndpointConnectionError",
        "requestId": "878a6a18-6b5c-4a77-84e0-7c49d83bb213",
        "stackTrace": [
            '  File "/var/task/app.py", line 10, in handler\n    return handle(event, context)\n',
            '  File "/opt/python/nudge/flows/ingest.py", line 197, in handle\n'
            "    return ingest_event(event)\n",
            '  File "/opt/python/nudge/store.py", line 64, in get_profile\n    .get_item(\n',
            '  File "/var/runtime/botocore/client.py", line 606, in _api_call\n'
            "    return self._make_api_call(operation_name, kwargs)\n",
            '  File "/var/runtime/botocore/httpsession.py", line 540, in send\n'
            "    raise EndpointConnectionError(endpoint_url=request.url, error=e)\n",
        ],
    }
)
MOTO_STOPPED_STDERR = """\
No current session found, using default AWS::AccountId
Invoking app.handler (python3.12)
DepsLayer is a local Layer in the template
NudgeLayer is a local Layer in the template
ConfigLayer is a local Layer in the template
Building image.....................................
Requested to skip pulling images ...

Mounting /work/main/.aws-sam/build/IngestFunction as /var/task:ro,delegated, inside runtime container
SAM_CONTAINER_ID: 5d7351dbdb8785cc44d0208c6f1de1f8f39292c7238fe453d22f4a74a6c4e325
START RequestId: 878a6a18-6b5c-4a77-84e0-7c49d83bb213 Version: $LATEST
[ERROR] EndpointConnectionError: Could not connect to the endpoint URL: "http://172.17.0.1:53413/"
Traceback (most recent call last):
  File "/var/task/app.py", line 10, in handler
    return handle(event, context)
  File "/opt/python/nudge/store.py", line 64, in get_profile
    .get_item(
  File "/var/runtime/botocore/httpsession.py", line 540, in send
    raise EndpointConnectionError(endpoint_url=request.url, error=e)
END RequestId: 878a6a18-6b5c-4a77-84e0-7c49d83bb213
REPORT RequestId: 878a6a18-6b5c-4a77-84e0-7c49d83bb213\tInit Duration: 0.10 ms\tDuration: 1857.10 ms
"""

# Captured from a passing `make sam-local` (ingest of events/order_placed.json).
PASSED_STDOUT = '{"customer_id": "c-1001", "decisions": []}'
PASSED_STDERR = """\
Invoking app.handler (python3.12)
Building image.....................................
Requested to skip pulling images ...

Mounting /work/main/.aws-sam/build/IngestFunction as /var/task:ro,delegated, inside runtime container
END RequestId: 8d5c8a9d-a048-492b-ad1b-0eff03ac8c3e
REPORT RequestId: 8d5c8a9d-a048-492b-ad1b-0eff03ac8c3e\tInit Duration: 0.04 ms\tDuration: 1369.63 ms

[ERROR] [1795442212543] LAMBDA_RUNTIME Failed to get next invocation. No Response from endpoint
"""


def test_a_handler_that_raised_fails_with_its_error_although_sam_exited_0():
    outcome = check.check_invoke(0, MOTO_STOPPED_STDOUT, MOTO_STOPPED_STDERR)
    assert not outcome.ok
    assert outcome.summary == (
        'EndpointConnectionError: Could not connect to the endpoint URL: "http://172.17.0.1:53413/"'
    )
    # the trace shown is the handler's own path to the failing call, not botocore's internals
    shown = "\n".join(outcome.detail)
    assert "nudge/store.py" in shown and "get_profile" in shown
    assert "/var/runtime/botocore" not in shown


def test_a_passing_invoke_gives_the_handlers_result():
    outcome = check.check_invoke(0, PASSED_STDOUT, PASSED_STDERR)
    assert outcome.ok, outcome.summary
    assert outcome.result == {"customer_id": "c-1001", "decisions": []}
    assert outcome.summary == '{"customer_id": "c-1001", "decisions": []}'


def test_a_timeout_fails_even_with_exit_code_0_and_no_response():
    stderr = (
        "Invoking app.handler (python3.12)\nSTART RequestId: 1 Version: $LATEST\n"
        "Function 'IngestFunction' timed out after 30 seconds\n"
    )
    outcome = check.check_invoke(0, "", stderr)
    assert not outcome.ok
    assert outcome.summary.startswith("timeout: Function 'IngestFunction' timed out after 30")


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ("", "no response from the function"),
        ("not json at all", "no response from the function"),
        ('{"batchItemFailures": [{"itemIdentifier": "m-1"}]}', "1 batch item failure(s)"),
        ('{"error": "customer_id missing"}', "error: customer_id missing"),
        ('{"malformed": "source \'x\' is not in settings.sources"}', "malformed: source"),
        ('{"statusCode": 403, "body": "<h1>Link not valid</h1>"}', "HTTP 403: <h1>Link not valid"),
    ],
)
def test_a_response_that_reports_a_failure_fails(stdout, expected):
    outcome = check.check_invoke(0, stdout, "Traceback (most recent call last):\n  boom\n")
    assert not outcome.ok
    assert outcome.summary.startswith(expected)


def test_sam_failing_itself_fails():
    outcome = check.check_invoke(1, "", "Error: Template file not found at template.yaml\n")
    assert not outcome.ok
    assert outcome.summary == "sam exited 1"
    assert outcome.detail == ["Error: Template file not found at template.yaml"]


def test_an_empty_batch_failure_list_passes():
    assert check.check_invoke(0, '{"batchItemFailures": []}', "").ok


def test_every_function_in_the_template_has_sample_events():
    functions = check.template_functions()
    assert {"IngestFunction", "DispatchFunction", "WakeFunction"} <= {
        f.logical_id for f in functions
    }
    planned = check.plan_invokes(functions, check.read_event_map())
    missing = [f.logical_id for f, files in planned if not files]
    assert not missing, (
        f"no sample event for {missing}: add events/<name>_*.json or a line in "
        ".ci/sam-local-events.txt"
    )


def test_ingest_gets_every_accepted_envelope_oldest_first_and_runs_first():
    planned = check.plan_invokes(check.template_functions(), check.read_event_map())
    function, files = planned[0]
    assert function.name == "ingest"
    envelopes = [json.loads(p.read_text()) for p in files]
    assert all("detail-type" in e for e in envelopes)
    assert [e["time"] for e in envelopes] == sorted(e["time"] for e in envelopes)
    names = {p.name for p in files}
    assert {"customer_updated.json", "cart_updated.json", "order_placed.json"} <= names


def test_the_default_mapping_is_the_function_name(tmp_path):
    (tmp_path / "score.json").write_text("{}")
    (tmp_path / "score_daily.json").write_text("{}")
    (tmp_path / "scoreboard.json").write_text("{}")
    planned = check.plan_invokes([check.Function("ScoreFunction", "score")], {}, events=tmp_path)
    assert [p.name for p in planned[0][1]] == ["score.json", "score_daily.json"]


def test_the_dispatch_sample_is_an_outbox_item_as_the_store_writes_it():
    from nudge.aws import store
    from nudge.core.decisions import Message

    batch = json.loads((EVENTS / "dispatch_outbox_insert.json").read_text())
    (image,) = check.stream_inserts(batch)
    # the body has every field a Message needs and none it does not know (newer optional
    # fields take their defaults)
    rebuilt = store.outbox_item(Message(**json.loads(image["doc"]["S"])))
    assert set(rebuilt) == set(image)
    for key in set(image) - {"ttl", "doc"}:
        assert rebuilt[key] == image[key], key
    assert batch["Records"][0]["dynamodb"]["Keys"] == {"pk": image["pk"], "sk": image["sk"]}


def test_the_wake_sample_is_a_wait_schedule_input():
    payload = json.loads((EVENTS / "wake_wait.json").read_text())
    assert payload["kind"] == "wait"
    assert payload["customer_id"] and payload["wait_id"]


def test_the_local_template_declares_the_endpoint_variable(tmp_path):
    built = tmp_path / "template.yaml"
    built.write_text(
        "Globals:\n  Function:\n    Environment:\n      Variables:\n        NUDGE_TABLE:\n"
        "          Ref: Table\nResources: {}\n"
    )
    out = tmp_path / "template.sam-local.yaml"
    check.write_local_template(built, out)
    variables = check.load_template(out)["Globals"]["Function"]["Environment"]["Variables"]
    assert variables == {"NUDGE_TABLE": {"Ref": "Table"}, "AWS_ENDPOINT_URL": ""}


def test_ci_runs_the_target_and_proves_the_failure_path():
    lines = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    where = {
        step: next(i for i, line in enumerate(lines) if line.startswith(step))
        for step in ("make test", "bash .ci/sam.sh local --break-moto", "make sam-local")
    }
    assert (
        where["make test"] < where["bash .ci/sam.sh local --break-moto"] < where["make sam-local"]
    )
    assert Path(ROOT / ".ci" / "sam.sh").read_text().count("--break-moto") >= 2


def test_sample_events_are_moved_to_just_before_now_for_ingest_keeping_their_spacing():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 30, 4, 20, tzinfo=UTC)
    text = json.dumps(
        {
            "time": "2027-02-10T14:03:00Z",
            "detail": {"sent": "2027-02-10T13:59:31.123Z", "local": "2027-02-10T09:03:00-05:00"},
        }
    )
    moved = json.loads(check.recent(text, now))
    assert moved["time"] == "2026-11-30T04:10:00Z"  # the latest: 10 minutes before now
    assert moved["detail"]["sent"] == "2026-11-30T04:06:31.123Z"  # 3 min 29 s earlier, as before
    assert moved["detail"]["local"] == "2026-11-29T23:10:00-05:00"  # same instant, its own zone


def test_a_catalog_event_is_checked_by_its_product_not_a_customer():
    """Ingest answers a catalog event (product_updated, Shopify products/update) with the
    product it updated and no customer: the check looks for that product's item instead."""
    import boto3
    from moto import mock_aws

    event = json.loads((EVENTS / "product_updated.json").read_text())
    answer = {"product_id": "p-101", "changes": [], "notified": 0}
    ingest = check.Function("IngestFunction", "ingest")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName=check.PREFIX,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        checks = check.Checks.__new__(check.Checks)
        checks.ddb = ddb
        with pytest.raises(AssertionError, match="no product PRODUCT#p-101/STATE"):
            checks.after(ingest, event, answer, {})
        item = {"pk": {"S": "PRODUCT#p-101"}, "sk": {"S": "STATE"}, "kind": {"S": "product_state"}}
        ddb.put_item(TableName=check.PREFIX, Item=item)
        assert checks.after(ingest, event, answer, {}) == "product PRODUCT#p-101"
        with pytest.raises(AssertionError, match="ingest returned no customer_id"):
            checks.after(ingest, event, {"decisions": []}, {})
