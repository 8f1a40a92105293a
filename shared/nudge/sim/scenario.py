"""Scenario files: a marketer's "this customer should get the cart reminder at 15:03 and no SMS",
played through the real handlers on the simulator (``nudge test``, docs/testing-rules.md).

A scenario names a start time, customers (shorthand for ``customer_updated`` events at the
start), events at times relative to the start, and expectations on the decisions that result:
who, which trigger or campaign, outcome, reason, when (with a tolerance), channel, content and how
many. :func:`run_scenario` plays one and checks it; :func:`render_failure` shows what was expected
beside what happened, per customer.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from nudge.core.clock import iso, parse_time
from nudge.sim.backends import DEFAULT_BACKEND

DEFAULT_TOLERANCE = timedelta(minutes=1)
DEFAULT_SOURCE = "shop.storefront"
_RELATIVE = re.compile(r"^([+-])\s*((?:\d+\s*[wdhms]\s*)+)$")
_PART = re.compile(r"(\d+)\s*([wdhms])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# expectation keys that filter decisions (the rest check content or count)
_EXPECT_KEYS = {
    "customer",
    "trigger",
    "outcome",
    "reason",
    "at",
    "tolerance",
    "channel",
    "subject_contains",
    "text_contains",
    "html_contains",
    "count",
}
_CUSTOMER_KEYS = {"consent"}  # everything else in a customer shorthand is a trait
NOT_SENT = "not_sent"


class ScenarioError(ValueError):
    """A scenario file that cannot be run (the message names the file and the place)."""


def parse_offset(text: Any) -> timedelta:
    """``+1h1m``, ``-30m``, ``+0m``: a time relative to the scenario's start."""
    match = _RELATIVE.match(str(text).strip())
    if not match:
        raise ValueError(f"{text!r} is not a relative time; write +0m, +45m, +1h1m, +2d")
    seconds = sum(int(n) * _SECONDS[u] for n, u in _PART.findall(match.group(2)))
    return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)


def format_offset(delta: timedelta) -> str:
    """A time relative to the start as a scenario writes it: ``+1h1m``, ``+2d3h``, ``+0m``."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else "+"
    total = abs(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + ("".join(parts) or "0m")


def _when(value: Any, start: datetime) -> datetime:
    """A scenario time: relative (``+1h``) or absolute (ISO 8601 with an offset)."""
    if isinstance(value, datetime):
        return parse_time(value)
    text = str(value).strip()
    if text[:1] in "+-":
        return start + parse_offset(text)
    return parse_time(text)


@dataclass
class Expectation:
    """One line of ``expect``: which decisions it selects and what it requires of them."""

    raw: dict[str, Any]
    customer: str | None = None
    trigger: str | None = None
    outcome: str | None = None
    reason: str | None = None
    at: datetime | None = None
    tolerance: timedelta = DEFAULT_TOLERANCE
    channel: str | None = None
    contains: dict[str, str] = field(default_factory=dict)  # subject/text/html -> text
    count: int | None = None

    def describe(self, start: datetime) -> str:
        """The expectation on one line, in the scenario's own words."""
        parts = []
        if self.at is not None:
            tol = format_offset(self.tolerance).lstrip("+")
            parts.append(f"{format_offset(self.at - start)} ±{tol}")
        for value in (self.trigger, self.outcome, self.reason and f"({self.reason})"):
            if value:
                parts.append(value)
        if self.channel:
            parts.append(self.channel)
        parts += [f'{k} contains "{v}"' for k, v in self.contains.items()]
        if self.count is not None:
            parts.append(f"x{self.count}")
        return "  ".join(parts)


@dataclass
class Scenario:
    """A scenario read from a file."""

    name: str
    path: Path
    start: datetime
    config_dir: Path
    events: list[dict[str, Any]]
    expectations: list[Expectation]
    until: datetime
    daily: bool = False
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class Check:
    """One expectation and how it came out."""

    expectation: Expectation
    ok: bool
    why: str = ""


