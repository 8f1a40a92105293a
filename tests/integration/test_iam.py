"""IAM from the code: the AWS actions each function performs, recorded while its real handler
runs the sample day, the sample events of every function and a consent-based segment on moto,
are exactly what template.yaml grants it, on the resources nudge.aws.permissions names.

A handler is attributed every botocore call made while it runs (tests/integration/
iam_recorder.py turns each call into the IAM actions that authorise it: a TransactWriteItems
into PutItem/UpdateItem/..., a schedule with a target role into iam:PassRole, ...).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from nudge.aws.permissions import NOT_EXERCISED, PERMISSIONS, ROLES
from nudge.core.clock import parse_time
from nudge.sim import Simulation
from nudge.sim.infra import CfnLoader
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS, ROOT, customer, event, make_config
from tests.feedback_payloads import ses_for, sms_reply
from tests.integration.iam_recorder import FUNCTIONS, Recorder, recording

LOCAL_UNSUBSCRIBE_SECRET = "nudge-local-unsubscribe-secret-for-sam-local-only"  # as in .ci
SUBSCRIBED = "  subscribed:   {where: {consent.email: true}}\n"
GOODBYE = """\
id: goodbye_text
when: {event: segment_exited, where: {properties.segment: subscribed}}
channel: sms
wait: 1h
sms: {text: "You will get no more emails from us. Reply STOP to stop texts too."}
"""

EMAIL_NOW = """\
id: iam_email_now
when: {event: product_viewed}
channel: email
email: {subject: "Seen something you like?", text: "Take another look. {{ unsubscribe_url }}"}
"""


def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def _drive(sim: Simulation) -> None:
    """Everything each function does in production, through its real handler."""
    from nudge.aws import clients
    from nudge.aws.secrets import forget_keys
    from nudge.flows import api, campaign, dispatch, feedback, score, sweeper, unsubscribe, wake

    # ingest, dispatch, wake, score (daily): the sample day and two days after it
    day = read_events(EVENTS / "sample_day.jsonl")
    sim.run(day, until=parse_time(day[-1]["time"]) + __import__("datetime").timedelta(days=2))
    # a consent change that moves a customer out of the consent-based segment, by every path
    at = sim.clock.current
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    sim.run([customer("iam-1", stamp), customer("iam-2", stamp)], until=at)
    sim.run([event("consent_updated", "iam-1", stamp, channel="email", granted=False)], until=at)
    # unsubscribe: the sample requests, signed with the local secret (put in as a rotation)
    arn = os.environ["NUDGE_UNSUBSCRIBE_SECRET_ARN"]
    clients.client("secretsmanager").put_secret_value(
        SecretId=arn, SecretString=LOCAL_UNSUBSCRIBE_SECRET
    )
    forget_keys()
    sim.run([customer("c-1001", stamp)], until=at)
    for name in ("unsubscribe_link_opened", "unsubscribe_page_button", "unsubscribe_one_click"):
        assert unsubscribe.handle(_sample(name))["statusCode"] == 200, name
    # feedback: SES events for a message really sent, an SMS STOP, the sample
    mail = next(m for m in sim.messages() if m["channel"] == "email")
    for kind in ("delivery", "open", "click", "bounce", "complaint"):
        feedback.handle(ses_for(kind, mail))
    feedback.handle(sms_reply("+15555550100", "STOP"))
    feedback.handle(_sample("feedback_sms_stop"))
    # campaign: its cron, and the deploy's schedule sync (a CloudFormation custom resource)
    campaign.handle(_sample("campaign_monthly_value_tiers"))
    answers: list[str] = []
    original = campaign._cfn_respond
    campaign._cfn_respond = lambda _event, status, reason="": answers.append(status)  # type: ignore[assignment]
    try:
        base = {"ResponseURL": "https://cloudformation.invalid/", "StackId": "s", "RequestId": "r"}
        campaign.handle({**base, "RequestType": "Update", "LogicalResourceId": "CampaignSchedules"})
    finally:
        campaign._cfn_respond = original  # type: ignore[assignment]
    assert answers == ["SUCCESS"]
    score.handle(_sample("score_daily"))
    wake.handle(_sample("wake_wait"))
    dispatch.handle(_sample("dispatch_outbox_insert"))
    sweeper.handle(_sample("sweeper"))  # nothing in flight: it only looks
    # api: read, export, erase; then the erased customer comes back (the tombstone goes)
    for name in ("api_get_profile", "api_get_content", "api_export_profile", "api_delete_profile"):
        assert api.handle(_sample(name))["statusCode"] in (200, 202, 204, 404), name
    # the erased customer's link and feedback: refused by the tombstone check, nothing recreated
    assert unsubscribe.handle(_sample("unsubscribe_one_click"))["statusCode"] == 200
    erased = {"to": "c-1001@x.example", "provider_id": "p-1", "customer_id": "c-1001"}
    feedback.handle(ses_for("open", {**erased, "message_id": "m-1"}))
    sim.run([customer("c-1001", stamp)], until=at)
    # a malformed event: parked in the ingest dead-letter queue with its reason
    broken = _sample("order_placed")
    broken["detail"].pop("customer_id", None)
    broken["detail"].pop("anonymous_id", None)
    # every sample envelope, partner ones included (source counts; some are parked)
    envelopes = [
        _sample(path.stem)
        for path in sorted(EVENTS.glob("*.json"))
        if "detail-type" in json.loads(path.read_text())
    ]
    for envelope in [*envelopes, broken]:
        envelope["time"] = stamp
    envelopes.append(broken)
    sim.run(envelopes, until=at + __import__("datetime").timedelta(days=1))


def _drive_direct_sends(config_dir: Any) -> None:
    """With no arbitration window a decided message is sent by dispatch, from the stream: an
    email, a text, and a text deferred by quiet hours (dispatch schedules it)."""
    with Simulation(config_dir, start=parse_time("2027-02-06T00:00:00Z"), backend="moto") as sim:
        view = event("page_viewed", "iam-3", "2027-02-10T15:00:00Z", path="/pages/delivery")
        night = event("page_viewed", "iam-4", "2027-02-11T03:30:00Z", path="/pages/delivery")
        looked = event("product_viewed", "iam-5", "2027-02-10T15:00:00Z")
        sim.run(
            [
                customer("iam-3", "2027-02-10T14:00:00Z"),
                customer("iam-4", "2027-02-10T14:00:00Z"),
                customer("iam-5", "2027-02-10T14:00:00Z"),
                view,
                night,
                looked,
            ],
            until=parse_time("2027-02-11T18:00:00Z"),
        )
        sent = {(m["customer_id"], m["channel"]) for m in sim.messages()}
        assert {("iam-3", "sms"), ("iam-4", "sms"), ("iam-5", "email")} <= sent


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recorder]:
    segments = (CONFIG / "segments.yaml").read_text()
    segments = segments.replace("segments:\n", "segments:\n" + SUBSCRIBED, 1)
    config = make_config(
        tmp_path_factory.mktemp("iam"),
        **{"segments.yaml": segments, "triggers/goodbye_text.yaml": GOODBYE},
    )
    settings = (CONFIG / "settings.yaml").read_text()
    direct = make_config(
        tmp_path_factory.mktemp("iam-direct"),
        **{
            "settings.yaml": settings.replace("arbitration_window: 1m", "arbitration_window: 0s"),
            "triggers/iam_email_now.yaml": EMAIL_NOW,
        },
    )
    from nudge.flows import score

    with pytest.MonkeyPatch.context() as patch, recording(patch) as recorder:
        # a cold container: the table size score caches per container is read again (an earlier
        # test in this process may have left it cached, hiding DescribeTable from the recording)
        patch.setattr(score, "_auto", {})
        with Simulation(
            config, start=parse_time("2027-02-06T00:00:00Z"), daily=True, backend="moto"
        ) as sim:
            _drive(sim)
        _drive_direct_sends(direct)
        yield recorder


def _template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)


def _resource(value: Any) -> str:
    """A statement's Resource as the name nudge.aws.permissions uses."""
    if value == "*":
        return "*"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text = sub[0] if isinstance(sub, list) else sub
        for marker, name in (
            ("schedule/${WaitScheduleGroup}/*", "WaitScheduleGroup/*"),
            ("schedule-group/${WaitScheduleGroup}", "WaitScheduleGroup"),
            ("identity/${SenderEmail}", "SenderEmail"),
            ("identity/${Domain}", "SenderDomain"),
            ("configuration-set/${SesConfigurationSet}", "SesConfigurationSet"),
            (
                "configuration-set/${SesTransactionalConfigurationSet}",
                "SesTransactionalConfigurationSet",
            ),
            ("${Table.Arn}/index/inflight", "Table/index/inflight"),
        ):
            if text.endswith(marker):
                return name
        if ":function:${AWS::StackName}-" in text:
            return "function/" + text.rsplit("-", 1)[1]
    raise AssertionError(f"a resource the test cannot name: {value!r}")


