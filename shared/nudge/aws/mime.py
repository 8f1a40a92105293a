"""The bytes of nudge's emails, written directly: the same bytes ``email.message.EmailMessage``
(policy ``SMTP``) writes for them, at a fraction of its cost.

The email library parses every header it is given into a tree and folds it back out, and runs
each body through its content manager and generator: about a millisecond per message, most of
the cost of a send in a simulated shop. Most of what nudge writes needs none of that: a header
value of plain printable ASCII that fits on its line comes out as it went in, and a body's
encoding (7bit, 8bit or quoted-printable) follows the library's own rules (``_encode_text`` in
``email.contentmanager``). So :func:`fast_email` writes those parts itself and hands every other
header to the library's own folding; it answers None (the caller builds the message with the
library) where it would have to guess: a base64 body, or one of the library's own header names
among the extra headers. tests/unit/test_mime.py checks the bytes against the library's.
"""

from __future__ import annotations

import random
import re
import sys
from email import quoprimime
from email.policy import SMTP

_LINESEP = b"\r\n"
_MAX_LINE = 78  # SMTP's max_line_length
_HARD_LINE = 998  # RFC 5322 2.1.1: the longest a line may be
# a header value printed as it is: printable ASCII words, single spaces between, no encoded word
_PLAIN = re.compile(r"^[\x21-\x7e]+(?: [\x21-\x7e]+)*$")
# header names the library parses itself (From, Subject, Content-Type, ...): written by it
_REGISTERED = frozenset(SMTP.header_factory.registry)  # type: ignore[attr-defined]
_BOUNDARY_DIGITS = len(repr(sys.maxsize - 1))


def one_token(name: str, value: str) -> bool:
    """A value of one printable ASCII token too long for a 78-character line (a link): the
    library, with no space to fold at, would write it as RFC 2047 encoded words, which mail
    providers do not read as a link (``List-Unsubscribe: =?utf-8?q?=3Chttps...``). Such a
    value is written as it is, on one line, up to RFC 5322's 998 characters."""
    return (
        _MAX_LINE < len(name) + 2 + len(value) <= _HARD_LINE
        and "=?" not in value
        and _PLAIN.match(value) is not None
        and " " not in value
    )


def fold_header(name: str, value: str) -> bytes:
    """One header line (or folded lines) as ``SMTP`` writes it; a one-token value too long for
    a line (``one_token``) as it is."""
    if len(name) + 2 + len(value) <= _MAX_LINE and "=?" not in value and _PLAIN.match(value):
        return f"{name}: {value}\r\n".encode("ascii")
    if one_token(name, value):
        return f"{name}: {value}\r\n".encode("ascii")
    header = SMTP.header_factory(name, value)
    return SMTP.fold_binary(name, header)


def unfold_tokens(data: bytes, headers: list[tuple[str, str]]) -> bytes:
    """The email library's message with each ``one_token`` header written as it is (the
    library encoded it): the header section's blocks for those names replaced by one line."""
    wanted = {name.lower(): value for name, value in headers if one_token(name, value)}
    if not wanted:
        return data
    head, sep, body = data.partition(b"\r\n\r\n")
    blocks: list[list[bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    out = []
    for block in blocks:
        name = block[0].split(b":", 1)[0].decode("ascii", "replace").strip().lower()
        if name in wanted:
            original = block[0].split(b":", 1)[0].decode("ascii")
            out.append(f"{original}: {wanted.pop(name)}".encode("ascii"))
        else:
            out.append(b"\r\n".join(block))
    return b"\r\n".join(out) + sep + body


def _body(text: str) -> tuple[str, bytes] | None:
    """(Content-Transfer-Encoding, encoded body with CRLF line ends) as the library picks them
    for a utf-8 text part under ``SMTP``, or None for base64 (left to the library)."""
    lines = text.encode("utf-8").splitlines()
    if max((len(x) for x in lines), default=0) <= _MAX_LINE:
        data = _LINESEP.join(lines) + _LINESEP
        return ("7bit" if data.isascii() else "8bit"), data
    sniff = _LINESEP.join(lines[:10]) + _LINESEP
    sniff_qp = quoprimime.body_encode(sniff.decode("latin-1"), _MAX_LINE)
    sniff_base64_length = 4 * ((len(sniff) + 2) // 3) + 1  # binascii.b2a_base64, newline included
    if len(sniff_qp) > sniff_base64_length:
        return None
    if len(lines) <= 10:
        encoded = sniff_qp
    else:
        normal = b"\n".join(lines) + b"\n"
        encoded = quoprimime.body_encode(normal.decode("latin-1"), _MAX_LINE)
    return "quoted-printable", _crlf(encoded)


def _crlf(text: str) -> bytes:
    """``text``'s lines ended by CRLF, as the generator writes a payload."""
    lines = re.split(r"\r\n|\r|\n", text)
    out = "\r\n".join(lines[:-1]) + "\r\n" if len(lines) > 1 else ""
    return (out + lines[-1]).encode("ascii")


def _part(subtype: str, cte: str, body: bytes, mime_version: bool) -> bytes:
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
    if mime_version:
        head += "MIME-Version: 1.0\r\n"
    return head.encode("ascii") + _LINESEP + body


def _boundary(text: bytes) -> str:
    """A boundary found nowhere in ``text``, drawn as the library's generator draws it."""
    token = random.randrange(sys.maxsize)
    boundary = "=" * 15 + f"{token:0{_BOUNDARY_DIGITS}d}" + "=="
    found, counter = boundary, 0
    while found.encode() in text and re.search(
        b"^--" + re.escape(found.encode()) + b"(--)?$", text, re.MULTILINE
    ):
        found = f"{boundary}.{counter}"
        counter += 1
    return found


def fast_email(
    headers: list[tuple[str, str]], text: str, html: str | None, extra: list[str]
) -> bytes | None:
    """The message's bytes: ``headers`` (name, one-line value) in order, then a text part and,
    with ``html``, an HTML alternative, as ``EmailMessage.set_content`` / ``add_alternative``
    and ``as_bytes`` write them. ``extra`` names the caller's own headers: one the library
    registers (a second Subject, say) is left to it, so it refuses or writes it as it does.
    None where the library must build it."""
    if any(name.lower() in _REGISTERED for name in extra):
        return None
    plain = _body(text)
    if plain is None:
        return None
    head = b"".join(fold_header(name, value) for name, value in headers)
    if not html:
        cte, body = plain
        return (
            head
            + f'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: {cte}\r\n'
            "MIME-Version: 1.0\r\n\r\n".encode("ascii")
            + body
        )
    rich = _body(html)
    if rich is None:
        return None
    parts = [_part("plain", *plain, mime_version=False), _part("html", *rich, mime_version=True)]
    boundary = _boundary(_LINESEP.join(parts))
    # too long for one line: the library puts the boundary on the next (a boundary has no
    # space, so it never folds elsewhere)
    top = f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode("ascii")
    dash = f"--{boundary}".encode("ascii")
    return (
        head
        + b"MIME-Version: 1.0\r\n"
        + top
        + _LINESEP
        + dash
        + _LINESEP
        + parts[0]
        + _LINESEP
        + dash
        + _LINESEP
        + parts[1]
        + _LINESEP
        + dash
        + b"--"
        + _LINESEP
    )
