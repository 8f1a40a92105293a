"""Daily recompute: predictive scores, RFM, and the segment and tier changes time alone causes.

EventBridge Scheduler invokes the score function once a day (03:00 in the shop's time zone) with
``{"kind": "daily"}``; ``{"kind": "daily", "date": "2027-03-01"}`` resumes or repeats that day's
run (add ``"force": true`` to run a finished one again). One run per local date:

1. **gather**: a parallel scan (``NUDGE_SCORE_SEGMENTS`` segments, run by
   ``NUDGE_SCORE_THREADS`` threads) summarises every profile's live orders (refunded-in-full
   orders are void and do not count) into seven numbers, kept in memory (and written as packed
   chunk items when an invocation has to stop part-way); the same pass counts re-order
   intervals (``nudge.scoring.replenish``) and products bought together
   (``nudge.scoring.together``), each when the config asks for it;
2. **fit**: BG/NBD + Gamma-Gamma and the RFM quintile cut points on the whole base
   (``nudge.scoring.recompute``, the only step that loads numpy/scipy); the typical re-order
   intervals; each product's bought-together list, written as one catalog item per product;
3. **score**: the same parallel scan again; per page the scores are computed in one vectorised
   call, and each customer whose scores moved or whose segments or value tier changed with time
   goes through ``update_customer`` -> ``react()``: one conditional write, with the triggers that
   listen to ``segment_entered`` / ``segment_exited`` / ``value_tier_changed`` decided in the same
   pass and the change events put on the bus after the write. Customers with nothing new cost no
   read and no write beyond the scan.

A checkpoint item (``RUN#score#<date>``) holds the phase, the fitted model and each segment's
scan cursor. When the invocation's time runs low the run saves it and returns
``{"resume": true}``; the handler then invokes the function again, asynchronously, with the run's
date, and the next invocation continues where this one stopped (docs/scoring.md, "The daily
recompute"). Work is idempotent: a page read again finds its customers unchanged, synthetic
event ids are stable per (run date, customer, change), and ``react()`` skips a change already in
the profile's ``seen`` list, so a page processed twice emits nothing twice.

The per-profile row maths (summary rows, packing, which scores are worth a write) is pure and
lives in ``nudge.scoring.daily``. This module is the run itself, kept whole on purpose (~570
lines): its phases share one checkpoint state, one lease and one budget, and reading the state
machine in one place is what makes resume-after-timeout reviewable.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
import uuid
import zlib
from array import array
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from nudge.aws import store, warm
from nudge.aws.errors import is_denied
from nudge.aws.invoke import invoke_async
from nudge.core.catalog import in_stock
from nudge.core.clock import iso, parse_time
from nudge.core.clock import now as clock_now
from nudge.core.decisions import Plan
from nudge.core.durations import seconds
from nudge.core.react import react
from nudge.core.timed import nightly_due, nightly_plan
from nudge.flows.common import current_config, update_customer
from nudge.scoring.daily import (
    UNREADABLE,
    apply_scores,
    pack,
    summary,
    unpack,
    would_change,
)
from nudge.scoring.replenish import Histograms, add_profile, fit_intervals
from nudge.scoring.replenish import merge as merge_hist
from nudge.scoring.replenish import parts as hist_parts
from nudge.scoring.together import Counts, empty, merge_into
from nudge.scoring.together import add_profile as add_together
from nudge.scoring.together import parts as together_parts

if TYPE_CHECKING:
    from nudge.config import CompiledConfig

log = logging.getLogger("nudge.score")

ITEMS_PER_SEGMENT = 250_000  # table items per parallel-scan segment, unless NUDGE_SCORE_SEGMENTS
MAX_SEGMENTS = 16
PAGE_SIZE = 200  # items examined per scan page (NUDGE_SCORE_PAGE_SIZE)
FLUSH_ROWS = 6000  # gathered rows per chunk item: 6000 x 7 x 8 bytes = 336 KB < 400 KB
RESERVE_MS = 60_000  # stop, save and hand over when less than this is left
LEASE_SECONDS = 15 * 60  # without a Lambda context
MAX_CONTINUATIONS = 96
MAX_FAILING_IN_A_ROW = 5
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _summary(item: dict[str, Any], as_of: datetime) -> tuple[float, ...] | None:
    """``summary`` of a scanned item, or ``UNREADABLE`` (empty) if its orders cannot be read."""
    try:
        return summary(item["doc"], as_of)
    except (KeyError, TypeError, ValueError, AttributeError):
        log.exception("score: profile %s has unreadable orders", item.get("customer_id"))
        return UNREADABLE


# -- the run ------------------------------------------------------------------------------------


class Budget:
    """When an invocation must stop: ``profiles`` handled (tests) or Lambda time left."""

    def __init__(
        self,
        profiles: int | None = None,
        remaining_ms: Callable[[], int] | None = None,
        reserve_ms: int = RESERVE_MS,
    ) -> None:
        self.profiles = profiles
        self.remaining_ms = remaining_ms
        self.reserve_ms = reserve_ms
        self.used = 0
        self.stopped = False
        self._lock = threading.Lock()

    def _low(self) -> bool:
        if self.profiles is not None and self.used >= self.profiles:
            return True
        return self.remaining_ms is not None and self.remaining_ms() < self.reserve_ms

    def ok(self) -> bool:
        """Is there time for another step? Once False, stays False."""
        with self._lock:
            self.stopped = self.stopped or self._low()
            return not self.stopped

    def take(self) -> bool:
        """Count one profile, if there is time for it."""
        with self._lock:
            self.stopped = self.stopped or self._low()
            if not self.stopped:
                self.used += 1
            return not self.stopped

    def stop(self) -> None:
        """Stop every worker at its next step."""
        with self._lock:
            self.stopped = True


def _int_env(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name) or default))
    except ValueError:
        return default


_auto: dict[str, tuple[float, int]] = {}


def auto_segments() -> int:
    """``NUDGE_SCORE_SEGMENTS`` if set, else one scan segment per ``ITEMS_PER_SEGMENT`` items
    of the table (1 to ``MAX_SEGMENTS``; the item count is cached for an hour per container)."""
    if os.environ.get("NUDGE_SCORE_SEGMENTS"):
        return _int_env("NUDGE_SCORE_SEGMENTS", 1)
    table = store.table()
    cached = _auto.get(table)
    if cached is None or time.monotonic() - cached[0] > 3600:
        cached = _auto[table] = (time.monotonic(), store.table_item_count())
    return max(1, min(MAX_SEGMENTS, math.ceil(cached[1] / ITEMS_PER_SEGMENT)))


def run_date(now: datetime, config: CompiledConfig) -> str:
    """The run's date: the local date in the shop's time zone."""
    return now.astimezone(ZoneInfo(config.settings.timezone)).date().isoformat()


def _new_state(date: str, as_of: datetime, segments: int, attempt: int) -> dict[str, Any]:
    return {
        "date": date,
        "attempt": attempt,
        "phase": "gather",
        "as_of": iso(as_of),
        "segments": segments,
        "cursors": _cursors(segments),
        "model": None,
        "counts": {
            "invocations": 0,
            "gathered": 0,
            "scored": 0,
            "unchanged": 0,
            "written": 0,
            "failed": 0,
            "events": 0,
            "decisions": 0,
            "messages": 0,
        },
        "started_at": iso(as_of),
        "finished_at": None,
    }


def _cursors(segments: int) -> dict[str, dict[str, Any]]:
    return {str(s): {"key": None, "done": False, "chunks": 0} for s in range(segments)}


def _rfm_rules(config: CompiledConfig) -> Any:
    """RFM segment rules from ``segments.yaml`` ``rfm:`` if the config has them, else defaults."""
    items = config.rfm_rules
    if not items:
        return None
    from nudge.scoring.rfm import rules_from_config

    return rules_from_config(items)


@dataclass
class _Run:
    """One invocation's work on a run: shared state, guarded by a lock across segment threads."""

    run_id: str
    owner: str
    state: dict[str, Any]
    config: CompiledConfig
    budget: Budget
    lease_until: float
    page_size: int
    threads: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    kept: dict[int, list[tuple[float, ...]]] = field(default_factory=dict)  # gathered, unsaved
    kept_hist: dict[int, Histograms] = field(default_factory=dict)  # re-order intervals, unsaved
    kept_together: dict[int, Counts] = field(default_factory=dict)  # co-occurrence, unsaved
    failing: int = 0  # customers failed one after the other

    @property
    def as_of(self) -> datetime:
        return parse_time(self.state["as_of"])

    def count(self, **deltas: int) -> None:
        with self.lock:
            counts = self.state["counts"]
            for key, delta in deltas.items():
                counts[key] = counts.get(key, 0) + delta

    def save(self, release: bool = False) -> None:
        with self.lock:
            store.save_run(self.run_id, self.owner, self.state, 0 if release else self.lease_until)

    def each_segment(self, work: Callable[[int], None]) -> None:
        """Run ``work`` for every unfinished segment, in threads when asked to."""
        todo = [int(s) for s, c in self.state["cursors"].items() if not c["done"]]
        if self.threads <= 1 or len(todo) <= 1:
            for segment in todo:
                work(segment)
            return
        with ThreadPoolExecutor(max_workers=min(self.threads, len(todo))) as pool:
            futures = [pool.submit(work, segment) for segment in todo]
            errors = []
            for future in futures:
                try:
                    future.result()
                except Exception as exc:  # keep the others' progress, then fail the invocation
                    self.budget.stop()
                    errors.append(exc)
            if errors:
                raise errors[0]

    def all_done(self) -> bool:
        return all(c["done"] for c in self.state["cursors"].values())

    # -- pass 1 ---------------------------------------------------------------------------
    def gather(self, segment: int) -> None:
        """Summarise the segment's profiles. Rows stay in memory; they are written as chunk items
        (with the cursor that follows them) only every ``FLUSH_ROWS`` rows and when stopping,
        so a run that gathers in one invocation writes nothing but its fitted model."""
        cursor = self.state["cursors"][str(segment)]
        key, rows, as_of = cursor["key"], [], self.as_of
        replenishing = self.config.settings.replenishment is not None
        pairing = self.config.settings.recommendations.bought_together is not None
        hist: Histograms = {}
        together = empty()
        while self.budget.ok():
            items, last = store.scan_profiles(segment, self.state["segments"], key, self.page_size)
            page, complete = [], True
            page_hist: Histograms = {}
            page_together = empty()
            for item in items:
                if not self.budget.take():
                    complete = False  # the page is read again on resume
                    break
                row = _summary(item, as_of)
                if row:  # neither None (no order) nor UNREADABLE
                    page.append(row)
                if replenishing:
                    add_profile(page_hist, item["doc"])
                if pairing:
                    add_together(page_together, item["doc"])
            if not complete:
                break
            rows += page
            hist = merge_hist([hist, page_hist]) if page_hist else hist
            merge_into(together, page_together)
            key = last
            if last is None:
                with self.lock:
                    self.kept[segment] = rows
                    self.kept_hist[segment] = hist
                    self.kept_together[segment] = together
                return
            if len(rows) + self.page_size > FLUSH_ROWS:
                self._flush(segment, rows, key, done=False, hist=hist, together=together)
                rows, hist, together = [], {}, empty()
        self._flush(segment, rows, key, done=False, hist=hist, together=together)

    def _flush(
        self,
        segment: int,
        rows: list[tuple[float, ...]],
        key: Any,
        done: bool,
        hist: Histograms | None = None,
        together: Counts | None = None,
    ) -> None:
        """Write rows (and re-order interval histograms, and co-occurrence counts) as chunk
        items, then save the cursor that follows them."""
        cursor = self.state["cursors"][str(segment)]
        first = cursor["chunks"]
        names: list[str] = []
        for start in range(0, len(rows), FLUSH_ROWS):
            part = rows[start : start + FLUSH_ROWS]
            names.append(f"{self.state['attempt']}#{segment:04d}#{first + len(names):06d}")
            store.put_run_chunk(self.run_id, names[-1], pack(part), len(part))
        hchunks = cursor.get("hchunks", 0)
        for piece in hist_parts(hist or {}):
            name = f"{self.state['attempt']}#h{segment:04d}#{hchunks:06d}"
            data = zlib.compress(json.dumps(piece, separators=(",", ":")).encode())
            store.put_run_chunk(self.run_id, name, data, len(piece))
            hchunks += 1
        tchunks = cursor.get("tchunks", 0)
        for counted in together_parts(together or empty()):
            name = f"{self.state['attempt']}#t{segment:04d}#{tchunks:06d}"
            data = zlib.compress(json.dumps(counted, separators=(",", ":")).encode())
            store.put_run_chunk(self.run_id, name, data, len(counted["i"]))
            tchunks += 1
        with self.lock:
            cursor["hchunks"] = hchunks
            cursor["tchunks"] = tchunks
            cursor["chunks"] = first + len(names)
            cursor["key"], cursor["done"] = key, done
            self.state["counts"]["gathered"] += len(rows)
        self.save()

    def gathered(self) -> bool:
        """After the gather workers: is every segment read? If not (the budget ran out), the
        segments finished in memory are written down so the next invocation skips them."""
        cursors = self.state["cursors"]
        if all(c["done"] or int(s) in self.kept for s, c in cursors.items()):
            return True
        for segment, rows in sorted(self.kept.items()):
            self._flush(
                segment,
                rows,
                None,
                done=True,
                hist=self.kept_hist.get(segment),
                together=self.kept_together.get(segment),
            )
        self.kept.clear()
        self.kept_hist.clear()
        self.kept_together.clear()
        return False

    def _intervals(self) -> dict[str, float]:
        """Typical re-order interval per product and category: the saved histogram chunks the
        cursors account for, and those in memory."""
        settings = self.config.settings.replenishment
        if settings is None:
            return {}
        parts: list[Any] = list(self.kept_hist.values())
        if any(c.get("hchunks") for c in self.state["cursors"].values()):
            wanted = {
                f"{self.state['attempt']}#h{int(s):04d}#{n:06d}"
                for s, c in self.state["cursors"].items()
                for n in range(c.get("hchunks", 0))
            }
            for name, data in store.run_chunks(self.run_id, f"{self.state['attempt']}#h"):
                if name in wanted:
                    parts.append(json.loads(zlib.decompress(data)))
        self.kept_hist.clear()
        return fit_intervals(merge_hist(parts), settings.min_buyers)

    def _together(self) -> dict[str, Any] | None:
        """Frequently bought together: the co-occurrence counts the saved chunks and memory
        hold, fitted, enriched with what the catalog knows of each product and written as one
        ``PRODUCT#<id>`` / ``TOGETHER`` item per product; a summary for the run's model."""
        settings = self.config.settings.recommendations.bought_together
        if settings is None:
            return None
        counts = empty()
        for segment in sorted(self.kept_together):
            merge_into(counts, self.kept_together[segment])
        if any(c.get("tchunks") for c in self.state["cursors"].values()):
            wanted = {
                f"{self.state['attempt']}#t{int(s):04d}#{n:06d}"
                for s, c in self.state["cursors"].items()
                for n in range(c.get("tchunks", 0))
            }
            for name, data in store.run_chunks(self.run_id, f"{self.state['attempt']}#t"):
                if name in wanted:
                    merge_into(counts, json.loads(zlib.decompress(data)))
        self.kept_together.clear()
        from nudge.scoring.together import fit as fit_together

        # twice the room, so a list stays full when the catalog says some are sold out
        found = fit_together(counts, 2 * settings.top, settings.min_customers)
        known = store.products(sorted({c["product_id"] for cs in found.values() for c in cs}))
        lists: dict[str, list[dict[str, Any]]] = {}
        for product, companions in found.items():
            kept = []
            for companion in companions:
                state = known.get(companion["product_id"]) or {}
                if in_stock(state) is False:
                    continue  # nobody can buy it now: not recommended until a run sees it back
                for k in ("name", "category", "price", "currency", "url", "image_url"):
                    if state.get(k) is not None:
                        companion[k] = state[k]
                kept.append(companion)
            if kept:
                lists[product] = kept[: settings.top]
        written = store.put_bought_together(lists, self.state["date"])
        return {"customers": counts["n"], "pairs": counts["np"], "products": written}

    def _rows(self) -> array[float]:
        """Every gathered row: the chunks the saved cursors account for, then those in memory."""
        flat = array("d")
        if any(c["chunks"] for c in self.state["cursors"].values()):
            wanted = {
                f"{self.state['attempt']}#{int(s):04d}#{n:06d}"
                for s, c in self.state["cursors"].items()
                for n in range(c["chunks"])
            }  # chunks left by a crash between a write and its save are not counted
            chunks = store.run_chunks(self.run_id, f"{self.state['attempt']}#")
            flat = unpack([data for name, data in chunks if name in wanted])
        for segment in sorted(self.kept):
            for row in self.kept[segment]:
                flat.extend(row)
        return flat

    def fit(self) -> None:
        """Fit the models on the whole base and save them with the run (phase ``score``)."""
        flat = self._rows()
        intervals = self._intervals()
        together = self._together()
        self.state["counts"]["gathered"] += sum(len(rows) for rows in self.kept.values())
        self.kept.clear()
        if len(flat):
            from nudge.scoring.recompute import fit_base

            model = fit_base(flat)
        else:  # nobody has an order yet: nothing to fit, and no reason to load numpy
            model = {
                "n_customers": 0,
                "n_repeat_buyers": 0,
                "bgnbd": None,
                "gamma_gamma": None,
                "rfm_cuts": {k: [None] * 4 for k in "rfm"},
                "notes": [],
            }
        model["as_of"] = self.state["as_of"]
        model["replenish"] = intervals
        if together is not None:
            model["bought_together"] = together
        self.state["model"] = model
        self.state["phase"] = "score"
        self.state["cursors"] = _cursors(self.state["segments"])
        for note in model["notes"]:
            log.info("score fit: %s", note)
        self.save()

    # -- pass 2 ---------------------------------------------------------------------------
    def score(self, segment: int) -> None:
        """Score the segment page by page; the cursor is saved after each page but the last
        (the run's final save records that one)."""
        rules = _rfm_rules(self.config)
        cursor = self.state["cursors"][str(segment)]
        key, as_of, model = cursor["key"], self.as_of, self.state["model"]
        while self.budget.ok():
            items, last = store.scan_profiles(segment, self.state["segments"], key, self.page_size)
            rows = [_summary(item, as_of) for item in items]
            present = [r for r in rows if r]
            scored: Any = iter(())
            if present:
                from nudge.scoring.recompute import score_rows

                scored = iter(score_rows(model, present, rules, self.config.churn_cuts))
            for item, row in zip(items, rows, strict=True):
                scores = next(scored) if row else None
                if not self.budget.take():
                    return  # the cursor still points at this page's start
                if row == UNREADABLE:
                    self.count(failed=1)
                    continue
                self.customer(item, row, scores)
            page = self.split_page(items)  # counted with the cursor: a re-read page is not
            with self.lock:
                cursor["key"], cursor["done"] = last, last is None
                _merge_tallies(self.state.setdefault("splits", {}), page)
            if last is None:
                return
            self.save()
            key = last

    def split_page(self, items: list[dict[str, Any]]) -> dict[str, dict[str, list[int]]]:
        """The journey splits with a ``winner`` rule, counted over one page of profiles."""
        page: dict[str, dict[str, list[int]]] = {}
        if not self.config.winner_splits:
            return page
        from nudge.core.splits import add_to_tallies

        window = seconds(self.config.settings.attribution.window)
        for item in items:
            add_to_tallies(page, item["doc"], self.config.winner_splits, window)
        return page

    def record_winners(self) -> None:
        """At the end of a run: each split whose ``winner`` rule now holds gets its winner
        recorded (when and why), once; every new entrant is then sent to it."""
        if not self.config.winner_splits:
            return
        from nudge.core.splits import Arm, pick_winner

        recorded = store.split_winners()
        tallies = self.state.get("splits") or {}
        changed = False
        for (journey_id, split), rule in sorted(self.config.winner_splits.items()):
            key = f"{journey_id}/{split}"
            if key in recorded:
                continue
            trigger = self.config.triggers[journey_id]
            node = trigger.journey.splits[split]
            arms = {v: Arm(*counts) for v, counts in (tallies.get(key) or {}).items()}
            verdict = pick_winner(node.split.variants, arms, rule.after, rule.min_lift_ci)
            if verdict.winner is None:
                continue
            recorded[key] = {
                "variant": verdict.winner,
                "at": iso(clock_now()),
                "why": {"metric": rule.metric, **verdict.why},
            }
            changed = True
            log.info("split winner", extra={"split": key, "variant": verdict.winner})
        if changed:
            store.save_split_winners(recorded)

    def customer(
        self, item: dict[str, Any], row: tuple[float, ...] | None, scores: dict[str, Any] | None
    ) -> None:
        """Score one customer; a failure is logged and counted, and skips only that customer
        today, unless ``MAX_FAILING_IN_A_ROW`` fail one after the other (then something is wrong
        with more than one profile: the invocation fails and its retry resumes the run)."""
        try:
            self._customer(item, row, scores)
        except Exception as exc:
            log.exception("score: customer %s failed", item.get("customer_id"))
            if is_denied(exc):  # no other customer will fare better: fail the invocation
                raise
            with self.lock:
                counts = self.state["counts"]
                counts["failed"] = counts.get("failed", 0) + 1
                self.failing += 1
                systemic = self.failing >= MAX_FAILING_IN_A_ROW
            if systemic:
                raise
        else:
            with self.lock:
                self.failing = 0

    def _customer(
        self, item: dict[str, Any], row: tuple[float, ...] | None, scores: dict[str, Any] | None
    ) -> None:
        """A dry run on the scanned document, then (only if something changes) the optimistic
        read-react-write of ``update_customer``."""
        self.count(scored=1)
        moment = clock_now()
        intervals = self.state["model"].get("replenish") or {}
        due = nightly_due(item["doc"], self.config, moment, intervals)  # no write
        if not due and not would_change(item["doc"], scores, self.config, moment):
            self.count(unchanged=1)
            return
        customer_id = item["customer_id"]
        cause = f"recompute:{self.state['date']}:{customer_id}"
        model, as_of, scored_at = self.state["model"], self.as_of, self.state["as_of"]
        config = self.config

        def change(profile: dict[str, Any], now: datetime) -> Plan | None:
            live = profile.get("last_seen_at") or profile.get("seen") or profile.get("orders")
            if profile.get("merged_into") or not live:
                return None  # merged or erased since the scan: nothing to score
            fresh = summary(profile, as_of)
            mine = scores
            if fresh != row:  # an order or refund since the scan: score what is there now
                from nudge.scoring.recompute import score_rows

                mine = (
                    score_rows(model, [fresh], _rfm_rules(config), config.churn_cuts)[0]
                    if fresh
                    else None
                )
            before = (list(profile.get("segments") or []), profile.get("value_tier"))
            moved = apply_scores(profile, mine, scored_at)
            plan = react(profile, config, now, cause=cause)
            plan.merge(nightly_plan(profile, config, now, intervals))
            after = (list(profile.get("segments") or []), profile.get("value_tier"))
            if not moved and not plan and not plan.emit and after == before:
                return None
            return plan

        plan = update_customer(customer_id, change)
        if plan is None:
            self.count(unchanged=1)
            return
        self.count(
            written=1,
            events=len(plan.emit),
            decisions=len(plan.decisions),
            messages=len(plan.messages),
        )


