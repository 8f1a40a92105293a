"""A journey split's tally and winner rule: counts from customers' journey states, and the winner
only once every variant has enough customers and the lift interval clears the bar (Newcombe's
hybrid interval, core/stats.py)."""

from __future__ import annotations

from nudge.core.splits import Arm, pick_winner, split_tally
from nudge.core.stats import newcombe

DAY = 86400.0


def _profile(variant: str, entered: float, ordered: float | None) -> dict:
    history = [{"type": "cart_updated", "ts": entered - 60}]
    if ordered is not None:
        history.append({"type": "order_placed", "ts": ordered})
    state = {"done": entered + DAY, "entered": entered, "how": "completed"}
    return {
        "journeys": {"cart_rescue": {**state, "splits": {"offer_test": variant}}},
        "history": history,
    }


def test_the_tally_counts_orders_within_the_window_after_entering() -> None:
    profiles = [
        _profile("ten", 1000.0, 1000.0 + 2 * DAY),  # converted
        _profile("ten", 1000.0, 1000.0 + 9 * DAY),  # too late for a 5-day window
        _profile("ten", 1000.0, 500.0),  # ordered before entering
        _profile("free_ship", 1000.0, None),
        {"journeys": {"other": {"entered": 1.0, "splits": {"offer_test": "ten"}}}},
        {"history": []},
    ]
    arms = split_tally(profiles, "cart_rescue", "offer_test", 5 * DAY)
    assert arms == {"ten": Arm(3, 1), "free_ship": Arm(1, 0)}


def test_no_winner_until_every_variant_has_enough_customers() -> None:
    arms = {"ten": Arm(600, 120), "free_ship": Arm(499, 10)}
    verdict = pick_winner(["ten", "free_ship"], arms, after=500, min_lift_ci=0)
    assert verdict.winner is None
    assert verdict.why["waiting_for"] == ["free_ship"]


def test_a_clear_winner_wins_and_a_close_race_does_not() -> None:
    clear = {"ten": Arm(1000, 150), "free_ship": Arm(1000, 100)}
    verdict = pick_winner(["ten", "free_ship"], clear, after=500, min_lift_ci=0)
    lift = newcombe(150, 1000, 100, 1000)
    assert lift.low > 0  # the textbook interval says ten beats free_ship
    assert verdict.winner == "ten"
    assert verdict.why["lift_over"]["free_ship"] == [
        round(lift.estimate, 4),
        round(lift.low, 4),
        round(lift.high, 4),
    ]
    close = {"ten": Arm(1000, 110), "free_ship": Arm(1000, 100)}
    assert newcombe(110, 1000, 100, 1000).low < 0
    assert pick_winner(["ten", "free_ship"], close, after=500, min_lift_ci=0).winner is None
    # a higher bar: the clear winner must beat the other by more than 6 points at the low end
    assert pick_winner(["ten", "free_ship"], clear, after=500, min_lift_ci=0.06).winner is None
