"""The load benchmark (bench/load.py) at test size: a day of 20 customers through the real
ingest and wake handlers on a threaded moto server (127.0.0.1 only). ``make bench`` runs the
same with 10,000 customers and records events/s and p99 per event."""

from __future__ import annotations

from bench.load import day_events, run_load


def test_a_small_day_on_a_moto_server_loses_nothing():
    got = run_load(customers=20, threads=3)

    assert got["events"] == sum(len(v) for v in day_events(20).values())
    assert got["ingest_failed"] == 0
    assert got["lost_events"] == 0  # every event recorded as applied by its customer's profile
    assert got["lost_messages"] == 0  # nothing left pending without a schedule
    assert got["outbox"].get("sent", 0) > 0  # the day's reminders went out
    assert got["events_per_s"] > 0 and got["p99_ms"] >= got["p50_ms"] > 0


def test_the_partition_query_patch_answers_as_moto_does():
    """bench/load.py makes moto's base-table Query look at one partition (moto sorts the whole
    table per call); every answer must stay the same: items, order, pages, filters."""
    import boto3
    from moto import mock_aws

    from bench.load import _moto_partition_queries

    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="t",
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
        for c in range(5):
            for n in range(12):
                kind = "outbox" if n % 3 else "decision"
                ddb.put_item(
                    TableName="t",
                    Item={
                        "pk": {"S": f"c#{c}"},
                        "sk": {"S": f"{kind}#{n:02d}"},
                        "n": {"N": str(n)},
                    },
                )
        asks = [
            {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "c#2"}},
            },
            {
                "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
                "ExpressionAttributeValues": {":p": {"S": "c#3"}, ":s": {"S": "outbox#"}},
                "ScanIndexForward": False,
            },
            {
                "KeyConditionExpression": "pk = :p",
                "FilterExpression": "n > :n",
                "ExpressionAttributeValues": {":p": {"S": "c#1"}, ":n": {"N": "4"}},
                "Limit": 5,
            },
            {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "c#9"}},
            },
        ]

        def pages(ask: dict) -> list[dict]:
            out, start = [], None
            while True:
                page = ddb.query(
                    TableName="t", **ask, **({"ExclusiveStartKey": start} if start else {})
                )
                out.append({k: page.get(k) for k in ("Items", "Count", "LastEvaluatedKey")})
                start = page.get("LastEvaluatedKey")
                if not start:
                    return out

        plain = [pages(ask) for ask in asks]
        with _moto_partition_queries():
            patched = [pages(ask) for ask in asks]
    assert patched == plain
    assert len(plain[2]) > 1 and plain[0][0]["Count"] == 12 and plain[3][0]["Count"] == 0
