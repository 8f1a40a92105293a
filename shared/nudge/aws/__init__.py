"""The AWS edge: the only code that holds AWS clients (``clients``).

- ``store``: the DynamoDB table, by item family (profiles, outbox, indexes, runs, bulk reads)
- ``scheduler``: one-time wake/send schedules and the crons the deploy syncs
- ``providers``: SES (raw MIME) and SNS (SMS)
- ``bus``: nudge's own events on EventBridge, and the ingest dead-letter queue
- ``invoke``: a function invoking itself to carry on (the daily recompute)

Everything else reaches AWS through these modules; ``make lint`` enforces it (import-linter).
"""


def warm(*services: str) -> None:
    """Create these clients now: boto3 client creation is not thread-safe, and a run's threads
    share them (the daily recompute)."""
    from nudge.aws.clients import client

    for service in services:
        client(service)
