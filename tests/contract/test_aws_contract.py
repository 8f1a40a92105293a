"""One contract for both simulated AWS backends (moto and nudge's in-memory AWS): every store,
outbox, scheduler, bus and provider operation nudge uses, called through nudge's own edge
(``nudge.aws``), must answer the same on both, including conditional failures, transaction
cancellation reasons and the error codes botocore raises. A test here that passes on moto but
fails on memory means the in-memory fake is not honest (docs/simulation.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from nudge.aws import bus, providers, scheduler, store
from nudge.aws import clients as aws
from nudge.core.clock import iso, parse_time
from nudge.core.decisions import Decision, Message
from nudge.env import get_env
from nudge.sim import Simulation
from nudge.sim.infra import ENV
from tests.conftest import CONFIG

START = parse_time("2027-02-10T12:00:00Z")


@pytest.fixture(params=["memory", "moto"])
def shop(request) -> Iterator[Simulation]:
    """An empty deployment of the sample config on each backend, clock at ``START``."""
    with Simulation(CONFIG, start=START, backend=request.param) as sim:
        yield sim


def _message(cid: str, mid: str, later: bool = False) -> Message:
    created = iso(START)
    send = iso(START + timedelta(hours=1)) if later else created
    return Message(
        message_id=mid,
        customer_id=cid,
        trigger="cart_jewelry_high_value",
        channel="email",
        created_at=created,
        send_at=send,
        priority=1,
        event={"detail-type": "cart_updated", "detail": {"customer_id": cid}},
    )


def _decision(cid: str, outcome: str, at: str, mid: str | None = None) -> Decision:
    return Decision(cid, "cart_jewelry_high_value", at, outcome, message_id=mid)


def _ddb() -> Any:
    return aws.client("dynamodb")


def _code(exc: BaseException) -> str:
    assert isinstance(exc, ClientError)
    return str(exc.response["Error"]["Code"])


# -- profiles and the commit transaction -----------------------------------------------------------
def test_a_profile_is_written_once_then_only_at_the_version_read(shop):
    assert store.get_profile("ann") == store.Stored(None, 0)
    store.commit("ann", {"customer_id": "ann", "n": 1}, 0)
    assert store.get_profile("ann") == store.Stored({"customer_id": "ann", "n": 1}, 1)

    with pytest.raises(store.VersionConflict):
        store.commit("ann", {"customer_id": "ann", "n": 2}, 0)  # created meanwhile
    with pytest.raises(store.VersionConflict):
        store.commit("ann", {"customer_id": "ann", "n": 2}, 7)  # stale version
    store.commit("ann", {"customer_id": "ann", "n": 2}, 1)
    assert store.get_profile("ann").version == 2


def test_a_conditional_put_fails_with_botocores_conditional_check_error(shop):
    ddb = _ddb()
    item = {"pk": {"S": "X#1"}, "sk": {"S": "X"}, "kind": {"S": "x"}}
    ddb.put_item(TableName=store.table(), Item=item, ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException) as caught:
        ddb.put_item(
            TableName=store.table(), Item=item, ConditionExpression="attribute_not_exists(pk)"
        )
    assert _code(caught.value) == "ConditionalCheckFailedException"
    assert caught.value.operation_name == "PutItem"


def test_a_commit_writes_profile_decisions_and_outbox_together_or_not_at_all(shop):
    at = iso(START)
    store.commit(
        "bo",
        {"customer_id": "bo"},
        0,
        decisions=[_decision("bo", "scheduled", at, "m-1")],
        messages=[_message("bo", "m-1")],
    )
    assert store.get_profile("bo").version == 1
    assert [d["outcome"] for d in store.decisions_for("bo")] == ["scheduled"]
    assert store.get_message("bo", "m-1")["status"] == "pending"
    written = store.get_profile("bo")

    # the same outbox message again: already written by an earlier attempt; nothing changes
    with pytest.raises(store.AlreadyExists):
        store.commit(
            "bo",
            {"customer_id": "bo", "again": True},
            1,
            decisions=[_decision("bo", "scheduled", iso(START + timedelta(seconds=1)), "m-1")],
            messages=[_message("bo", "m-1")],
        )
    assert store.get_profile("bo") == written and written.version == 1
    assert written.doc is not None and "again" not in written.doc
    assert len(store.decisions_for("bo")) == 1


def test_a_cancelled_transaction_reports_one_reason_per_action_in_order(shop):
    ddb = _ddb()
    store.commit("cy", {"customer_id": "cy"}, 0)
    items = store.transaction(
        "cy",
        {"customer_id": "cy"},
        0,  # stale: the profile is at version 1
        decisions=[_decision("cy", "sent", iso(START))],
    )
    with pytest.raises(ddb.exceptions.TransactionCanceledException) as caught:
        ddb.transact_write_items(TransactItems=items)
    response = caught.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in response["CancellationReasons"]] == [
        "ConditionalCheckFailed",
        "None",
    ]
    assert isinstance(store.cancelled("cy", items, caught.value), store.VersionConflict)
    assert store.decisions_for("cy") == []


def test_an_erased_customer_is_not_recreated_and_opting_in_again_removes_the_tombstone(shop):
    store.put_tombstone("di", iso(START))
    assert store.is_erased("di")
    with pytest.raises(store.Erased):
        store.commit(
            "di",
            {"customer_id": "di"},
            0,
            decisions=[_decision("di", "sent", iso(START))],
            extra=[store.not_erased_check("di")],
        )
    assert store.get_profile("di").doc is None
    store.commit(
        "di",
        {"customer_id": "di"},
        0,
        decisions=[_decision("di", "sent", iso(START))],
        extra=[store.tombstone_delete("di")],
    )
    assert not store.is_erased("di")


def test_two_actions_on_one_item_in_a_transaction_are_refused(shop):
    ddb = _ddb()
    put = {"Put": {"TableName": store.table(), "Item": {"pk": {"S": "Y"}, "sk": {"S": "Y"}}}}
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(TransactItems=[put, put])
    assert _code(caught.value) == "ValidationException"


def test_a_merged_alias_stub_replaces_the_profile_at_its_version(shop):
    store.commit("anon:1", {"customer_id": "anon:1"}, 0)
    store.commit(
        "eve",
        {"customer_id": "eve"},
        0,
        decisions=[_decision("eve", "sent", iso(START))],
        extra=[store.alias_put("anon:1", {"customer_id": "anon:1", "merged_into": "eve"}, 1)],
    )
    stub = store.get_profile("anon:1")
    assert stub.doc == {"customer_id": "anon:1", "merged_into": "eve"} and stub.version == 2


# -- the outbox, from claim to final status -------------------------------------------------------
def _pending(cid: str, mid: str) -> None:
    store.commit(
        cid,
        {"customer_id": cid},
        0,
        decisions=[_decision(cid, "scheduled", iso(START), mid)],
        messages=[_message(cid, mid)],
    )


def test_a_message_is_claimed_once_and_finished_with_its_decision(shop):
    _pending("fay", "m-2")
    assert [m["message_id"] for m in store.pending_messages("fay")] == ["m-2"]
    claimed = store.claim_message("fay", "m-2")
    assert claimed is not None and claimed["status"] == "sending"
    assert store.claim_message("fay", "m-2") is None  # a second delivery does nothing
    assert store.pending_messages("fay") == []

    store.mark_calling("fay", "m-2")
    # the provider may have been called: not taken back
    assert store.unclaim("fay", "m-2", claimed["claimed_at"]) is None
    later = iso(START + timedelta(minutes=1))
    store.finish_message("fay", "m-2", "sent", _decision("fay", "sent", later, "m-2"), "p-1")
    got = store.get_message("fay", "m-2")
    assert got["status"] == "sent" and got["provider_id"] == "p-1"
    assert [d["outcome"] for d in store.decisions_for("fay")] == ["scheduled", "sent"]
    assert [d["outcome"] for d in store.decisions_for("fay", since=later)] == ["sent"]


def test_a_stale_claim_that_never_called_the_provider_is_taken_back(shop):
    _pending("gus", "m-3")
    claimed = store.claim_message("gus", "m-3")
    assert claimed is not None
    assert store.unclaim("gus", "m-3", "2000-01-01T00:00:00+00:00") is None  # not that claim
    shop.clock.set(START + timedelta(minutes=5))  # the claim went stale
    taken = store.unclaim("gus", "m-3", claimed["claimed_at"])
    assert taken is not None and taken["status"] == "sending"
    assert store.unclaim("gus", "m-3", claimed["claimed_at"]) is None  # retaken once only


def test_a_claimed_message_is_in_flight_on_the_sparse_index_until_it_is_finished(shop):
    _pending("ivy", "m-5")
    _pending("jon", "m-6")
    assert store.in_flight(iso(START + timedelta(hours=1))) == []  # pending: not in flight
    claimed = store.claim_message("ivy", "m-5")
    assert claimed is not None
    stuck = store.in_flight(iso(START + timedelta(minutes=5)))
    assert [(cid, sk[-3:]) for cid, sk, _at in stuck] == [("ivy", "m-5")]
    assert store.in_flight(iso(START - timedelta(minutes=5))) == []  # claimed after that
    store.mark_calling("ivy", "m-5")
    store.finish_message("ivy", "m-5", "sent", _decision("ivy", "sent", iso(START), "m-5"), "p")
    assert store.in_flight(iso(START + timedelta(minutes=5))) == []


def test_finishing_the_message_of_an_erased_customer_writes_nothing(shop):
    with pytest.raises(store.Gone):
        store.finish_message("hal", "m-4", "sent", _decision("hal", "sent", iso(START), "m-4"))
    assert store.decisions_for("hal") == []
    assert store.get_message("hal", "m-4") is None


def test_the_ledger_and_the_call_are_reserved_together(shop):
    _pending("ivy", "m-5")
    stored, outbox = store.customer_outbox("ivy")
    assert stored.version == 1 and list(outbox) == ["m-5"]
    with pytest.raises(store.Gone):  # not claimed yet
        store.reserve_and_call("ivy", {"customer_id": "ivy"}, 1, "m-5")
    store.claim_message("ivy", "m-5")
    with pytest.raises(store.VersionConflict):
        store.reserve_and_call("ivy", {"customer_id": "ivy"}, 0, "m-5")
    store.reserve_and_call("ivy", {"customer_id": "ivy", "sent": 1}, 1, "m-5")
    stored, outbox = store.customer_outbox("ivy")
    assert stored.doc == {"customer_id": "ivy", "sent": 1}
    assert "calling_at" in outbox["m-5"]


# -- indexes, runs, source counters, bulk reads ------------------------------------------------------
def test_order_and_phone_indexes_find_their_customer(shop):
    store.commit(
        "jo",
        {"customer_id": "jo"},
        0,
        decisions=[_decision("jo", "sent", iso(START))],
        extra=[store.order_index_put("o-9", "jo")],
    )
    store.remember_phone("+15555550199", "jo")
    assert store.order_owner("o-9") == "jo" and store.order_owner("o-0") is None
    assert store.customer_for_phone("+15555550199") == "jo"
    assert store.customer_for_phone("+15555550000") is None


def test_a_score_run_lease_is_held_by_one_owner_at_a_time(shop):
    assert store.claim_run("score#d", "a", lease_until=100.0, at=50.0) is None
    with pytest.raises(store.RunBusy):
        store.claim_run("score#d", "b", lease_until=200.0, at=60.0)
    store.save_run("score#d", "a", {"phase": 1}, lease_until=100.0)
    with pytest.raises(store.RunBusy):
        store.save_run("score#d", "b", {"phase": 2}, lease_until=100.0)
    assert store.claim_run("score#d", "b", lease_until=300.0, at=150.0) == {"phase": 1}
    assert store.get_run("score#d") == {"phase": 1}
    store.put_run_chunk("score#d", "p1-0", b"\x00\x01", 1)
    store.put_run_chunk("score#d", "p1-1", b"\x02", 1)
    store.put_run_chunk("score#d", "p2-0", b"\x03", 1)
    assert store.run_chunks("score#d", "p1-") == [("p1-0", b"\x00\x01"), ("p1-1", b"\x02")]


def test_bought_together_lists_and_product_states_are_read_in_batches(shop):
    lists = {f"p{n:03d}": [{"product_id": f"q{n}", "customers": n}] for n in range(130)}
    assert store.put_bought_together(lists, "2027-02-10") == 130  # six BatchWriteItems
    store.put_product("p007", {"name": "Pendant", "price": 185.0}, 0)
    wanted = [f"p{n:03d}" for n in range(0, 130, 9)] + ["nope"]
    assert store.bought_together(wanted) == {p: lists[p] for p in wanted if p != "nope"}
    assert store.bought_together([]) == {}
    everyone = store.bought_together(list(lists))  # two BatchGetItems of at most 100 keys
    assert everyone == lists
    assert store.products(["p007", "p008"]) == {"p007": {"name": "Pendant", "price": 185.0}}
    shop.clock.set(START + timedelta(days=store.TOGETHER_TTL_DAYS, seconds=1))
    assert store.bought_together(["p001"]) == {}  # expired, even before DynamoDB deletes it


def test_source_counters_add_up(shop):
    store.add_source_counts("shopify", "orders/create", {"mapped": 2}, iso(START))
    store.add_source_counts(
        "shopify", "orders/create", {"mapped": 1, "skipped": 1}, iso(START), reason="no id"
    )
    (row,) = store.source_counts()
    assert (row["mapped"], row["skipped"], row["unmapped"]) == (3, 1, 0)
    assert row["last_reason"] == "no id"


def test_scans_and_partitions_read_every_item_once(shop):
    for n in range(12):
        _pending(f"k{n:02d}", f"m-k{n}")  # its decision is kept in the profile: no log item
        store.put_decisions([_decision(f"k{n:02d}", "sent", iso(START), f"m-k{n}")])
    profiles: list[str] = []
    for segment in range(3):
        key = None
        while True:
            page, key = store.scan_profiles(segment, 3, key, limit=4)
            profiles += [p["customer_id"] for p in page]
            if key is None:
                break
    assert sorted(profiles) == [f"k{n:02d}" for n in range(12)]
    assert len(store.scan_kind("outbox")) == 12
    kinds = sorted(i["kind"]["S"] for i in store.partition_items("k03"))
    assert kinds == ["decision", "outbox", "profile"]
    assert store.plain_item(store.partition_items("k03")[-1])["doc"]["customer_id"] == "k03"
    assert sorted(d["outcome"] for d in store.decisions_for("k03")) == ["scheduled", "sent"]
    assert store.table_item_count() == 36
    keys = [{"pk": i["pk"], "sk": i["sk"]} for i in store.partition_items("k03")]
    assert store.delete_keys(keys) == 3
    assert store.partition_items("k03") == []


def test_an_unused_expression_value_is_refused(shop):
    if shop.backend.name == "moto":
        pytest.skip("moto does not check unused placeholders; DynamoDB (and memory) refuse them")
    ddb = _ddb()
    ddb.get_item(TableName=store.table(), Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
    with pytest.raises(ClientError) as caught:
        ddb.query(
            TableName=store.table(),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}, ":extra": {"S": "b"}},
        )
    assert _code(caught.value) == "ValidationException"


# -- scheduler -------------------------------------------------------------------------------------
def test_one_time_schedules_are_created_once_and_deleted_quietly(shop):
    at = START + timedelta(hours=1)
    name = scheduler.create_wake("wait", "w-1", at, {"customer_id": "lu"})
    assert scheduler.create_wake("wait", "w-1", at, {"customer_id": "lu"}) == name  # retried
    sched = aws.client("scheduler")
    got = sched.get_schedule(Name=name, GroupName=get_env().scheduler_group)
    assert got["ScheduleExpression"] == "at(2027-02-10T13:00:00)"
    assert [(t, n) for t, n, _ in shop.due_schedules(at)] == [(at, name)]
    assert shop.due_schedules(at - timedelta(seconds=1)) == []
    scheduler.delete_wake("wait", "w-1")
    scheduler.delete_wake("wait", "w-1")  # already gone: harmless
    with pytest.raises(sched.exceptions.ResourceNotFoundException):
        sched.get_schedule(Name=name, GroupName=get_env().scheduler_group)


def test_crons_are_created_updated_listed_and_deleted(shop):
    cron = scheduler.Cron(
        "nudge-contract-x", "cron(0 9 * * ? *)", "UTC", ENV["NUDGE_CAMPAIGN_FUNCTION_ARN"], {}
    )
    scheduler.put_cron(cron)
    scheduler.put_cron(replace(cron, expression="cron(0 10 * * ? *)"))
    assert scheduler.cron_names("nudge-contract-") == {"nudge-contract-x"}
    got = aws.client("scheduler").get_schedule(
        Name="nudge-contract-x", GroupName=get_env().scheduler_group
    )
    assert got["ScheduleExpression"] == "cron(0 10 * * ? *)"
    scheduler.delete_cron("nudge-contract-x")
    assert scheduler.cron_names("nudge-contract-") == set()


# -- providers, bus, dead letters -------------------------------------------------------------------
def test_email_from_the_verified_sender_is_captured_and_from_another_refused(shop):
    sender = shop.config.settings.sender.email
    assert sender
    raw = providers.build_email(sender, "ann@shop.example", "Hi", "<p>hi</p>", "hi", {})
    pid = providers.send_email(sender, "ann@shop.example", raw, {"a": "b"})
    (mail,) = shop.backend.emails()
    assert mail.id == pid and "ann@shop.example" in mail.destinations
    assert "Subject: Hi" in mail.raw_data
    other = providers.build_email(
        "x@not-verified.example", "ann@shop.example", "Hi", None, "hi", {}
    )
    with pytest.raises(providers.ProviderError):
        providers.send_email("x@not-verified.example", "ann@shop.example", other)


def test_sms_to_an_e164_number_is_captured_and_to_another_refused(shop):
    pid = providers.send_sms(None, "+15555550100", "hello")
    assert shop.backend.sms() == {pid: ("+15555550100", "hello")}
    with pytest.raises(providers.ProviderError):
        providers.send_sms(None, "555-0100", "hello")


def test_nudges_own_events_do_not_reach_ingest_and_parked_ones_keep_their_reason(shop):
    bus.put_events(
        [{"detail-type": "segment_entered", "detail": {"customer_id": "a"}, "time": iso(START)}]
    )
    sqs = aws.client("sqs")
    assert "Messages" not in sqs.receive_message(QueueUrl=shop.queue_url)
    bus.park({"broken": True}, "not a storefront event")
    assert shop.dead_letters() == [
        {
            "reason": "not a storefront event",
            "body": '{"broken": true}',
            "queue": "nudge-ingest-dlq",
        }
    ]


def test_a_storefront_event_reaches_the_ingest_queue_as_eventbridge_delivers_it(shop):
    aws.client("events").put_events(
        Entries=[
            {
                "Source": "shop.storefront",
                "DetailType": "page_viewed",
                "Detail": '{"customer_id": "a"}',
                "Time": START,
                "EventBusName": ENV["NUDGE_BUS_NAME"],
            }
        ]
    )
    (got,) = aws.client("sqs").receive_message(QueueUrl=shop.queue_url)["Messages"]
    body = json.loads(got["Body"])
    # (EventBridge also sends "account"; moto leaves it out, and ingest does not read it)
    assert {k: body[k] for k in ("version", "source", "detail-type", "time", "detail")} == {
        "version": "0",
        "source": "shop.storefront",
        "detail-type": "page_viewed",
        "time": "2027-02-10T12:00:00Z",
        "detail": {"customer_id": "a"},
    }


def test_a_message_received_too_often_moves_to_the_dead_letter_queue(shop):
    sqs = aws.client("sqs")
    dlq = sqs.create_queue(QueueName="contract-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="contract-q",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    # received and not deleted, twice (visible again at once: visibility timeout 0) ...
    for _ in range(2):
        (got,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
        assert got["Body"] == "poison"
    # ... then the next receive moves it to the dead-letter queue instead
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=dlq)["Messages"]] == ["poison"]


def test_a_received_message_is_hidden_for_its_visibility_timeout(shop):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="contract-v")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="once")
    (got,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    if shop.backend.name == "memory":  # moto's SQS keeps wall-clock time, memory the simulated
        shop.advance(shop.clock.current + timedelta(seconds=31))
        (again,) = sqs.receive_message(QueueUrl=url)["Messages"]
        assert again["Body"] == "once" and again["ReceiptHandle"] != got["ReceiptHandle"]
        sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
        shop.advance(shop.clock.current + timedelta(seconds=31))
        assert "Messages" not in sqs.receive_message(QueueUrl=url)


# -- the unsubscribe secret ------------------------------------------------------------------------
def test_a_rotated_secret_keeps_the_previous_key_and_a_deleted_one_is_not_found(shop):
    from nudge.aws.secrets import forget_keys, unsubscribe_keys

    sm = aws.client("secretsmanager")
    arn = get_env().unsubscribe_secret_arn
    first = unsubscribe_keys()
    with pytest.raises(ClientError) as never_rotated:
        sm.get_secret_value(SecretId=arn, VersionStage="AWSPREVIOUS")
    assert _code(never_rotated.value) == "ResourceNotFoundException"
    sm.put_secret_value(SecretId=arn, SecretString="a-new-key-of-enough-length-0123456789abcdef")
    forget_keys()
    rotated = unsubscribe_keys()
    assert rotated.current != first.current
    assert first.current in rotated.keys  # links signed before the rotation still verify
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as gone:
        sm.get_secret_value(SecretId=arn)
    assert _code(gone.value) == "ResourceNotFoundException"
