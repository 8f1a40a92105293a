"""Broadcasts (docs/config.md, "Broadcasts"): a campaign sent once at ``at``, in each customer's
own time zone with ``send_in_local_time``, paced by ``throttle``; a proof to ``test_to`` first
(``nudge broadcast test``) and ``nudge broadcast cancel`` while it runs — through the same
outbox, consent, caps and holdouts as every message."""

from __future__ import annotations

from nudge.cli import main
from nudge.core.clock import parse_time
from nudge.sim import Simulation
from tests.conftest import customer, make_config

BROADCAST = """id: spring_preview
description: The spring collection, announced once
at: 2027-03-16T10:00:00
send_in_local_time: {local}
throttle: {throttle}
test_to: [proofs@rose.example, "+15555550199"]
variants:
  - email:
      subject: "{{{{ first_name | default('Hello') }}}}, spring is here"
      text: "The spring collection is in. Unsubscribe: {{{{ unsubscribe_url }}}}"
    sms: {{text: "Rose & Co: the spring collection is in. Reply STOP to opt out"}}
    channel: email
"""
ZONES = {
    "nyc": "America/New_York",
    "tokyo": "Asia/Tokyo",
    "london": "Europe/London",
    "sydney": "Australia/Sydney",
}


def _config(tmp_path, local: bool = True, throttle: str = "1000/min"):
    text = BROADCAST.format(local=str(local).lower(), throttle=throttle)
    path = make_config(tmp_path, **{"campaigns/spring_preview.yaml": text})
    settings = path / "settings.yaml"  # no global control group: every customer is treated
    settings.write_text(settings.read_text().replace("percent: 5,", "percent: 0,"))
    return path


def _people(at: str = "2027-03-10T12:00:00Z") -> list[dict]:
    return [customer(cid, at, timezone=zone) for cid, zone in ZONES.items()]


def _sent(sim) -> dict[str, str]:
    return {
        m["customer_id"]: m["at"]
        for m in sim.messages()
        if m["customer_id"] and m["trigger"] == "spring_preview"
    }


def test_a_local_time_broadcast_reaches_each_customer_at_ten_their_time(tmp_path):
    with Simulation(_config(tmp_path), start=parse_time("2027-03-10T00:00:00Z")) as sim:
        sim.run(_people(), until=parse_time("2027-03-18T00:00:00Z"))
        sent = _sent(sim)
    # 10:00 local on 2027-03-16: New York is on daylight time since 03-14 (UTC-4), London not
    # yet (UTC+0), Sydney still on daylight time (UTC+11), Tokyo UTC+9
    assert sent == {
        "tokyo": "2027-03-16T01:00:00Z",
        "sydney": "2027-03-15T23:00:00Z",
        "london": "2027-03-16T10:00:00Z",
        "nyc": "2027-03-16T14:00:00Z",
    }


def test_without_local_time_everyone_gets_it_at_the_shops_ten_and_throttle_spaces_them(tmp_path):
    config = _config(tmp_path, local=False, throttle="2/min")
    with Simulation(config, start=parse_time("2027-03-10T00:00:00Z")) as sim:
        sim.run(_people(), until=parse_time("2027-03-18T00:00:00Z"))
        times = sorted(_sent(sim).values())
    # the shop's zone is America/New_York: 10:00 EDT = 14:00Z; two a minute
    assert times == [
        "2027-03-16T14:00:00Z",
        "2027-03-16T14:00:00Z",
        "2027-03-16T14:01:00Z",
        "2027-03-16T14:01:00Z",
    ]


def test_a_proof_goes_to_test_to_first_and_cancel_stops_what_is_still_waiting(tmp_path, capsys):
    with Simulation(_config(tmp_path), start=parse_time("2027-03-10T00:00:00Z")) as sim:
        sim.run(_people(), until=parse_time("2027-03-14T00:00:00Z"))
        assert main(["broadcast", "test", "spring_preview"]) == 0
        proofs = [
            (m["to"], m["channel"], m["subject"] or m["text"])
            for m in sim.messages()
            if (m["subject"] or m["text"] or "").startswith("[Proof]")
        ]
        assert proofs == [
            ("proofs@rose.example", "email", "[Proof] Test, spring is here"),
            (
                "+15555550199",
                "sms",
                "[Proof] Rose & Co: the spring collection is in. Reply STOP to opt out",
            ),
        ]
        assert _sent(sim) == {}  # a proof is no customer's message

        # the run started (Tokyo and Sydney have theirs); cancel before London's 10:00
        sim.run([], until=parse_time("2027-03-16T05:00:00Z"))
        assert sorted(_sent(sim)) == ["sydney", "tokyo"]
        assert main(["broadcast", "cancel", "spring_preview"]) == 0
        sim.run([], until=parse_time("2027-03-18T00:00:00Z"))
        stopped = {
            d["customer_id"]: (d["outcome"], d["reason"], "broadcast_cancelled" in d["detail"])
            for d in sim.decisions()
            if d["trigger"] == "spring_preview" and d["outcome"] == "suppressed"
        }
        assert sorted(_sent(sim)) == ["sydney", "tokyo"]
    assert stopped == {
        "london": ("suppressed", "inactive", True),
        "nyc": ("suppressed", "inactive", True),
    }
    assert main(["broadcast", "cancel", "not_a_broadcast"]) == 2
    assert "is not a broadcast" in capsys.readouterr().err
