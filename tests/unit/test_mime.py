"""nudge.aws.mime writes the bytes the email library writes: every email a customer gets is the
same, byte for byte, as ``EmailMessage`` (policy SMTP) would have made it, only cheaper."""

from __future__ import annotations

import random
import string
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from nudge.aws.mime import fast_email, unfold_tokens
from nudge.aws.providers import MessageError, build_email

DATE = "Wed, 10 Feb 2027 09:30:00 +0000"
MSGID = "<179601551201.26189.769450727493512761@rose.example>"
UNSUBSCRIBE = (
    "https://rose.example/u?t=n2.tXzCHnFW.Yy0wMjUfZW1haWwfMTgwMjI2ODY2MA.aLdFScX4bPB8rXRgeYd"
)


def _library(fields: list[tuple[str, str]], text: str, html: str | None) -> bytes:
    """What build_email wrote before nudge.aws.mime: the email library's message (with a link
    too long for a line kept as it is, which the library would encode: ``unfold_tokens``)."""
    msg = EmailMessage(policy=SMTP)
    for name, value in fields:
        msg[name] = value
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    return unfold_tokens(msg.as_bytes(), fields)


def _fields(sender: str, to: str, subject: str, extra: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("From", sender),
        ("To", to),
        ("Subject", subject),
        ("Date", DATE),
        ("Message-ID", MSGID),
        *extra.items(),
    ]


def _same(fields: list[tuple[str, str]], text: str, html: str | None) -> bytes | None:
    random.seed(7)
    fast = fast_email(fields, text, html, [n for n, _ in fields[5:]])
    if fast is None:
        return None
    random.seed(7)
    assert fast == _library(fields, text, html)
    return fast


CART_TEXT = (
    "Hi Xena,\n\nYou left something lovely in your cart:\n- 1 x Pearl Drop Necklace\n\n"
    "Cart total: $240.00\n\nComplete your order in time for Valentine's Day: "
    f"https://rose.example/checkout/k-025\n\nUnsubscribe: {UNSUBSCRIBE}"
)
CART_HTML = (
    '<p>Hi Xena,</p>\n<ul>\n  <li>Pearl Drop Necklace</li>\n</ul>\n<p><a href="https://rose.'
    "example/checkout/k-025\">Complete your order</a> in time for Valentine's Day.</p>\n"
    f'<p style="font-size:12px;color:#777"><a href="{UNSUBSCRIBE}">Unsubscribe</a></p>'
)
HEADERS = {
    "List-Unsubscribe": f"<{UNSUBSCRIBE}>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    "X-Nudge-Message-Id": "03860764d974a075f0dc",
}


@pytest.mark.parametrize(
    ("sender", "subject", "text", "html"),
    [
        (
            "Rose & Co <hello@rose.example>",
            "Xena, your Pearl Drop Necklace is waiting",
            CART_TEXT,
            CART_HTML,
        ),
        ("hello@rose.example", "Short", "Hi.", None),
        ("Rose & Co <hello@rose.example>", "Grüße aus Köln", "Schöne Grüße\nvon Rose", None),
        (
            "Rosé & Co <hello@rose.example>",
            "Grüße",
            "Schöne Grüße, liebe Kundin, from all of us " * 5,
            "<p>Vielen Dank für Ihre Bestellung</p>" * 5,
        ),
        ("Rose, Co. <hello@rose.example>", "A subject " * 12, "x" * 200 + "\n" * 15 + "y ", None),
        ("Rose <hello@rose.example>", "=?utf-8?q?hi?= there", "--===============0000==\n", None),
        ("Rose <hello@rose.example>", "Tabs\tand  spaces ", "line \nnext\t\nlast", "<b>ok</b>\n"),
        ("Rose <hello@rose.example>", "", "", "<p></p>"),
        (
            "Rose <hello@rose.example>",
            "Café",
            "Café au lait for all " * 5 + "\r\nmore\rlines\n" * 12,
            "a\u2028b and more plain words here " * 4,
        ),
    ],
)
def test_the_bytes_are_the_email_librarys(sender, subject, text, html):
    got = _same(_fields(sender, "xena.025@mail.example", subject, HEADERS), text, html)
    assert got is not None
    mime = message_from_bytes(got, policy=policy.default)
    assert mime["To"] == "xena.025@mail.example"
    assert (mime.get_body(preferencelist=("html",)) is not None) == bool(html)


