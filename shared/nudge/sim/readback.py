"""Reading a simulation back: what was decided, sent, stored and parked, as tests and
``nudge simulate`` see it. :class:`ReadBack` is mixed into :class:`nudge.sim.Simulation`, which
drives; this side only reads (the table, moto's SES/SNS backends, the DLQ) and never moves the
clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from email import message_from_string, policy
from typing import TYPE_CHECKING, Any

from nudge.aws import clients as aws
from nudge.core.clock import SimulatedClock, iso
from nudge.core.events import ENGAGEMENT_TYPES
from nudge.sim.infra import ENV

if TYPE_CHECKING:
    from nudge.config.compiled import CompiledConfig
    from nudge.sim.backends import Backend


class ReadBack:
    """The reading-back half of :class:`nudge.sim.Simulation` (see there for the driving)."""

    config: CompiledConfig
    clock: SimulatedClock
    started: datetime
    dlq_url: str
    backend: Backend
    dlqs: dict[str, str]
    kept_log: list[dict[str, Any]]

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision stored, in time order."""
        from nudge.aws import store

        # every audience miss the profiles were given to keep, not only those they still keep
        return store.stored_decisions(kept=self.kept_log)

    def conversions(self) -> list[dict[str, Any]]:
        """Every conversion stored (an order credited to a message, ``nudge.core.attribution``),
        in time order."""
        from nudge.aws import store

        items = store.scan_kind("conversion")
        items.sort(key=lambda i: (i["sk"]["S"][2:22], i["pk"]["S"], i["sk"]["S"]))
        return [json.loads(i["doc"]["S"]) for i in items]

    def outbox(self) -> dict[str, dict[str, Any]]:
        """Outbox items by provider message id."""
        from nudge.aws import store

        out = {}
        for item in store.scan_kind("outbox"):
            if "provider_id" in item:
                out[item["provider_id"]["S"]] = json.loads(item["doc"]["S"])
        return out

    def messages(self) -> list[dict[str, Any]]:
        """What SES, SNS and webhook endpoints actually received, joined to our outbox, in send
        order (a webhook once its endpoint took it, after any retries)."""
        outbox = self.outbox()
        sent_at = {d["message_id"]: d["at"] for d in self.decisions() if d["outcome"] == "sent"}
        out: list[dict[str, Any]] = []
        for raw in self.backend.emails():
            data = getattr(raw, "raw_data", None)
            if data is None:
                continue
            mime = message_from_string(data, policy=policy.default)
            body = mime.get_body(preferencelist=("plain",))
            html = mime.get_body(preferencelist=("html",))
            known = outbox.get(raw.id, {})
            out.append(
                {
                    "message_id": known.get("message_id", raw.id),
                    "provider_id": raw.id,
                    "customer_id": known.get("customer_id"),
                    "trigger": known.get("trigger"),
                    "channel": "email",
                    "to": ", ".join(dict.fromkeys(raw.destinations)),
                    "at": sent_at.get(known.get("message_id", ""), ""),
                    "subject": str(mime["Subject"]),
                    "text": body.get_content() if body else "",
                    "html": html.get_content() if html else None,
                    "headers": {k: str(v).strip() for k, v in mime.items()},
                }
            )
        for provider_id, (phone, text) in self.backend.sms().items():
            known = outbox.get(provider_id, {})
            out.append(
                {
                    "message_id": known.get("message_id", provider_id),
                    "provider_id": provider_id,
                    "customer_id": known.get("customer_id"),
                    "trigger": known.get("trigger"),
                    "channel": "sms",
                    "to": phone,
                    "at": sent_at.get(known.get("message_id", ""), ""),
                    "subject": None,
                    "text": text,
                    "headers": {},
                }
            )
        for post in getattr(self, "webhook_posts", ()):  # what webhook endpoints took
            known = outbox.get(post["provider_id"], {})
            mid = str(known.get("message_id") or post["headers"].get("webhook-id", ""))
            out.append(
                {
                    "message_id": mid,
                    "provider_id": post["provider_id"],
                    "customer_id": known.get("customer_id"),
                    "trigger": known.get("trigger"),
                    "channel": "webhook",
                    "to": post["url"],
                    "at": sent_at.get(mid, ""),
                    "subject": None,
                    "text": post["body"],
                    "headers": dict(post["headers"]),
                }
            )
        order = {mid: i for i, mid in enumerate(sent_at)}
        out.sort(key=lambda m: (m["at"], order.get(m["message_id"], 0)))
        return out

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Every profile, as stored (with the view's derived fields at the clock's time)."""
        from nudge.aws import store
        from nudge.core.profile import SEGS, profile_view

        out = {}
        for doc in store.profile_docs():
            doc.pop(SEGS, None)  # (where its history was stored)
            view = profile_view(doc, self.clock.current, self.config.value_tiers)
            out[doc["customer_id"]] = view
        return dict(sorted(out.items()))

    def dead_letters(self) -> list[dict[str, Any]]:
        """Everything parked in a dead-letter queue (ingest's first, then each function's),
        with its reason and queue, as ``nudge dlq list`` shows it."""
        from nudge.aws.dlq import parked

        urls = [self.dlq_url, *dict.fromkeys(self.dlqs.values())]
        out = []
        for url in urls:
            for item in parked(url):
                out.append({"reason": item.reason, "body": item.body, "queue": url.rsplit("/")[-1]})
        return out

    def api(self, method: str, path: str, *, signed: bool = True) -> dict[str, Any]:
        """Call the profile API handler (``GET /profiles/c-1``); returns status, headers and
        the decoded JSON body. ``signed=False`` sends no IAM identity."""
        from nudge.flows import api
        from nudge.sim.http import request_event

        got = api.handle(request_event(method, path, signed=signed))
        return {
            "status": got["statusCode"],
            "headers": got.get("headers") or {},
            "body": json.loads(got["body"]) if got.get("body") else None,
        }

    def table_items(self) -> list[dict[str, Any]]:
        """Every item in the table, as stored (keys and attributes in DynamoDB's JSON)."""
        ddb = aws.client("dynamodb")
        kwargs: dict[str, Any] = {"TableName": ENV["NUDGE_TABLE"]}
        items: list[dict[str, Any]] = []
        while True:
            page = ddb.scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def targets(self) -> dict[str, dict[str, Any]]:
        """Every trigger and campaign of the config: its ``kind``, the ``event`` that fires a
        trigger, and whether it is ``enabled``."""
        out: dict[str, dict[str, Any]] = {}
        for tid, t in self.config.triggers.items():
            model: Any = t.model
            out[tid] = {"kind": "trigger", "event": model.when.event, "enabled": model.enabled}
        for cid, c in self.config.campaigns.items():
            enabled = getattr(c.model, "enabled", True)
            out[cid] = {"kind": "campaign", "event": None, "enabled": enabled}
        return out

    def output(self, events: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """The ``nudge simulate`` document (docs/reference.md#nudge-simulate): ``messages``,
        ``decisions``, ``conversions`` (orders credited to a message), ``profiles``, ``engagement``
        (engagement events about messages), ``dead_letters``, the control-group shares
        (``holdout``) and the ``attribution`` rule, the simulated time (``simulated_from``,
        the start, to ``simulated_until``), the shop's ``timezone``, the ``funnel`` per trigger
        and campaign and the ``warnings`` (given the ``events`` played, a warning says whether
        a trigger that matched nothing ever saw its event)."""
        from nudge.lift.facts import facts_of
        from nudge.sim.report import funnel, warnings

        decisions = self.decisions()
        stored = self.profiles()
        facts = facts_of(self.config)
        rows = funnel(decisions, self.targets())
        counts = Counter(str(e.get("detail-type")) for e in events)
        profiles = {
            cid: {
                "orders_count": p.get("orders_count", 0),
                "lifetime_value": p.get("lifetime_value", 0),
                "segments": p.get("segments", []),
                "value_tier": p.get("value_tier"),
                "consent": p.get("consent", {}),
                "last_order_at": p.get("last_order_at"),
            }
            for cid, p in stored.items()
        }
        engagement = [
            {"customer_id": cid, "message_id": h["properties"]["message_id"], "type": h["type"]}
            for cid, p in stored.items()
            for h in p.get("history") or ()
            if h["type"] in ENGAGEMENT_TYPES and (h.get("properties") or {}).get("message_id")
        ]
        return {
            "messages": self.messages(),
            "decisions": decisions,
            "conversions": self.conversions(),
            "profiles": profiles,
            "engagement": engagement,
            "dead_letters": self.dead_letters(),
            "simulated_from": iso(self.started),
            "simulated_until": iso(self.clock.current),
            "timezone": self.config.settings.timezone,
            "funnel": rows,
            "warnings": warnings(rows, dict(counts)),
            "holdout": facts["holdout"],
            "attribution": facts["attribution"],
        }
