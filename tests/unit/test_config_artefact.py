"""The compiled-config artefact (``nudge validate --compile``, docs/deploy.md): a function that
starts from it decides exactly as from the YAML, and a stale or broken artefact is never used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nudge.cli import main
from nudge.config import ConfigInvalid, load_config
from nudge.config.artefact import NAME, read_artefact, write_artefact
from tests.conftest import EVENTS, make_config

BROKEN = "name: cart_reminder\nsubject: 'Hi {{ first_name '\ntext: hello\n"


def _messages(config: Path) -> list[tuple[str, str, str, str]]:
    from nudge.core.clock import parse_time
    from nudge.sim import Simulation

    day = [json.loads(line) for line in (EVENTS / "sample_day.jsonl").read_text().splitlines()]
    with Simulation(config, start=parse_time(day[0]["time"])) as sim:
        sim.run(day, until=parse_time("2027-02-12T00:00:00Z"))
        return [(m["to"], m["trigger"], m["at"], m.get("subject", "")) for m in sim.messages()]


def test_a_day_from_the_artefact_sends_the_same_messages_at_the_same_times(tmp_path):
    plain = make_config(tmp_path / "plain")
    built = make_config(tmp_path / "built")
    write_artefact(built)

    stored = read_artefact(built)
    assert stored is not None
    assert set(stored.files) == {  # every config file; no nudge test scenario
        str(p.relative_to(built))
        for p in built.rglob("*.yaml")
        if p.relative_to(built).parts[0] != "tests"
    }

    from_yaml, from_artefact = load_config(plain), load_config(built)
    assert from_artefact.settings == from_yaml.settings
    assert sorted(from_artefact.triggers) == sorted(from_yaml.triggers)
    assert [t.model for t in from_artefact.triggers.values()] == [
        t.model for t in from_yaml.triggers.values()
    ]
    sent = _messages(plain)
    assert sent and _messages(built) == sent


def test_the_artefact_stands_in_for_the_yaml(tmp_path, monkeypatch):
    built = make_config(tmp_path)
    write_artefact(built)
    from nudge.config import load as loading

    def not_read(directory: Path) -> None:
        raise AssertionError(f"read and validated {directory}")

    monkeypatch.setattr(loading, "read_config", not_read)
    assert "cart_jewelry_high_value" in load_config(built).triggers


def test_an_edit_after_the_artefact_is_checked_in_full(tmp_path):
    built = make_config(tmp_path)
    write_artefact(built)
    (built / "templates" / "cart_reminder.yaml").write_text(BROKEN)

    assert read_artefact(built) is None  # the files no longer match it
    with pytest.raises(ConfigInvalid, match="cart_reminder"):
        load_config(built)


def test_a_damaged_artefact_is_ignored(tmp_path):
    built = make_config(tmp_path)
    (built / NAME).write_bytes(b"{not json")
    assert read_artefact(built) is None
    assert "cart_jewelry_high_value" in load_config(built).triggers


def test_validate_compile_writes_it_only_for_a_valid_config(tmp_path, capsys):
    good = make_config(tmp_path / "good")
    assert main(["validate", "--compile", str(good)]) == 0
    assert (good / NAME).is_file() and read_artefact(good) is not None

    bad = make_config(tmp_path / "bad", **{"templates/cart_reminder.yaml": BROKEN})
    assert main(["validate", "--compile", str(bad)]) == 1
    assert not (bad / NAME).exists()


def test_yaml_timestamps_come_back_as_timestamps(tmp_path):
    from tests.conftest import CONFIG

    cart = (CONFIG / "triggers" / "cart_jewelry_high_value.yaml").read_text()
    unquoted = cart.replace('"2027-02-01T00:00:00Z"', "2027-02-01T00:00:00Z")
    assert unquoted != cart
    built = make_config(tmp_path, **{"triggers/cart_jewelry_high_value.yaml": unquoted})
    write_artefact(built)
    stored = read_artefact(built)
    assert stored is not None
    from nudge.config.load import read_config

    (trigger, _src), *_ = (t for t in stored.triggers if t[0].id == "cart_jewelry_high_value")
    (validated, _src), *_ = (
        t for t in read_config(built).triggers if t[0].id == "cart_jewelry_high_value"
    )
    assert trigger.active.from_ == validated.active.from_
    assert type(trigger.active.from_).__name__ == "datetime"
