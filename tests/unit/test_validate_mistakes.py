"""Mistakes that used to pass `nudge validate` and left a rule that silently never fired: each now
fails with file:line:column, the key and a hint, through the `nudge` entry point, on a copy of the
sample config with one mistake in it. docs/config.md's list of mistakes is checked against what
these cases print."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from nudge.cli import main
from nudge.core.clock import frozen
from tests.conftest import CONFIG, ROOT

DOCS = (ROOT / "docs" / "config.md").read_text()
# the sample's season: before the Valentine's triggers' windows close
BEFORE_SEASON = datetime(2027, 2, 1, tzinfo=UTC)


def _replace(rel: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(config: Path) -> None:
        path = config / rel
        text = path.read_text()
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1))

    return edit


def _write(rel: str, text: str) -> Callable[[Path], None]:
    def edit(config: Path) -> None:
        (config / rel).parent.mkdir(parents=True, exist_ok=True)
        (config / rel).write_text(text)

    return edit


def _remove(rel: str) -> Callable[[Path], None]:
    def edit(config: Path) -> None:
        path = config / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return edit


def _rename(rel: str, new: str) -> Callable[[Path], None]:
    def edit(config: Path) -> None:
        (config / rel).rename(config / new)

    return edit


ORDER_THANKS = """id: order_thanks
when: {event: order_placed}
email: {template: cart_reminder}
"""
VIP_WELCOME = """id: vip_welcome
when:
  event: segment_entered
  where: {properties.segment: vips}
email: {subject: "Welcome", text: "Hi {{ first_name | default('there') }} {{ unsubscribe_url }}"}
"""
VIP_GUESSED = VIP_WELCOME.replace("properties.segment: vips", "properties.name: vip")


def _translate(tag: str) -> Callable[[Path], None]:
    """Add a translation of the sample cart reminder under ``tag`` whose subject forgets the
    customer's name (the html and text are copied as they are)."""

    def edit(config: Path) -> None:
        path = config / "templates" / "cart_reminder.yaml"
        data = yaml.safe_load(path.read_text())
        subject = '"Votre {{ event.properties.items[0].name }} vous attend"'
        lines = [f"  {tag}:", f"    subject: {subject}"]
        lines += [f"    {key}: {json.dumps(data[key])}" for key in ("html", "text")]
        path.write_text(path.read_text() + "locales:\n" + "\n".join(lines) + "\n")

    return edit


SMS_NO_CONSENT = """id: sms_lapsed
when: {event: page_viewed}
who:
  where: {consent.sms: false}
channel: sms
sms: {text: "Come back! Reply STOP to opt out"}
"""


@dataclass
class Mistake:
    """One mistake: how to make it, where it must be reported (file, the line holding ``needle``,
    the key) and what the message must say."""

    id: str
    edits: list[Callable[[Path], None]]
    file: str
    needle: str | None  # None: the report is at 1:1 (a file or folder as a whole)
    key: str
    says: str


