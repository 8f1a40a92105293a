"""The preference page behind the unsubscribe link, in a real headless Chromium, used with the
keyboard only (docs/delivery.md, "Preference page"): a customer tabs to a topic, leaves it with
Space, picks "at most once a week" with the arrow keys and saves with Enter. What they chose then
decides what they get: no more offers, new arrivals at most weekly.

The page is served by the real unsubscribe handler behind a loopback HTTP server that turns each
browser request into the Function URL payload Lambda would pass (tests/scenarios/
test_unsubscribe_link.py's requests)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import pytest

from nudge.core.clock import parse_time
from nudge.flows import unsubscribe
from nudge.sim import Simulation
from tests.browser import Browser
from tests.conftest import customer, event
from tests.scenarios.test_topics import _config
from tests.scenarios.test_unsubscribe_link import _request

pytestmark = pytest.mark.skipif(
    Browser.find() is None, reason="no Chromium: install Debian's chromium package to run this"
)


class _FunctionUrl(BaseHTTPRequestHandler):
    """Each request, as the Function URL would pass it to the unsubscribe handler."""

    lock = threading.Lock()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        link = f"http://{self.headers.get('host')}{self.path}"
        request = _request(self.command, link, body, self.headers.get("content-type"), b64=True)
        with self.lock:  # one invocation at a time, as one Lambda instance runs them
            response = unsubscribe.handle(request)
        payload = response["body"].encode()
        self.send_response(response["statusCode"])
        for name, value in response["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass


def _view(cid: str, at: str) -> dict:
    return event("product_viewed", cid, at, event_id=f"{cid}-view-{at}")


def test_a_customer_changes_preferences_with_the_keyboard_only(tmp_path):
    binary = Browser.find()
    assert binary is not None
    with Simulation(_config(tmp_path), start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [customer("eva", "2027-03-02T12:00:00Z"), _view("eva", "2027-03-02T13:00:00Z")],
            until=parse_time("2027-03-03T00:00:00Z"),
        )
        offer = next(m for m in sim.messages() if m["subject"] == "offers")
        link = urlparse(offer["headers"]["List-Unsubscribe"][1:-1])
        server = ThreadingHTTPServer(("127.0.0.1", 0), _FunctionUrl)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            with Browser(binary) as browser:
                browser.open(f"http://127.0.0.1:{server.server_port}{link.path}?{link.query}")
                # mobile-friendly and labelled: nothing wider than a phone, every control named
                assert browser.js("document.documentElement.scrollWidth") <= 375
                unlabelled = "[...document.querySelectorAll('input:not([type=hidden])')]"
                assert browser.js(f"{unlabelled}.every(i => i.labels.length === 1)")
                assert browser.js("document.getElementById('topic-offers').checked")

                browser.tab_to("document.activeElement.id === 'topic-offers'")
                # the focused control is visibly outlined
                outline = "getComputedStyle(document.activeElement).outlineStyle"
                assert browser.js(outline) == "solid"
                browser.press("Space")
                assert not browser.js("document.getElementById('topic-offers').checked")
                browser.tab_to("document.activeElement.name === 'frequency'")
                browser.press("ArrowDown")
                assert browser.js("document.getElementById('frequency-weekly').checked")
                browser.tab_to("document.activeElement.textContent === 'Save preferences'")
                browser.press("Enter")
                browser.wait_for("document.title === 'Preferences saved'")
                assert "at most once a week" in browser.js("document.body.innerText")
        finally:
            server.shutdown()

        profile = sim.profiles()["eva"]
        assert profile["topics"]["offers"] == {"email": False}
        assert profile["topics"]["new_arrivals"] == {"email": True}
        assert profile["preferences"] == {"email": "weekly"}
        assert profile["consent"]["email"] is True

        # two more views within the week: new arrivals once (the customer's weekly cap), no offers
        sim.run(
            [_view("eva", "2027-03-10T13:00:00Z"), _view("eva", "2027-03-11T13:00:00Z")],
            until=parse_time("2027-03-12T00:00:00Z"),
        )
        later = [m["subject"] for m in sim.messages() if m["at"] >= "2027-03-10"]
        capped = [
            d["detail"]["cap"]
            for d in sim.decisions()
            if d["customer_id"] == "eva" and d["reason"] == "frequency_cap"
        ]
    assert later == ["new_arrivals"]
    assert "email 1/7d (the customer's choice)" in capped


def test_the_page_reads_nothing_into_the_profile_and_escapes_topic_names(tmp_path):
    """Opening the page changes nothing; a topic description with markup is shown as text."""
    config = _config(tmp_path)
    settings = config / "settings.yaml"
    text = settings.read_text().replace('"Offers and discounts"', '"<b>Offers</b> & more"')
    settings.write_text(text)
    with Simulation(config, start=parse_time("2027-03-01T00:00:00Z")) as sim:
        sim.run(
            [customer("fay", "2027-03-02T12:00:00Z"), _view("fay", "2027-03-02T13:00:00Z")],
            until=parse_time("2027-03-03T00:00:00Z"),
        )
        before = sim.profiles()["fay"]
        offer = next(m for m in sim.messages() if m["subject"] == "offers")
        link = offer["headers"]["List-Unsubscribe"][1:-1]
        page = unsubscribe.handle(_request("GET", link))["body"]
        assert "&lt;b&gt;Offers&lt;/b&gt; &amp; more" in page and "<b>Offers" not in page
        assert sim.profiles()["fay"] == before
        forged = _request(
            "POST", link, "action=save&topic=not-a-topic", "application/x-www-form-urlencoded"
        )
        assert unsubscribe.handle(forged)["statusCode"] == 400
        assert sim.profiles()["fay"] == before
