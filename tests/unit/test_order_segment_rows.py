"""Order rows in segments, at the level of the split and the merge (core/profile): a refunded
order's row is a new row, its old copy is let go in its segment, and reading back gives each
order once, as it is now."""

from __future__ import annotations

from typing import Any

from nudge.core.profile import (
    ORDERS_HOT,
    SEGS,
    encode_profile,
    merge_segments,
    pack_text,
    split_segments,
)


def _size(doc: dict[str, Any]) -> int:
    return len(pack_text(encode_profile(doc))) + 40


def _doc(orders: int) -> dict[str, Any]:
    return {
        "customer_id": "c-1",
        "orders": [
            {
                "order_id": f"o-{n:03d}",
                "value": 40.0 + n,
                "at": f"2027-01-{1 + n % 28:02d}T10:{n:02d}:00Z",
            }
            for n in range(orders)
        ],
        "history": [],
        "seen": {},
        # what the item must hold anyway: a floor of several hundred bytes that do not deflate
        "blob": "".join(f"{n * 7919 % 10007:05d}" for n in range(160)),
    }


def _stored(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple[int, str], bytes]]:
    """Write ``doc`` as a profile write would, and read it back (merged)."""
    doc["orders"].sort(key=lambda o: o["at"])
    flush = split_segments(doc, _size)
    assert flush.segment is not None
    seq, token, packed, newest = flush.segment
    assert newest is None  # it holds order rows: no end of its own
    return flush.hot, {(seq, token): packed}


def test_the_older_orders_move_out_and_read_back_whole():
    doc = _doc(60)
    hot, contents = _stored(doc)
    assert _size(hot) <= 1024 - 64
    assert hot["orders"][-ORDERS_HOT:] == doc["orders"][-ORDERS_HOT:]  # the newest stay
    assert len(hot["orders"]) < 60
    back = dict(hot)
    merge_segments(back, contents)
    assert back["orders"] == sorted(doc["orders"], key=lambda o: o["at"])


def test_a_refunded_order_in_a_segment_is_a_new_row_and_its_old_copy_is_let_go():
    doc = _doc(60)
    hot, contents = _stored(doc)
    back = dict(hot)
    merge_segments(back, contents)
    gone = [o["order_id"] for o in back["orders"] if o not in hot["orders"]]
    refunded = next(o for o in back["orders"] if o["order_id"] == gone[0])
    refunded.update(refunded=10.0, refunds=["k1"])  # as core.profile._refund changes it

    again = split_segments(back, _size)
    [(_seq, _token, dead, *_)] = again.hot[SEGS]["l"]
    assert dead != 0  # the old copy: let go in its segment
    assert refunded in again.hot["orders"]  # the new row: in the profile item
    read = dict(again.hot)
    merge_segments(read, contents)
    rows = [o for o in read["orders"] if o["order_id"] == gone[0]]
    assert rows == [refunded]
    assert len(read["orders"]) == 60