def granted() -> dict[str, dict[str, set[str]]]:
    """function -> action -> resources, from every function's Policies in template.yaml."""
    out: dict[str, dict[str, set[str]]] = {}
    for resource in _template()["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        name = str(props["CodeUri"]).rstrip("/").split("/")[-1]
        grants: dict[str, set[str]] = {}
        for policy in props.get("Policies", []):
            for statement in policy["Statement"]:
                assert statement["Effect"] == "Allow"
                actions = statement["Action"]
                resources = statement["Resource"]
                for action in [actions] if isinstance(actions, str) else actions:
                    targets = resources if isinstance(resources, list) else [resources]
                    grants.setdefault(action, set()).update(_resource(r) for r in targets)
        out[name] = grants
    return out


def role_grants(name: str) -> dict[str, set[str]]:
    """action -> resources an AWS::IAM::Role of template.yaml grants (all its policies)."""
    role = _template()["Resources"][name]
    assert role["Type"] == "AWS::IAM::Role"
    grants: dict[str, set[str]] = {}
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"]
            resources = statement["Resource"]
            for action in [actions] if isinstance(actions, str) else actions:
                targets = resources if isinstance(resources, list) else [resources]
                grants.setdefault(action, set()).update(_resource(r) for r in targets)
    return grants


@pytest.mark.parametrize("role", sorted(ROLES))
def test_a_service_role_grants_exactly_the_mapped_actions(role):
    # WebhookRuleRole: the webhook rule may invoke its API destination, and nothing else
    expected = {action: set(resources) for action, resources in ROLES[role].items()}
    assert role_grants(role) == expected


def test_every_function_in_the_template_is_mapped():
    assert set(granted()) == set(PERMISSIONS) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_template_grants_exactly_the_mapped_actions_on_named_resources(function):
    grants = granted()[function]
    expected = {action: set(resources) for action, resources in PERMISSIONS[function].items()}
    assert grants == expected


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_action_the_handler_performs_is_mapped(recorded, function):
    performed = recorded.actions.get(function, set())
    assert performed, f"{function} never ran"
    assert performed - set(PERMISSIONS[function]) == set()


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_mapped_action_is_performed_or_its_absence_explained(recorded, function):
    performed = recorded.actions.get(function, set())
    unused = set(PERMISSIONS[function]) - performed - set(NOT_EXERCISED.get(function, {}))
    assert unused == set()
    for action in NOT_EXERCISED.get(function, {}):
        assert action in PERMISSIONS[function]
        assert action not in performed, f"{action} is exercised now: drop it from NOT_EXERCISED"


def test_only_sms_to_phone_numbers_is_granted_on_every_resource():
    wildcard = {
        (function, action)
        for function, grants in granted().items()
        for action, resources in grants.items()
        if "*" in resources
    }
    assert wildcard == {
        ("dispatch", "sns:Publish"),
        ("wake", "sns:Publish"),
        ("sweeper", "sns:Publish"),  # it sends a text a crashed dispatch left claimed
    }


def _deny(monkeypatch: pytest.MonkeyPatch, operation: str) -> list[str]:
    """Every ``operation`` call answers AccessDeniedException, as AWS does without the grant."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    original = BaseClient._make_api_call
    denied: list[str] = []

    def call(self: Any, name: str, params: dict[str, Any]) -> Any:
        if name == operation:
            denied.append(name)
            error = {"Code": "AccessDeniedException", "Message": f"not authorized: {name}"}
            raise ClientError({"Error": error}, name)
        return original(self, name, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", call)
    return denied


def test_a_denied_announcement_fails_the_click_and_the_event_instead_of_vanishing(
    tmp_path, monkeypatch
):
    from botocore.exceptions import ClientError

    from nudge.flows import ingest, unsubscribe
    from tests.scenarios.test_unsubscribe_link import _first_email, _one_click

    segments = (CONFIG / "segments.yaml").read_text()
    segments = segments.replace("segments:\n", "segments:\n" + SUBSCRIBED, 1)
    config = make_config(tmp_path, **{"segments.yaml": segments})
    with Simulation(config, start=parse_time("2027-01-01T00:00:00Z"), backend="moto") as sim:
        link = _first_email(sim, "ada")
        assert "subscribed" in sim.profiles()["ada"]["segments"]
        denied = _deny(monkeypatch, "PutEvents")

        # the click leaves the consent-based segment: its announcement is denied -> a 5xx the
        # customer can retry, not a page saying "unsubscribed" over a change nobody heard of
        with pytest.raises(ClientError, match="AccessDenied"):
            unsubscribe.handle(_one_click(link))
        # the same through ingest: the record is reported failed (retried, then dead-lettered)
        opt_out = event(
            "consent_updated", "bo", "2027-02-05T10:00:00Z", channel="email", granted=False
        )
        joined = customer("bo", "2027-02-05T09:00:00Z")
        records = [
            {"messageId": "m-1", "body": json.dumps(joined)},
            {"messageId": "m-2", "body": json.dumps(opt_out)},
        ]
        sim.clock.set(parse_time("2027-02-05T10:00:00Z"))
        answer = ingest.handle({"Records": records})

    assert denied
    assert {f["itemIdentifier"] for f in answer["batchItemFailures"]} >= {"m-2"}
