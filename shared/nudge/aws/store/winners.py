"""Split winners: the variant each journey split sends every new entrant to, once its ``winner``
rule held (docs/config.md#journeys).

- ``SPLITS`` / ``WINNERS`` (``kind`` = ``split_winners``): ``doc``, a JSON map from
  ``<journey>/<split>`` to ``{variant, at, why}``. Written by the daily recompute when a rule
  first holds (a winner never changes); read by every handler at most every few minutes, and only
  when the config has a split with a ``winner`` rule. No TTL.
"""

from __future__ import annotations

import json
from typing import Any

from nudge.aws.clients import client
from nudge.aws.store._table import _s, table

_KEY = {"pk": _s("SPLITS"), "sk": _s("WINNERS")}


def split_winners() -> dict[str, dict[str, Any]]:
    """Every split winner recorded so far, by ``<journey>/<split>``."""
    item = client("dynamodb").get_item(TableName=table(), Key=_KEY).get("Item")
    return json.loads(item["doc"]["S"]) if item else {}


def save_split_winners(winners: dict[str, dict[str, Any]]) -> None:
    """Replace the recorded winners (the daily recompute, which alone writes them)."""
    item = {**_KEY, "kind": _s("split_winners"), "doc": _s(json.dumps(winners, sort_keys=True))}
    client("dynamodb").put_item(TableName=table(), Item=item)
