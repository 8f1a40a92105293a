"""No email address or phone number in any log line, even at DEBUG (docs/deploy.md, "Logs").

The sample day runs through the real handlers on moto with every log level turned to DEBUG (the
Powertools level, ``LOG_LEVEL`` and the root logger, as Lambda's ``AWS_LAMBDA_LOG_LEVEL=DEBUG``
sets it). Every log record any logger emits is captured, with what the run printed (the EMF
metric lines go to stdout), and searched for the sample day's own addresses and numbers.
"""

from __future__ import annotations

import logging
import os
import re

import pytest

from nudge.core.clock import parse_time
from nudge.sim import Simulation
from nudge.sim.runner import read_events
from tests.conftest import CONFIG, EVENTS

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _personal(events: list[dict]) -> tuple[set[str], set[str]]:
    """Every email (lower-cased) and phone number (E.164, as digits) in the events."""
    values = _strings(events)
    emails = {m.lower() for v in values for m in EMAIL.findall(v)}
    phones = {_digits(v) for v in values if re.fullmatch(r"\+\d{8,15}", v)}
    return emails, phones


class _Everything(logging.Handler):
    """Keeps every record, fully formatted (message, arguments and traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _leaks(lines: list[str], emails: set[str], phones: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        hits = [m for m in EMAIL.findall(line) if m.lower() in emails]
        hits += [m for m in PHONE.findall(line) if _digits(m) in phones]
        for hit in hits:
            found.setdefault(hit, []).append(line[:160])
    return found


@pytest.fixture
def debug_everywhere(monkeypatch):
    """Every level knob at DEBUG; a handler on the root logger that keeps every record."""
    for name in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"):
        monkeypatch.setenv(name, "DEBUG")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "nudge")
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    root = logging.getLogger()
    handler = _Everything()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def test_the_sample_day_at_debug_logs_no_email_or_phone(debug_everywhere, capfd):
    events = read_events(EVENTS / "sample_day.jsonl")
    emails, phones = _personal(events)
    assert len(emails) > 20 and len(phones) > 20  # the day does carry personal data

    # on moto: the leak this guards against was botocore logging its HTTP request bodies
    with Simulation(CONFIG, start=parse_time("2027-02-10T00:00:00Z"), backend="moto") as sim:
        # the simulator turns metrics off; on here, as deployed (it restores the variable)
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        sim.run(events, until=parse_time("2027-02-12T00:00:00Z"))
        sent = sim.messages()

    printed = capfd.readouterr()
    lines = debug_everywhere.lines + (printed.out + printed.err).splitlines()
    assert sent, "the day sends messages (so addresses were in play)"
    assert any('"Decisions"' in line for line in lines), "the EMF lines were captured"
    assert len(debug_everywhere.lines) > 0
    assert _leaks(lines, emails, phones) == {}


def test_library_loggers_stay_at_warning_whatever_the_level(debug_everywhere):
    from nudge.aws.clients import client, reset_clients

    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(name).setLevel(logging.DEBUG)  # what a DEBUG level setting would do
    reset_clients()
    client("sqs")  # the first client of a container caps them again

    for name in ("botocore", "boto3", "urllib3", "s3transfer"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        assert logging.getLogger(f"{name}.child").getEffectiveLevel() >= logging.WARNING