@dataclass
class Result:
    """One scenario played: every check, the decisions and messages it produced."""

    scenario: Scenario
    checks: list[Check]
    decisions: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every expectation held and the scenario ran."""
        return self.error is None and all(c.ok for c in self.checks)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def default_config_dir(path: Path) -> Path:
    """The config a scenario file tests when it names none: ``config/tests/x.yaml`` tests
    ``config/``; a file elsewhere tests ``./config``."""
    parent = path.resolve().parent
    if parent.name == "tests" and (parent.parent / "settings.yaml").exists():
        return parent.parent
    return Path("config")


def find_scenarios(paths: list[str]) -> list[Path]:
    """Scenario files under the given files or folders (``*.yaml``/``*.yml``, sorted); files
    written by ``--update`` (``*.actual.yaml``) are left out of folders."""
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for candidate in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
                if not candidate.name.endswith((".actual.yaml", ".actual.yml")):
                    found.append(candidate)
        elif path.exists():
            found.append(path)
        else:
            raise ScenarioError(f"{given}: no such file or folder")
    return found


def load_scenarios(path: Path, config_dir: Path | None = None) -> list[Scenario]:
    """Every scenario in a file (one YAML document each); raises ScenarioError."""
    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    return [_scenario(doc, path, i, config_dir) for i, doc in enumerate(docs)]


def _scenario(doc: Any, path: Path, index: int, config_dir: Path | None) -> Scenario:
    where = f"{path}" + (f" (document {index + 1})" if index else "")
    if not isinstance(doc, dict):
        raise ScenarioError(f"{where}: a scenario is a mapping with name, start, events, expect")
    name = str(doc.get("name") or f"{path.stem} #{index + 1}")
    try:
        start = _when(doc["start"], parse_time("2027-01-01T00:00:00Z"))
    except KeyError:
        raise ScenarioError(f"{where}: 'start' is missing (2027-02-10T09:00:00-05:00)") from None
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"{where}: start: {exc}") from None
    if doc.get("config"):
        config = (path.parent / str(doc["config"])).resolve()
    else:
        config = config_dir or default_config_dir(path)
    events: list[dict[str, Any]] = []
    customers = doc.get("customers") or {}
    if not isinstance(customers, dict):
        raise ScenarioError(f"{where}: customers: a mapping of customer id to traits")
    for cid, spec in customers.items():
        events.append(_customer_event(str(cid), spec or {}, start, where))
    for number, raw in enumerate(doc.get("events") or [], 1):
        events.append(_event(raw, start, f"{where}: events[{number}]", number))
    expectations = [
        _expectation(raw, start, f"{where}: expect[{number}]")
        for number, raw in enumerate(doc.get("expect") or [], 1)
    ]
    last = max((parse_time(e["time"]) for e in events), default=start)
    try:
        until = _when(doc["until"], start) if doc.get("until") else last + timedelta(days=2)
    except ValueError as exc:
        raise ScenarioError(f"{where}: until: {exc}") from None
    return Scenario(
        name=name,
        path=path,
        start=start,
        config_dir=Path(config),
        events=events,
        expectations=expectations,
        until=max(until, last),
        daily=bool(doc.get("daily", False)),
        raw=doc,
    )


def _envelope(
    kind: str, cid: str, at: datetime, detail: dict[str, Any], source: str, seq: int = 0
) -> dict[str, Any]:
    # a stable id per listed event (its place in the file too: the same event listed twice is
    # two events, not a duplicate delivery)
    seed = f"{seq}|{cid}|{kind}|{iso(at)}|{sorted(detail.items())!r}"
    ident = str(uuid.uuid5(uuid.NAMESPACE_URL, seed))
    detail = {"customer_id": cid, "event_id": detail.pop("event_id", f"s-{ident[:13]}"), **detail}
    return {
        "version": "0",
        "id": ident,
        "detail-type": kind,
        "source": source,
        "account": "123456789012",
        "time": iso(at),
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def _customer_event(cid: str, spec: Any, start: datetime, where: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: customers.{cid}: a mapping like {{email: a@x.example}}")
    traits = {k: v for k, v in spec.items() if k not in _CUSTOMER_KEYS}
    detail: dict[str, Any] = {"traits": traits}
    if "consent" in spec:
        detail["consent"] = spec["consent"]
    return _envelope("customer_updated", cid, start, detail, DEFAULT_SOURCE)


def _event(raw: Any, start: datetime, where: str, seq: int) -> dict[str, Any]:
    if not isinstance(raw, dict) or "type" not in raw or "customer" not in raw:
        raise ScenarioError(f"{where}: an event needs at least type and customer (and at)")
    try:
        at = _when(raw.get("at", "+0m"), start)
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"{where}: at: {exc}") from None
    detail: dict[str, Any] = {}
    for key in ("properties", "traits", "consent", "event_id"):
        if key in raw:
            detail[key] = raw[key]
    unknown = set(raw) - {"at", "type", "customer", "source", *detail}
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    source = str(raw.get("source") or DEFAULT_SOURCE)
    return _envelope(str(raw["type"]), str(raw["customer"]), at, detail, source, seq)


def _expectation(raw: Any, start: datetime, where: str) -> Expectation:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: an expectation is a mapping ({{customer: c-1, ...}})")
    unknown = set(raw) - _EXPECT_KEYS
    if unknown:
        known = ", ".join(sorted(_EXPECT_KEYS))
        raise ScenarioError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use {known}")
    try:
        at = _when(raw["at"], start) if "at" in raw else None
        tolerance = (
            parse_offset("+" + str(raw["tolerance"]).lstrip("+"))
            if "tolerance" in raw
            else DEFAULT_TOLERANCE
        )
    except (ValueError, TypeError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None
    count = raw.get("count")
    if count is not None and (not isinstance(count, int) or count < 0):
        raise ScenarioError(f"{where}: count is a whole number (0 or more)")
    contains = {
        part: str(raw[f"{part}_contains"])
        for part in ("subject", "text", "html")
        if f"{part}_contains" in raw
    }
    return Expectation(
        raw=raw,
        customer=_opt(raw.get("customer")),
        trigger=_opt(raw.get("trigger")),
        outcome=_opt(raw.get("outcome")),
        reason=_opt(raw.get("reason")),
        at=at,
        tolerance=tolerance,
        channel=_opt(raw.get("channel")),
        contains=contains,
        count=count,
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# Running and checking
# ---------------------------------------------------------------------------------------------
def run_scenario(scenario: Scenario, backend: str = DEFAULT_BACKEND) -> Result:
    """Play a scenario through the real handlers on the simulator and check its expectations."""
    import time

    from nudge.config import ConfigInvalid
    from nudge.sim.runner import Simulation

    began = time.perf_counter()
    try:
        sim = Simulation(
            scenario.config_dir, start=scenario.start, daily=scenario.daily, backend=backend
        )
    except ConfigInvalid as exc:
        error = f"the config {scenario.config_dir} has errors: " + "; ".join(map(str, exc.errors))
        return Result(scenario, [], [], [], error=error)
    with sim:
        sim.run(scenario.events, scenario.until)
        decisions = sim.decisions()
        messages = sim.messages()
    checks = check_expectations(scenario.expectations, decisions, messages)
    return Result(scenario, checks, decisions, messages, seconds=time.perf_counter() - began)


def _selected(e: Expectation, d: dict[str, Any], outcome: str | None) -> bool:
    if e.customer is not None and d.get("customer_id") != e.customer:
        return False
    if e.trigger is not None and d.get("trigger") != e.trigger:
        return False
    if outcome is not None and d.get("outcome") != outcome:
        return False
    if e.reason is not None and d.get("reason") != e.reason:
        return False
    if e.channel is not None and d.get("channel") != e.channel:
        return False
    if e.at is not None:
        at = parse_time(d["at"])
        if abs(at - e.at) > e.tolerance:
            return False
    return True


def _content_ok(e: Expectation, message: dict[str, Any] | None) -> bool:
    if not e.contains:
        return True
    if message is None:
        return False
    return all(text in str(message.get(part) or "") for part, text in e.contains.items())


def check_expectations(
    expectations: list[Expectation],
    decisions: list[dict[str, Any]],
    messages: list[dict[str, Any]],
) -> list[Check]:
    """Each expectation against the decisions (and, for content, the messages sent).

    An expectation selects the decisions matching every key it gives (customer, trigger,
    outcome, reason, channel, at ± tolerance) and, with ``*_contains``, whose message contains
    the text. With ``count`` exactly that many must be selected, else at least one.
    ``outcome: not_sent`` means no ``sent`` decision matches the other keys."""
    by_id = {m["message_id"]: m for m in messages}
    checks = []
    for e in expectations:
        if e.outcome == NOT_SENT:
            found = [d for d in decisions if _selected(e, d, "sent")]
            found = [d for d in found if _content_ok(e, by_id.get(d.get("message_id") or ""))]
            ok = not found
            why = "" if ok else f"{len(found)} sent: " + ", ".join(_short(d) for d in found)
            checks.append(Check(e, ok, why))
            continue
        found = [d for d in decisions if _selected(e, d, e.outcome)]
        found = [d for d in found if _content_ok(e, by_id.get(d.get("message_id") or ""))]
        if e.count is not None:
            ok = len(found) == e.count
            why = "" if ok else f"expected {e.count} such decision(s), found {len(found)}"
        else:
            ok = bool(found)
            why = "" if ok else "no decision matched"
        checks.append(Check(e, ok, why))
    return checks


def _short(d: dict[str, Any]) -> str:
    return (
        f"{d.get('trigger')} {d.get('outcome')} {d.get('channel') or ''} at {d.get('at')}".strip()
    )


# ---------------------------------------------------------------------------------------------
# Showing
# ---------------------------------------------------------------------------------------------
def timeline(
    scenario: Scenario, decisions: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """What happened per customer, one line per decision, times relative to the start."""
    by_id = {m["message_id"]: m for m in messages}
    out: dict[str, list[str]] = {}
    for d in decisions:
        at = format_offset(parse_time(d["at"]) - scenario.start)
        parts = [f"{at:<9}", str(d.get("trigger") or "-"), str(d.get("outcome"))]
        if d.get("reason"):
            parts.append(f"({d['reason']})")
        if d.get("channel"):
            parts.append(str(d["channel"]))
        message = by_id.get(d.get("message_id") or "")
        if d.get("outcome") == "sent" and message is not None:
            shown = message.get("subject") or message.get("text") or ""
            parts.append(f'"{_clip(str(shown))}"')
        out.setdefault(str(d.get("customer_id")), []).append("  ".join(parts))
    return out


def _clip(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def render_failure(result: Result) -> str:
    """Expected beside actual, per customer, for a scenario that failed."""
    s = result.scenario
    lines = [f"FAIL  {s.path}: {s.name}"]
    if result.error:
        return "\n".join([*lines, f"  error: {result.error}"])
    actual = timeline(s, result.decisions, result.messages)
    customers = list(dict.fromkeys([*(c.expectation.customer or "*" for c in result.checks)]))
    for cid in customers:
        lines.append(f"  customer {cid}:" if cid != "*" else "  any customer:")
        lines.append("    expected:")
        for c in result.checks:
            if (c.expectation.customer or "*") != cid:
                continue
            mark = "ok  " if c.ok else "FAIL"
            text = c.expectation.describe(s.start)
            lines.append(f"      {mark} {text}" + (f"   <- {c.why}" if c.why else ""))
        lines.append("    actual:")
        shown = (
            actual.get(cid, [])
            if cid != "*"
            else [f"{k}: {line}" for k, v in actual.items() for line in v]
        )
        lines += [f"      {line}" for line in shown] or ["      (no decisions)"]
    return "\n".join(lines)


def actual_scenario(result: Result) -> dict[str, Any]:
    """The scenario with ``expect`` replaced by what actually happened (``--update``): one
    expectation per decision, times relative to the start, sent messages with their subject."""
    s = result.scenario
    by_id = {m["message_id"]: m for m in result.messages}
    expect = []
    for d in result.decisions:
        row: dict[str, Any] = {"customer": d.get("customer_id")}
        if d.get("trigger"):
            row["trigger"] = d["trigger"]
        row["outcome"] = d.get("outcome")
        if d.get("reason"):
            row["reason"] = d["reason"]
        row["at"] = format_offset(parse_time(d["at"]) - s.start)
        if d.get("channel"):
            row["channel"] = d["channel"]
        message = by_id.get(d.get("message_id") or "")
        if d.get("outcome") == "sent" and message is not None and message.get("subject"):
            row["subject_contains"] = str(message["subject"])
        expect.append(row)
    doc = {k: v for k, v in s.raw.items() if k != "expect"}
    doc["expect"] = expect
    return doc


def write_actual(results: list[Result]) -> Path:
    """Write :func:`actual_scenario` of each scenario of one file beside it as
    ``<name>.actual.yaml`` (one YAML document each; never over the reviewed file); returns its
    path."""
    path = results[0].scenario.path
    out = path.with_name(f"{path.stem}.actual.yaml")
    docs = []
    for result in results:
        doc = actual_scenario(result)
        if isinstance(doc.get("start"), datetime):
            doc["start"] = doc["start"].isoformat()
        if isinstance(doc.get("until"), datetime):
            doc["until"] = doc["until"].isoformat()
        docs.append(doc)
    header = (
        f"# What `nudge test --update` saw for {path.name}; review it, then copy the expectations\n"
        "# you mean into the scenario file (`nudge test DIR` does not run *.actual.yaml files).\n"
    )
    body = yaml.safe_dump_all(
        docs, sort_keys=False, allow_unicode=True, width=100, default_flow_style=None
    )
    out.write_text(header + body, encoding="utf-8")
    return out


def junit_xml(results: list[Result]) -> str:
    """JUnit XML for CI: one testcase per scenario, a failure with the timeline diff."""
    from xml.etree import ElementTree as ET

    failures = sum(not r.ok for r in results)
    suite = ET.Element(
        "testsuite",
        name="nudge test",
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=str(r.scenario.path.with_suffix("")).replace("/", "."),
            name=r.scenario.name,
            time=f"{r.seconds:.3f}",
        )
        if not r.ok:
            failed = [c for c in r.checks if not c.ok]
            message = r.error or f"{len(failed)} expectation(s) failed"
            element = ET.SubElement(case, "failure", message=message)
            element.text = render_failure(r)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
