"""`nudge validate` names file:line:column, the key and a hint; `nudge simulate` refuses bad
config with exit 1 and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nudge.cli import main
from tests.conftest import CONFIG, EVENTS, make_config

CART = (CONFIG / "triggers" / "cart_jewelry_high_value.yaml").read_text()


def _nudge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nudge.cli", *args], capture_output=True, text=True, check=False
    )


def _line_col(text: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def test_the_sample_config_is_valid():
    result = _nudge("validate", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("broken", "needle", "message"),
    [
        (
            CART.replace("cooldown: 7d", "cooldwn: 7d"),
            "cooldwn",
            "unknown key 'cooldwn'; did you mean 'cooldown'?",
        ),
        (CART.replace("wait: 1h", "wait: 1 hour"), "1 hour", "'1 hour' is not a duration; use"),
        (
            CART.replace("priority: 80", "priority: 80\nwho: {segment: vipp}"),
            "vipp",
            "unknown segment 'vipp'",
        ),
        (
            CART.replace("properties.value: {gte: 150}", "properties.value: {gtee: 150}"),
            "gtee",
            "unknown operator 'gtee'",
        ),
    ],
    ids=["typo-in-key", "bad-duration", "unknown-segment", "unknown-operator"],
)
def test_a_broken_trigger_is_reported_with_file_line_column(tmp_path, broken, needle, message):
    config = make_config(tmp_path, **{"triggers/cart_jewelry_high_value.yaml": broken})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    line, col = _line_col(broken, needle)
    expected = f"triggers/cart_jewelry_high_value.yaml:{line}:"
    assert expected in result.stdout, result.stdout
    assert message in result.stdout
    reported = result.stdout.split(expected, 1)[1].split(":", 1)[0]
    assert abs(int(reported) - col) <= len(needle) + 2  # the column points at the problem


def test_a_template_with_an_unknown_variable_is_caught(tmp_path):
    tpl = (CONFIG / "templates" / "cart_reminder.yaml").read_text()
    broken = tpl.replace("{{ first_name | default('Hi') }}", "{{ frist_name }}", 1)
    config = make_config(tmp_path, **{"templates/cart_reminder.yaml": broken})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    line, _ = _line_col(broken, "frist_name")
    assert f"templates/cart_reminder.yaml:{line}:" in result.stdout
    assert "unknown variable 'frist_name'" in result.stdout


def test_every_problem_is_reported_in_one_run(tmp_path):
    broken = CART.replace("wait: 1h", "wait: soon").replace("cooldown: 7d", "cooldwn: 7d")
    config = make_config(tmp_path, **{"triggers/cart_jewelry_high_value.yaml": broken})
    result = _nudge("validate", str(config))
    assert result.stdout.count("cart_jewelry_high_value.yaml:") == 2


def test_invalid_yaml_is_located(tmp_path):
    config = make_config(tmp_path, **{"settings.yaml": "timezone: [unclosed\n"})
    result = _nudge("validate", str(config))
    assert result.returncode == 1
    assert "settings.yaml:2:" in result.stdout or "settings.yaml:1:" in result.stdout


def test_quiet_hours_written_without_quotes_get_a_hint(tmp_path):
    settings = (CONFIG / "settings.yaml").read_text().replace('"21:00"', "21:00")
    config = make_config(tmp_path, **{"settings.yaml": settings})
    result = _nudge("validate", str(config))
    assert result.returncode == 1 and 'write times in quotes, like "21:00"' in result.stdout


def test_simulate_refuses_a_bad_config_with_exit_1_and_no_output(tmp_path, capsys):
    config = make_config(
        tmp_path, **{"triggers/cart_jewelry_high_value.yaml": CART.replace("wait: 1h", "wait: x")}
    )
    out = tmp_path / "out.json"

    code = main(
        [
            "simulate",
            "--config",
            str(config),
            "--events",
            str(EVENTS / "sample_day.jsonl"),
            "--out",
            str(out),
        ]
    )

    assert code == 1
    assert not out.exists()
    assert "cart_jewelry_high_value.yaml:" in capsys.readouterr().err


def test_simulate_refuses_an_unreadable_events_file(tmp_path, capsys):
    events = tmp_path / "day.jsonl"
    events.write_text('{"ok": 1}\nnot json\n')
    out = tmp_path / "out.json"
    code = main(["simulate", "--config", str(CONFIG), "--events", str(events), "--out", str(out)])
    assert code == 1 and not out.exists()
    assert "day.jsonl:2" in capsys.readouterr().err


def test_schema_is_json_schema_for_every_file():
    result = _nudge("schema")
    schema = json.loads(result.stdout)
    trigger = schema["$defs"]["trigger"]
    assert "cooldown" in trigger["properties"]
    assert trigger["additionalProperties"] is False


def test_rfm_segment_names_are_configurable_and_checked(tmp_path):
    segments = (CONFIG / "segments.yaml").read_text()
    good = segments + "rfm:\n  - {name: Best, r: [4, 5], f: [4, 5], m: [4, 5]}\n  - {name: Rest}\n"
    assert (
        _nudge("validate", str(make_config(tmp_path / "a", **{"segments.yaml": good}))).returncode
        == 0
    )
    bad = segments + "rfm:\n  - {name: Best, r: [4, 6]}\n"
    result = _nudge("validate", str(make_config(tmp_path / "b", **{"segments.yaml": bad})))
    assert result.returncode == 1 and "segments.yaml:" in result.stdout


@pytest.mark.parametrize(
    "sender",
    ["Rose & Co <hello@rose.example>, evil@y.example", "hello@rose.example\\r\\nBcc: x@y.example"],
    ids=["a-list", "a-line-break"],
)
def test_a_sender_that_is_not_one_address_is_refused(tmp_path, sender):
    settings = (CONFIG / "settings.yaml").read_text()
    broken = settings.replace('email: "Rose & Co <hello@rose.example>"', f'email: "{sender}"')
    assert broken != settings
    config = make_config(tmp_path, **{"settings.yaml": broken})

    result = _nudge("validate", str(config))

    assert result.returncode == 1
    assert (
        "settings.yaml:7:" in result.stdout
        and "sender.email: not one email address" in result.stdout
    )