CART = "triggers/cart_jewelry_high_value.yaml"
MISTAKES = [
    Mistake(
        "number-in-quotes",
        [_replace(CART, "{gte: 150}", '{gte: "150"}')],
        CART,
        '"150"',
        "when.where.properties.value.gte",
        "gte: '150' is a string, but properties.value is a number; write the number without quotes",
    ),
    Mistake(
        "words-for-a-number",
        [_replace("segments.yaml", "{gte: 500}", '{gte: "five hundred"}')],
        "segments.yaml",
        "five hundred",
        "segments.vip.where.lifetime_value.gte",
        "'five hundred' is a string, but lifetime_value is a number; write a number",
    ),
    Mistake(
        "misspelt-profile-field",
        [_replace("segments.yaml", "lifetime_value:", "lifetme_value:")],
        "segments.yaml",
        "lifetme_value",
        "segments.vip.where.lifetme_value",
        "unknown field 'lifetme_value'; did you mean 'lifetime_value'?",
    ),
    Mistake(
        "misspelt-event",
        [_replace(CART, "event: cart_updated", "event: cart_update")],
        CART,
        "cart_update",
        "when.event",
        "unknown event 'cart_update'; did you mean 'cart_updated'?",
    ),
    Mistake(
        "misspelt-cancel-event",
        [_replace(CART, "{event: order_placed}", "{event: order_place}")],
        CART,
        "order_place}",
        "cancel_if.0.event",
        "unknown event 'order_place'; did you mean 'order_placed'?",
    ),
    Mistake(
        "unknown-segment-in-segment-entered",
        [_write("triggers/vip_welcome.yaml", VIP_WELCOME)],
        "triggers/vip_welcome.yaml",
        "vips",
        "when.where.properties.segment",
        "unknown segment 'vips'; did you mean 'vip'?",
    ),
    Mistake(
        "guessed-field-in-segment-entered",
        [_write("triggers/vip_welcome.yaml", VIP_GUESSED)],
        "triggers/vip_welcome.yaml",
        "properties.name",
        "when.where.properties.name",
        "unknown field 'properties.name'; known here: segment",
    ),
    Mistake(
        "undeclared-property",
        [_replace(CART, "properties.items.category", "properties.items.colour")],
        CART,
        "properties.items.colour",
        "when.where.properties.items.colour",
        "unknown field 'properties.items.colour'",
    ),
    Mistake(
        "any-in-on-a-scalar",
        [_replace(CART, "properties.value: {gte: 150}", "properties.currency: {any_in: [USD]}")],
        CART,
        "any_in",
        "when.where.properties.currency.any_in",
        "any_in tests a list, but properties.currency is a string; use in: [...]",
    ),
    Mistake(
        "contains-on-a-number",
        [_replace(CART, "properties.value: {gte: 150}", "properties.value: {contains: 15}")],
        CART,
        "contains",
        "when.where.properties.value.contains",
        "contains tests text or a list, but properties.value is a number",
    ),
    Mistake(
        "equals-on-a-list",
        [_replace("content.yaml", "{who: {segment: vip},", "{who: {where: {segments: vip}},")],
        "content.yaml",
        "segments: vip",
        "blocks.home_hero.0.who.where.segments",
        "segments is a list of strings; test a member with contains: vip",
    ),
    Mistake(
        "cart-in-an-order-template",
        [_write("triggers/order_thanks.yaml", ORDER_THANKS)],
        "templates/cart_reminder.yaml",
        "cart.checkout_url",
        "html",
        "order_placed empties the cart before this message is made "
        "(used by triggers/order_thanks.yaml (when.event: order_placed))",
    ),
    Mistake(
        "template-field-the-event-lacks",
        [
            _replace(
                "templates/cart_reminder.yaml", "{{ item.name }}{% if", "{{ item.colour }}{% if"
            )
        ],
        "templates/cart_reminder.yaml",
        "item.colour",
        "html",
        "event.properties.items[].colour: a cart_updated event has no 'colour' "
        "(used by triggers/cart_jewelry_high_value.yaml (when.event: cart_updated))",
    ),
    Mistake(
        "event-in-a-campaign-template",
        [
            _replace(
                "campaigns/monthly_value_tiers.yaml",
                "template: tier_default",
                "template: cart_reminder",
            )
        ],
        "templates/cart_reminder.yaml",
        "event.properties.items[0].name",
        "subject",
        "event: a campaign message has no event (used by campaigns/monthly_value_tiers.yaml",
    ),
    Mistake(
        "translation-missing-a-variable",
        [_translate("fr")],
        "templates/cart_reminder.yaml",
        '"Votre',
        "locales.fr.subject",
        "locale 'fr' subject does not use the same variables as the template (missing first_name",
    ),
    Mistake(
        "language-name-for-a-locale-tag",
        [_translate("french")],
        "templates/cart_reminder.yaml",
        "french:",
        "locales.french",
        "'french' is not a locale tag; write it like fr, de or fr-CA",
    ),
    Mistake(
        "missing-settings",
        [_remove("settings.yaml")],
        "settings.yaml",
        None,
        "",
        "settings.yaml is missing: without it no message has a sender",
    ),
    Mistake(
        "no-email-sender",
        [_replace("settings.yaml", '  email: "Rose & Co <hello@rose.example>"\n', "")],
        "settings.yaml",
        "sender:",
        "sender.email",
        "no sender for email, which campaigns/monthly_value_tiers.yaml sends on",
    ),
    Mistake(
        "a-text-file",
        [_write("triggers/notes.txt", "remember to add a birthday trigger\n")],
        "triggers/notes.txt",
        None,
        "",
        "unknown file 'triggers/notes.txt': nudge reads only *.yaml files in triggers/",
    ),
    Mistake(
        "misspelt-folder",
        [_rename("triggers", "trigger")],
        "trigger/",
        None,
        "",
        "unknown folder 'trigger/' (nudge would ignore it); did you mean 'triggers/'?",
    ),
    Mistake(
        "sms-without-possible-consent",
        [_write("triggers/sms_lapsed.yaml", SMS_NO_CONSENT)],
        "triggers/sms_lapsed.yaml",
        "consent.sms",
        "who.where.consent.sms",
        "channel sms needs the customer's sms consent, but who requires consent.sms to be false",
    ),
]


