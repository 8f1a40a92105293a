"""`nudge preview`: templates rendered as dispatch renders them, with what a marketer checks
before sending (size, alt text, links, unsubscribe, SMS segments and opt-out words), and the HTML
it writes rendered by a real headless browser."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nudge.cli import main
from nudge.preview import render_preview, sms_segments
from tests.browser import Browser
from tests.conftest import CONFIG, EVENTS, sample


def _config_copy(tmp_path: Path) -> Path:
    root = tmp_path / "config"
    shutil.copytree(CONFIG, root, ignore=shutil.ignore_patterns("tests"))
    shutil.copytree(EVENTS, tmp_path / "events")  # the sample events beside it, as in the repo
    return root


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")


def test_preview_writes_html_that_a_headless_browser_renders(tmp_path, capsys):
    browser = Browser.find()
    if browser is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    out = tmp_path / "cart.html"

    code = main(["preview", "cart_jewelry_high_value", "--config", str(CONFIG), "--out", str(out)])

    report = capsys.readouterr().out
    assert code == 0
    # the sample cart (events/cart_updated.json) on a sample customer, as the email would show it
    item = sample("cart_updated")["detail"]["properties"]["items"][0]["name"]
    assert f"subject: Ava, your {item} is waiting" in report
    assert "unsubscribe link: yes" in report and "images without alt text: 0" in report
    got = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = got.stdout
    assert "<li>" + item + "</li>" in dom
    anchors = _Anchors()
    anchors.feed(dom)
    checkout = sample("cart_updated")["detail"]["properties"]["checkout_url"]
    assert anchors.hrefs[0] == checkout
    assert anchors.hrefs[1].startswith("https://rose.example/u?t=n2.")


def test_a_campaign_previews_the_variant_the_profile_would_get(tmp_path, capsys):
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"first_name": "Noor", "email": "noor@mail.example"}))

    main(["preview", "monthly_value_tiers", "--config", str(CONFIG), "--profile", str(profile)])

    out = capsys.readouterr().out
    # no order: not in the audience, so the first variant is shown and the report says so
    assert "not in the campaign's audience" in out
    assert "subject: Noor, thank you" in out


def test_missing_alt_text_and_missing_unsubscribe_link_are_warnings(tmp_path):
    root = _config_copy(tmp_path)
    path = root / "templates" / "cart_reminder.yaml"
    text = path.read_text()
    text = text.replace(
        "<p>You left something lovely in your cart:</p>",
        '<p>You left something lovely in your cart:</p><img src="https://cdn.example/cart.png">'
        '<img src="https://cdn.example/spacer.gif" alt="">',
    )
    text = text.replace(
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a> ({{ unsubscribe_url }})', ""
    )
    text = text.replace("Unsubscribe: {{ unsubscribe_url }}", "")
    path.write_text(text)

    got = render_preview(root, "cart_reminder")

    assert got.images_without_alt == ["https://cdn.example/cart.png"]  # alt="" is decorative
    assert not got.unsubscribe
    assert "no unsubscribe link in the HTML or the text" in got.warnings
    assert "image without alt text: https://cdn.example/cart.png" in got.warnings


def test_a_long_text_and_one_without_stop_to_a_us_number_are_warnings(tmp_path):
    root = _config_copy(tmp_path)
    path = root / "triggers" / "last_minute_delivery.yaml"
    original = path.read_text()
    long_text = (
        "Rose & Co: {{ first_name }}, order by Fri 2pm ET for guaranteed Valentine's delivery. "
        "Gift wrapping is free and every order ships with a handwritten card. "
        "Shop: https://rose.example/valentines"
    )
    start = original.index('  text: "')
    path.write_text(original[:start] + f'  text: "{long_text}"\n')

    us = render_preview(root, "last_minute_delivery")
    uk = render_preview(
        root, "last_minute_delivery", profile={"first_name": "Zed", "phone": "+447700900123"}
    )

    assert us.sms is not None and us.sms.encoding == "GSM-7" and us.sms.segments == 2
    assert any("2 SMS segments" in w for w in us.warnings)
    assert any("no opt-out text (STOP)" in w for w in us.warnings)
    assert not any("opt-out" in w for w in uk.warnings)  # no such rule for +44 here


def test_the_sample_text_fits_one_segment_and_carries_stop(capsys):
    assert main(["preview", "last_minute_delivery", "--config", str(CONFIG), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["channel"] == "sms" and got["sms"]["segments"] == 1
    assert got["warnings"] == []


@pytest.mark.parametrize(
    ("text", "encoding", "length", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),  # 153 per segment once concatenated
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension table: two septets each
        ("a" * 70 + "é", "GSM-7", 71, 1),  # é is in the basic set
        ("ç" + "a" * 69, "UCS-2", 70, 1),  # ç is not (only Ç is)
        ("ç" + "a" * 70, "UCS-2", 71, 2),  # 67 per segment
        ("🌹" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
    ],
)
def test_sms_segments(text, encoding, length, segments):
    got = sms_segments(text)
    assert (got.encoding, got.length, got.segments) == (encoding, length, segments)


def test_a_real_customer_from_the_table(sim, tmp_path, capsys):
    from nudge.sim.infra import ENV
    from tests.conftest import customer

    sim.run([customer("noor", "2027-02-10T14:00:00Z", first_name="Noor")], until=sim.clock.current)

    table = ["--table", ENV["NUDGE_TABLE"], "--out", str(tmp_path / "noor.html")]
    code = main(
        ["preview", "browse_repeat_view", "--config", str(CONFIG), "--customer", "noor", *table]
    )

    out = capsys.readouterr().out
    assert code == 0
    assert "Hi Noor," in out  # the stored profile's first name, not the sample's
