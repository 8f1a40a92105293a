"""When the profile item's floor (what it must hold besides history) leaves room for fewer
history rows than a segment's usual minimum, rows still move out before the item crosses its
KB boundary: a browsing event costs the profile's one write unit, not two, for a customer with
a long history and a full send ledger (docs/storage.md, "History segments")."""

from __future__ import annotations

import hashlib
import math
from typing import Any

from nudge.core.profile import (
    SEGMENT_MIN,
    encode_profile,
    merge_segments,
    pack_text,
    split_segments,
)

KB = 1024


def _size(doc: dict[str, Any]) -> int:
    return len(pack_text(encode_profile(doc))) + 60  # keys, kind, version


def _row(n: int) -> dict[str, Any]:
    return {
        "type": "product_viewed",
        "ts": 1_802_200_000 + 120 * n,
        "id": hashlib.sha256(f"evt-{n}".encode()).hexdigest()[:12],
        "properties": {"product_id": f"p-{n * 37 % 1000}"},
    }


def _customer(floor_bytes: int) -> dict[str, Any]:
    # what the item must hold anyway, and does not deflate (a long send ledger's message ids)
    blob = hashlib.sha256(b"seed").hexdigest()
    while len(blob) < 4 * floor_bytes:
        blob += hashlib.sha256(blob[-64:].encode()).hexdigest()
    doc: dict[str, Any] = {"customer_id": "c-1", "history": [], "seen": {}, "blob": ""}
    while _size({**doc, "blob": blob[: len(doc["blob"]) + 8]}) <= floor_bytes:
        doc["blob"] = blob[: len(doc["blob"]) + 8]
    return doc


def _browse(doc: dict[str, Any], events: int) -> tuple[list[int], int]:
    """Write units of each profile write, and segments put, over ``events`` browsing events."""
    contents: dict[tuple[int, str], bytes] = {}
    units: list[int] = []
    segments = 0
    stored = _size(doc)
    for n in range(events):
        doc["history"].append(_row(n))
        flush = split_segments(doc, _size)
        if flush.segment is not None:
            seq, token, packed, _newest = flush.segment
            contents[(seq, token)] = packed
            segments += 1
        for gone in flush.dropped:
            contents.pop(gone, None)
        written = _size(flush.hot)
        units.append(math.ceil(max(stored, written) / KB))
        stored = written
        doc = dict(flush.hot)
        merge_segments(doc, contents)
    return units, segments


def test_rows_move_out_before_the_item_crosses_its_kb_even_with_little_room():
    doc = _customer(880)  # room below the KB for fewer rows than SEGMENT_MIN
    room = KB - _size(doc)
    row = _size({**doc, "history": [_row(0)]}) - _size(doc)
    assert room < SEGMENT_MIN * row + 64
    units, segments = _browse(doc, 80)
    assert units == [1] * 80  # no browsing event pays for a second KB
    assert segments <= 80 // 4  # and a segment is not put on every event


def test_with_room_enough_a_segment_still_takes_at_least_the_minimum():
    doc = _customer(500)
    units, segments = _browse(doc, 80)
    assert units == [1] * 80
    assert segments <= 80 // SEGMENT_MIN