def _validate(config: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    with frozen(BEFORE_SEASON):
        code = main(["validate", *flags, str(config)])
    out = capsys.readouterr()
    return code, out.out + out.err


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    return target


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id for m in MISTAKES])
def test_each_mistake_fails_validate_with_place_key_and_hint(tmp_path, capsys, mistake):
    config = _copy(tmp_path)
    for edit in mistake.edits:
        edit(config)

    code, output = _validate(config, capsys)

    assert code == 1, output
    if mistake.needle is None:
        line, column = 1, 1
    else:
        text = (config / mistake.file).read_text()
        line = next(n for n, row in enumerate(text.splitlines(), 1) if mistake.needle in row)
        column = text.splitlines()[line - 1].index(mistake.needle) + 1
    found = re.search(
        rf"^{re.escape(mistake.file)}:{line}:(\d+): {re.escape(mistake.key)}"
        rf"{': ' if mistake.key else ''}.*{re.escape(mistake.says)}",
        output,
        re.MULTILINE,
    )
    assert found, output
    assert abs(int(found.group(1)) - column) <= len(mistake.needle or "") + 2, output


def test_an_empty_config_directory_fails(tmp_path, capsys):
    empty = tmp_path / "config"
    empty.mkdir()
    code, output = _validate(empty, capsys)
    assert code == 1
    assert "settings.yaml:1:1: settings.yaml is missing" in output
    assert "no triggers/*.yaml and no campaigns/*.yaml: nothing would ever be sent" in output


def test_a_window_in_the_past_is_a_warning_and_strict_makes_it_fail(tmp_path, capsys):
    config = _copy(tmp_path)
    after = datetime(2027, 3, 1, tzinfo=UTC)
    with frozen(after):
        code = main(["validate", str(config)])
        lenient = capsys.readouterr()
        strict_code = main(["validate", "--strict", str(config)])
        strict = capsys.readouterr()

    assert code == 0, lenient.out
    rel = "triggers/cart_jewelry_high_value.yaml"
    line = next(
        n for n, row in enumerate((config / rel).read_text().splitlines(), 1) if "until" in row
    )
    expected = f"{rel}:{line}:"
    assert expected in lenient.out and ": warning: active.until: " in lenient.out
    assert "is in the past" in lenient.out and "(2 warning(s))" in lenient.out
    assert strict_code == 1
    assert "--strict: warnings count as errors" in strict.err


def test_the_sample_config_has_no_error_and_no_warning(capsys):
    code, output = _validate(CONFIG, capsys, "--strict")
    assert code == 0, output
    assert output.strip() == f"{CONFIG}: ok"


def test_undeclared_events_are_still_accepted_at_runtime():
    """Only config references are checked: an event of any name is parsed and kept."""
    from nudge.core.events import parse_event
    from tests.conftest import event

    parsed = parse_event(
        event("poem_written", "c-1", "2027-02-10T12:00:00Z", base="wishlist_added")
    )
    assert parsed.type == "poem_written" and parsed.properties["wishlist_id"] == "w-1001"


def test_declared_custom_events_and_properties_can_be_used(tmp_path, capsys):
    config = _copy(tmp_path)
    settings = (config / "settings.yaml").read_text()
    (config / "settings.yaml").write_text(
        settings + "  wishlist_shared:\n    properties: {list_id: string, size: number}\n"
    )
    (config / "triggers/shared.yaml").write_text(
        "id: shared\nwhen:\n  event: wishlist_shared\n  where: {properties.size: {gte: 3}}\n"
        'email: {subject: "{{ event.properties.list_id }}", text: "{{ unsubscribe_url }}"}\n'
    )
    code, output = _validate(config, capsys)
    assert code == 0, output

    (config / "triggers/shared.yaml").write_text(
        (config / "triggers/shared.yaml").read_text().replace("{gte: 3}", '{gte: "3"}')
    )
    code, output = _validate(config, capsys)
    assert code == 1 and "gte: '3' is a string, but properties.size is a number" in output