def test_random_messages_match_the_library_or_are_left_to_it():
    rng = random.Random(19)
    rare = "éüßçñ€—“”…Å\u00a0\u2028\x85中文テキスト"
    written = 0
    for _ in range(300):

        def words(n: int) -> str:
            return "".join(
                rng.choice(rare if rng.random() < 0.03 else string.printable)
                for _ in range(rng.randint(0, n))
            )

        subject = words(120).replace("\n", " ").replace("\r", " ").strip()
        subject = " ".join(subject.split())  # build_email's header_text makes one line
        text = words(400)
        html = rng.choice([None, words(400)])
        extra = {"X-Campaign": " ".join(words(30).split()), "List-Unsubscribe": f"<{UNSUBSCRIBE}>"}
        got = _same(
            _fields("Rose & Co <hello@rose.example>", "a@b.example", subject, extra), text, html
        )
        written += got is not None
    assert written > 200  # most are written directly; the rest (base64 bodies) by the library


def test_a_base64_body_is_left_to_the_library():
    assert (
        fast_email(_fields("a@b.example", "c@d.example", "Hi", {}), "中文" * 100, None, []) is None
    )


def test_a_second_subject_is_refused_as_the_library_refuses_it():
    with pytest.raises(MessageError, match="at most 1 Subject"):
        build_email("a@b.example", "c@d.example", "Hi", None, "text", {"Subject": "again"})


def test_build_email_is_a_whole_message_with_both_parts():
    raw = build_email(
        "Rose & Co <hello@rose.example>", "x@mail.example", "Hi", CART_HTML, CART_TEXT, HEADERS
    )
    mime = message_from_bytes(raw, policy=policy.default)
    assert mime["From"] == "Rose & Co <hello@rose.example>"
    assert mime["To"] == "x@mail.example"
    assert mime["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    # (the library's quoted-printable keeps CRLF line ends in a body of ten lines or fewer)
    plain = mime.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert plain == CART_TEXT + "\n"
    rich = mime.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    assert rich == CART_HTML + "\n"


def test_a_body_line_like_the_boundary_is_written_as_the_library_writes_it(monkeypatch):
    # (under SMTP's CRLF line ends the library's check never finds one: it keeps its draw)
    monkeypatch.setattr(random, "randrange", lambda _n: 42)
    taken = "--" + "=" * 15 + "42".zfill(19) + "=="
    text = f"before\n{taken}\n{taken}--\nafter"
    fields = _fields("a@b.example", "c@d.example", "Hi", {})
    fast = fast_email(fields, text, "<p>x</p>", [])
    assert fast is not None
    assert fast == _library(fields, text, "<p>x</p>")


@pytest.mark.parametrize("text", ["Hi\n", "中文テキスト" * 40])  # written directly; by the library
def test_the_unsubscribe_link_header_is_the_link_itself_not_an_encoded_word(text):
    """RFC 2369 / RFC 8058: mail providers read ``List-Unsubscribe: <https://...>``. A link longer
    than a line has no space to fold at, and the email library would write it as RFC 2047
    encoded words (``=?utf-8?q?=3Chttps...``), which no provider takes for a link: Gmail and
    Yahoo would show no unsubscribe button. It is written as it is, on one line (RFC 5322
    allows 998 characters)."""
    link = f"<{UNSUBSCRIBE}&campaign=spring_preview_2027>"
    assert len("List-Unsubscribe: " + link) > 78
    raw = build_email(
        "Rose & Co <hello@rose.example>",
        "a@b.example",
        "Spring",
        None,
        text,
        {"List-Unsubscribe": link, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f"\r\nList-Unsubscribe: {link}\r\n" in head
    assert "=?utf-8?" not in head.split("List-Unsubscribe: ", 1)[1].split("\r\n", 1)[0]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["List-Unsubscribe"]) == link