def _merge_tallies(
    into: dict[str, dict[str, list[int]]], page: dict[str, dict[str, list[int]]]
) -> None:
    for key, arms in page.items():
        target = into.setdefault(key, {})
        for variant, (entered, converted) in arms.items():
            counts = target.setdefault(variant, [0, 0])
            counts[0] += entered
            counts[1] += converted


def _as_budget(budget: Budget | int | None) -> Budget:
    if isinstance(budget, Budget):
        return budget
    return Budget(profiles=budget)


def run_daily(
    now: datetime | None = None,
    budget: Budget | int | None = None,
    *,
    date: str | None = None,
    force: bool = False,
    segments: int | None = None,
    threads: int | None = None,
    page_size: int | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> dict[str, Any]:
    """Run (or resume) the daily recompute of ``date`` (default: today in the shop's zone).

    ``budget``: a ``Budget`` or a number of profiles this invocation may handle (tests). Returns
    counts, with ``resume: True`` when the run stopped early and must be invoked again,
    ``already: True`` when the run had finished before (``force`` runs it again), or
    ``busy: True`` when another invocation holds the run.
    """
    config = current_config()
    now = now or clock_now()
    date = date or run_date(now, config)
    run_id = f"score#{date}"
    owner = uuid.uuid4().hex
    lease_until = now.timestamp() + lease_seconds
    try:
        state = store.claim_run(run_id, owner, lease_until, now.timestamp())
    except store.RunBusy:
        log.info("score run %s is busy in another invocation", run_id)
        return {"run": run_id, "date": date, "busy": True}
    if state is not None and state["phase"] == "done" and not force:
        store.save_run(run_id, owner, state, 0)
        return {"run": run_id, "date": date, "done": True, "already": True, **state["counts"]}
    if state is None or state["phase"] == "done":
        attempt = state["attempt"] + 1 if state else 1
        total = segments or auto_segments()
        state = _new_state(date, now, total, attempt)
    state["counts"]["invocations"] += 1
    run = _Run(
        run_id=run_id,
        owner=owner,
        state=state,
        config=config,
        budget=_as_budget(budget),
        lease_until=lease_until,
        page_size=page_size or _int_env("NUDGE_SCORE_PAGE_SIZE", PAGE_SIZE),
        threads=threads or _int_env("NUDGE_SCORE_THREADS", 1),
    )
    warm("dynamodb", "events", "scheduler")  # create shared clients before any thread does
    started_in = state["phase"]
    try:
        if state["phase"] == "gather":
            run.each_segment(run.gather)
            if run.gathered():
                run.fit()  # seconds even for millions: done now, whatever the budget says
        if state["phase"] == "score":
            run.each_segment(run.score)
            if run.all_done():
                run.record_winners()
                state["phase"] = "done"
                state["finished_at"] = iso(clock_now())
        run.save(release=True)
    except store.RunBusy:
        log.warning("score run %s was taken over by another invocation", run_id)
        return {"run": run_id, "date": date, "busy": True}
    except Exception:
        try:  # let the retry (or the next invocation) resume at once, from the last save
            run.save(release=True)
        except Exception:
            log.exception("could not release score run %s", run_id)
        raise
    result: dict[str, Any] = {
        "run": run_id,
        "date": date,
        "phase": state["phase"],
        "done": state["phase"] == "done",
        "handled": run.budget.used,
        "progress": run.budget.used > 0 or state["phase"] != started_in,
        **state["counts"],
    }
    if state["model"]:
        model = state["model"]
        result["model"] = {
            k: model[k] for k in ("n_customers", "n_repeat_buyers", "bgnbd", "gamma_gamma", "notes")
        }
    if state["phase"] != "done":
        result["resume"] = True
    log.info("score run", extra={k: v for k, v in result.items() if k != "model"})
    return result


def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry: ``{"kind": "daily"}`` from the Scheduler, or ``{"kind": "daily", "date":
    "YYYY-MM-DD"}`` to resume or repeat a day's run (``"force": true`` repeats a finished one)."""
    kind = event.get("kind", "daily")
    if kind != "daily":
        return {"error": f"unknown score kind {kind!r}"}
    date = event.get("date")
    if date is not None and not (isinstance(date, str) and _DATE.match(date)):
        return {"error": f"date must look like 2027-03-01, got {date!r}"}
    budget = None
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        budget = Budget(remaining_ms=context.get_remaining_time_in_millis)
    lease: float = LEASE_SECONDS
    if budget is not None and budget.remaining_ms is not None:
        lease = budget.remaining_ms() / 1000 + 60
    result = run_daily(
        budget=budget, date=date, force=bool(event.get("force")), lease_seconds=lease
    )
    if result.get("resume") and context is not None:
        step = int(event.get("continuation") or 0) + 1
        arn = getattr(context, "invoked_function_arn", None)
        if not arn or step > MAX_CONTINUATIONS or not result.get("progress"):
            log.error("score run %s stopped without finishing (step %s)", result["run"], step)
            result["gave_up"] = True
        else:
            invoke_async(arn, {"kind": "daily", "date": result["date"], "continuation": step})
            result["continued"] = step
    return result