def test_default_makes_a_template_read_optional(tmp_path, capsys):
    config = _copy(tmp_path)
    (config / "triggers/order_thanks.yaml").write_text(ORDER_THANKS)
    template = config / "templates/cart_reminder.yaml"
    template.write_text(
        template.read_text().replace(
            "{{ cart.checkout_url }}", "{{ cart.checkout_url | default('') }}"
        )
    )
    code, output = _validate(config, capsys)
    assert code == 0, output  # the order's own items and value are there; the cart read is optional


def test_docs_list_every_mistake_with_what_validate_says(tmp_path, capsys):
    """Each message docs/config.md quotes in its list of mistakes is what a case here prints."""
    section = DOCS.split("### Mistakes `nudge validate` catches", 1)[1].split("\n### ", 1)[0]
    rows = section.split("| --- | --- |", 1)[1]
    quoted = re.findall(r"^\| [^|]+ \| `([^`]+)`", rows, re.MULTILINE)
    assert len(quoted) == len(MISTAKES) + 2  # and the empty config, and a window in the past
    outputs = []
    for mistake in MISTAKES:
        config = _copy(tmp_path / mistake.id)
        for edit in mistake.edits:
            edit(config)
        outputs.append(_validate(config, capsys)[1])
    (tmp_path / "empty").mkdir()
    outputs.append(_validate(tmp_path / "empty", capsys)[1])
    with frozen(datetime(2027, 3, 1, tzinfo=UTC)):
        main(["validate", str(CONFIG)])
    outputs.append(capsys.readouterr().out)
    printed = "\n".join(outputs)
    for message in quoted:
        assert message in printed, message


def test_loading_a_deployed_config_ignores_the_code_layers_beside_it(tmp_path, capsys):
    """In Lambda the config sits in /opt beside /opt/python (the code layers): the layout is a
    `nudge validate` check, never a reason for a handler to refuse its config."""
    from nudge.config import load_config

    config = _copy(tmp_path)
    (config / "python" / "nudge").mkdir(parents=True)

    assert load_config(config).triggers  # loads
    code, output = _validate(config, capsys)
    assert code == 1 and "unknown folder 'python/'" in output


def test_a_translation_must_be_complete_and_its_tag_unique(tmp_path, capsys):
    """A translation without the template's text, and two spellings of one tag, each fail at the
    translation."""
    config = _copy(tmp_path)
    path = config / "templates" / "tier_default.yaml"
    data = yaml.safe_load(path.read_text())
    parts = {key: data[key] for key in ("subject", "html", "text") if data.get(key)}
    assert "subject" in parts and "text" in parts
    half = {"subject": parts["subject"]}
    path.write_text(
        path.read_text()
        + "locales:\n"
        + f"  fr: {json.dumps(half)}\n"
        + f"  FR: {json.dumps(parts)}\n"
    )
    code, output = _validate(config, capsys)
    assert code == 1
    assert "locales.fr: locale 'fr' has no text; the template has one (add it)" in output
    assert "locales.FR: locale 'FR' is the same as 'fr'" in output


def test_an_offer_in_a_transactional_message_is_a_warning(tmp_path, capsys):
    """A transactional trigger (no caps, no quiet hours, no consent needed) whose text reads
    like marketing is flagged where the offer is written; --strict makes it fail."""
    receipt = (
        "id: order_receipt\nwhen: {event: order_placed}\nlane: transactional\n"
        "email:\n  subject: 'Your order is confirmed'\n"
        "  text: 'Thanks! Take 15% off your next order: https://rose.example/collections/new'\n"
    )
    config = _copy(tmp_path)
    (config / "triggers" / "order_receipt.yaml").write_text(receipt)
    code, output = _validate(config, capsys)
    assert code == 0, output
    assert (
        "triggers/order_receipt.yaml:6:9: warning: email.text: order_receipt is transactional, "
        "but its text says '15% off'"
    ) in output
    code, output = _validate(config, capsys, "--strict")
    assert code == 1


def test_a_topic_must_be_declared_and_never_on_a_transactional_trigger(tmp_path, capsys):
    """A misspelt topic gets a did-you-mean; a transactional trigger cannot have a topic."""
    config = _copy(tmp_path)
    settings = config / "settings.yaml"
    settings.write_text(settings.read_text() + "topics:\n  offers: {}\n  new_arrivals: {}\n")
    cart = config / CART
    cart.write_text(cart.read_text() + "topic: ofers\n")
    receipt = "id: receipt\nwhen: {event: order_placed}\nlane: transactional\ntopic: offers\n"
    receipt += "email: {subject: 'Order confirmed', text: 'Thank you'}\n"
    (config / "triggers" / "receipt.yaml").write_text(receipt)
    code, output = _validate(config, capsys)
    assert code == 1
    assert "topic: unknown topic 'ofers'; did you mean 'offers'?" in output
    assert "triggers/receipt.yaml:4:8: topic: a transactional message has no topic" in output


def test_a_broadcast_needs_one_time_and_a_past_one_is_a_warning(tmp_path, capsys):
    """at: and schedule: together fail; a broadcast whose time has passed warns (never sent)."""
    config = _copy(tmp_path)
    both = "id: spring\nschedule: 'cron(0 9 1 * ? *)'\nat: 2027-03-16T10:00:00\n"
    both += "variants:\n  - {email: {subject: 'Spring', text: '{{ unsubscribe_url }}'}}\n"
    (config / "campaigns" / "spring.yaml").write_text(both)
    code, output = _validate(config, capsys)
    assert code == 1 and "needs schedule: (recurring, a cron) or at: (a broadcast, once)" in output

    (config / "campaigns" / "spring.yaml").write_text(
        both.replace("schedule: 'cron(0 9 1 * ? *)'\n", "").replace("2027-03-16", "2027-01-16")
    )
    code, output = _validate(config, capsys)
    assert code == 0, output
    assert "warning: at: at: 2027-01-16T10:00:00 has passed" in output


def test_a_real_key_in_the_wrong_place_is_not_told_to_be_itself(tmp_path, capsys):
    """A key nudge knows, indented under the wrong parent, is not answered "did you mean
    'properties'?" for 'properties': the message says it belongs elsewhere."""
    config = _copy(tmp_path)
    settings = config / "settings.yaml"
    settings.write_text(
        settings.read_text()
        .replace(
            "  reminders: {description:",
            "  reminders:\n    properties: {a: string}\n    description:",
        )
        .replace('"Reminders about your cart and delivery dates"}', '"Reminders about your cart"')
    )
    code, output = _validate(config, capsys)
    assert code == 1
    assert "unknown key 'properties' here: it belongs elsewhere (check the indentation)" in output
    assert "did you mean 'properties'" not in output


@pytest.mark.parametrize(
    ("at", "warned"),
    [("2027-02-10T05:00:00Z", False), ("2027-03-01T00:00:00Z", True), ("2031-02-29", None)],
)
def test_validate_at_judges_windows_as_of_that_time_whatever_today_is(at, warned, capsys):
    """`make lint` validates the sample (a Valentine's 2027 season) as of its day, so CI does not
    turn red once the season is over; any other time judges the windows as of then."""
    if warned is None:  # 2031 has no Feb 29th: a usage error naming the option, no traceback
        with pytest.raises(SystemExit) as exit_:
            main(["validate", "--strict", "--at", at, str(CONFIG)])
        assert exit_.value.code == 2
        assert "--at: not an ISO 8601 time: '2031-02-29'" in capsys.readouterr().err
        return
    code = main(["validate", "--strict", "--at", at, str(CONFIG)])
    out = capsys.readouterr()
    assert code == (1 if warned else 0), out.out + out.err
    assert ("active.until 2027-02-15T00:00:00Z is in the past" in out.out) is warned


def test_make_lint_and_demo_validate_the_sample_as_of_its_first_event():
    makefile = (ROOT / "Makefile").read_text()
    at = re.search(r"^AT \?= (\S+)", makefile, re.M)
    first = json.loads((ROOT / "events" / "sample_day.jsonl").read_text().splitlines()[0])
    assert at and at.group(1) == first["time"]
    assert "nudge validate --strict --at $(AT) config" in makefile
