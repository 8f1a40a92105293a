"""``nudge preview``: a template, trigger or campaign rendered as dispatch renders it (the same
Jinja2 sandbox, profile view and content blocks) for a sample or real profile and event, with what
a marketer checks before sending: size, images without alt text, links and the unsubscribe link,
and for texts the SMS segments and the opt-out words (docs/testing-rules.md#preview)."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from nudge.config.load import read_config
from nudge.config.targets import Content
from nudge.core.clock import iso, parse_time

# GSM 03.38: the basic character set (one septet each) and its extension table (two: escape + char)
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "^{}\\[~]|€\f"
# characters per SMS: one segment, and each segment of a longer (concatenated) message
SEGMENT_SIZES = {"GSM-7": (160, 153), "UCS-2": (70, 67)}
# countries whose rules (or carriers) require opt-out words in marketing texts, by calling code:
# the US and Canada (+1): CTIA's messaging principles and the carriers' 10DLC terms ask for STOP.
OPT_OUT_WORDS = {"+1": ("STOP",)}
GMAIL_CLIP_BYTES = 102 * 1024  # Gmail clips HTML bodies larger than about 102 KB
SAMPLE_TRAITS = {
    "first_name": "Ava",
    "email": "ava@mail.example",
    "phone": "+15555551001",
    "timezone": "America/New_York",
    "locale": "en-US",
}


class PreviewError(ValueError):
    """The thing to preview cannot be found or rendered (the message says why)."""


@dataclass
class SmsInfo:
    """How an SMS text travels: encoding, length in its units, segments."""

    encoding: str
    length: int
    segments: int
    per_segment: int


@dataclass
class Preview:
    """A rendered message and what was found in it."""

    name: str
    channel: str
    subject: str | None
    text: str | None
    html: str | None
    links: list[str] = field(default_factory=list)
    images_without_alt: list[str] = field(default_factory=list)
    unsubscribe: bool = False
    sms: SmsInfo | None = None
    warnings: list[str] = field(default_factory=list)
    size: int = 0  # bytes of HTML and text together

    def as_dict(self) -> dict[str, Any]:
        """As JSON for ``--json``."""
        out = dict(self.__dict__)
        out["sms"] = self.sms.__dict__ if self.sms else None
        return out


def sms_segments(text: str) -> SmsInfo:
    """GSM-7 when every character is in the GSM 03.38 set (extension characters count two),
    else UCS-2 (UTF-16 code units); 160/153 and 70/67 characters per segment."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        encoding = "GSM-7"
        length = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    else:
        encoding = "UCS-2"
        length = len(text.encode("utf-16-le")) // 2
    single, multi = SEGMENT_SIZES[encoding]
    if length <= single:
        return SmsInfo(encoding, length, 1 if length else 0, single)
    return SmsInfo(encoding, length, -(-length // multi), multi)


def opt_out_words(phone: str | None) -> tuple[str, ...]:
    """The opt-out words a text to ``phone`` must carry (by calling code), if any."""
    for code, words in OPT_OUT_WORDS.items():
        if (phone or "").startswith(code):
            return words
    return ()


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.no_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))
        if tag == "img" and "alt" not in values:
            self.no_alt.append(str(values.get("src") or "(no src)"))


def _target_content(
    config_dir: Path, name: str
) -> tuple[str, str, Content, str | None, dict[str, Any] | None]:
    """(kind, channel, content, event type, campaign variant who) for a template, trigger or
    campaign name."""
    from nudge.config import load_config

    config = load_config(str(config_dir))
    trigger = config.triggers.get(name)
    if trigger is not None:
        return _of_target(trigger, "trigger")
    campaign = config.campaigns.get(name)
    if campaign is not None:
        return _of_target(campaign.variants[0], "campaign")
    raw = read_config(config_dir)
    found = raw.templates.get(name)
    if found is not None:
        tpl, _src = found
        channel = "email" if tpl.subject else "sms"
        event = None
        for t in config.triggers.values():  # the event of a trigger that uses it, if one does
            for content in (t.email, t.sms):
                if content is not None and content.template == name:
                    event = _event_type(t)
        content = Content(subject=tpl.subject, html=tpl.html, text=tpl.text, template=tpl.name)
        return "template", channel, content, event, None
    known = sorted([*config.triggers, *config.campaigns, *raw.templates])
    raise PreviewError(f"no template, trigger or campaign {name!r}; the config has: {known}")


def _event_type(target: Any) -> str | None:
    when = getattr(target.model, "when", None)
    return getattr(when, "event", None)


def _of_target(target: Any, kind: str) -> tuple[str, str, Content, str | None, None]:
    channel = "email" if target.email is not None else "sms"
    if target.channel == "sms" and target.sms is not None:
        channel = "sms"
    if target.channel == "webhook" and target.webhook is not None:
        return kind, "webhook", target.webhook, _event_type(target), None
    content = target.email if channel == "email" else target.sms
    assert content is not None
    return kind, channel, content, _event_type(target), None


def sample_event(config_dir: Path, event_type: str | None) -> dict[str, Any] | None:
    """The sample envelope for an event type: ``events/<type>.json`` beside the config."""
    if not event_type:
        return None
    path = config_dir.resolve().parent / "events" / f"{event_type}.json"
    if path.exists():
        return dict(json.loads(path.read_text(encoding="utf-8")))
    return None


def profile_from_file(path: Path) -> dict[str, Any]:
    """A profile from a JSON file: a stored profile (``customer_id``, ``traits``, ...), the
    ``profile`` of ``nudge privacy export``, or plain traits (``{"first_name": "Ava"}``)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, dict) and isinstance(doc.get("profile"), dict):
        doc = doc["profile"]
    if not isinstance(doc, dict):
        raise PreviewError(f"{path}: a profile is a JSON object")
    if "traits" in doc or "customer_id" in doc:
        return doc
    return _sample_profile(doc)


def _sample_profile(traits: dict[str, Any]) -> dict[str, Any]:
    from nudge.core.profile import new_profile

    profile = new_profile(str(traits.get("customer_id") or "c-preview"))
    profile["traits"] = {k: v for k, v in traits.items() if k != "customer_id"}
    for key in ("email", "phone", "timezone", "first_name"):
        if key in traits:
            profile[key] = traits[key]
    profile["consent"] = {"email": True, "sms": True}
    return profile


def render_preview(
    config_dir: str | Path,
    name: str,
    profile: dict[str, Any] | None = None,
    event: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Preview:
    """Render ``name`` (a template, trigger or campaign) for ``profile`` (default: a sample
    customer; a stored profile, or plain traits) and ``event`` (default: the sample of the
    trigger's event) as dispatch would."""
    from nudge.config import load_config
    from nudge.config.compiled import evaluate_content
    from nudge.core.events import envelope_doc, parse_event
    from nudge.core.profile import apply_event, profile_view
    from nudge.core.rules import Ctx
    from nudge.core.templates import TemplateError, compile_template, render, template_context
    from nudge.core.tokens import Keyring, make_token, unsubscribe_url

    root = Path(config_dir)
    config = load_config(str(root))
    _kind, channel, content, event_type, _who = _target_content(root, name)
    if profile is not None and "traits" not in profile and "customer_id" not in profile:
        profile = _sample_profile(profile)  # plain traits
    doc = copy.deepcopy(profile) if profile is not None else _sample_profile(SAMPLE_TRAITS)
    envelope = event if event is not None else sample_event(root, event_type)
    when = now
    if envelope is not None:
        try:
            parsed = parse_event(envelope)
        except ValueError as exc:  # MalformedEvent: said, not raised
            raise PreviewError(f"the event cannot be read: {exc}") from None
        when = when or parsed.time
        apply_event(doc, parsed, config.history_seconds, when)
    when = when or parse_time("2027-02-10T15:00:00Z")
    view = profile_view(doc, when, config.value_tiers)
    base = config.settings.unsubscribe.url if config.settings.unsubscribe else ""
    token = make_token(
        str(doc.get("customer_id")),
        channel,
        when,
        Keyring(("nudge-preview-only-key-never-used-to-send",)),
    )
    unsub = unsubscribe_url(base or "https://example.invalid/u", token)
    ctx = Ctx(view, view.get("history") or (), when.timestamp())
    notes: list[str] = []
    campaign = config.campaigns.get(name)
    if campaign is not None:  # the variant this customer would get
        variant = campaign.pick(ctx)
        if variant is None:
            notes.append("the profile is not in the campaign's audience: showing its first variant")
        else:
            _kind, channel, content, _event, _who = _of_target(variant, "campaign")
    blocks = evaluate_content(config, ctx)
    context = template_context(view, envelope_doc(envelope), blocks, unsub)
    if channel == "webhook":  # the JSON body, as posted (nudge.core.webhook)
        from nudge.core.webhook import render_body

        try:
            body = render_body(content.body or "{}", context)
        except TemplateError as exc:
            raise PreviewError(f"{name}: the webhook body cannot be rendered: {exc}") from None
        out = Preview(name=name, channel=channel, subject=None, text=body, html=None)
        out.warnings += notes
        out.size = len(body.encode())
        return out
    try:
        subject = (
            render(compile_template(content.subject or ""), context).strip()
            if channel == "email"
            else None
        )
        html = (
            render(compile_template(content.html, html=True), context)
            if channel == "email" and content.html
            else None
        )
        text = render(compile_template(content.text), context) if content.text else None
    except TemplateError as exc:
        raise PreviewError(f"{name}: the template cannot be rendered: {exc}") from None
    out = Preview(name=name, channel=channel, subject=subject, text=text, html=html)
    out.warnings += notes
    _inspect(out, unsub, view.get("phone"))
    return out


def _inspect(out: Preview, unsub: str, phone: str | None) -> None:
    out.size = len((out.html or "").encode()) + len((out.text or "").encode())
    if out.channel == "email":
        parser = _Html()
        parser.feed(out.html or "")
        out.links = parser.links + [
            u for u in re.findall(r"https?://[^\s<>\"')]+", out.text or "") if u not in parser.links
        ]
        out.images_without_alt = parser.no_alt
        out.unsubscribe = unsub in parser.links or unsub in (out.text or "")
        if not out.unsubscribe:
            out.warnings.append("no unsubscribe link in the HTML or the text")
        for src in parser.no_alt:
            out.warnings.append(f"image without alt text: {src}")
        if len((out.html or "").encode()) > GMAIL_CLIP_BYTES:
            out.warnings.append("HTML over 102 KB: Gmail clips it ('[Message clipped]')")
        return
    text = out.text or ""
    out.sms = sms_segments(text)
    out.links = re.findall(r"https?://[^\s]+", text)
    if out.sms.segments > 1:
        out.warnings.append(
            f"the text is {out.sms.segments} SMS segments ({out.sms.length} {out.sms.encoding} "
            f"characters; one segment holds {SEGMENT_SIZES[out.sms.encoding][0]})"
        )
    words = opt_out_words(phone)
    if words and not any(w.lower() in text.lower() for w in words):
        out.warnings.append(
            f"no opt-out text ({' or '.join(words)}) for {phone[:2] if phone else ''}: "
            "the country requires it in marketing texts"
        )


def render_report(p: Preview, html_path: Path | None) -> str:
    """The preview as a marketer reads it."""
    lines = [f"{p.name} ({p.channel})"]
    if p.subject is not None:
        lines.append(f"subject: {p.subject}")
    if p.channel == "email":
        lines.append(f"size:    {p.size} bytes (HTML and text)")
        lines.append(f"links:   {len(p.links)}")
        lines += [f"  {link}" for link in p.links]
        lines.append(f"unsubscribe link: {'yes' if p.unsubscribe else 'NO'}")
        lines.append(f"images without alt text: {len(p.images_without_alt)}")
        if html_path is not None:
            lines.append(f"html:    {html_path}")
    elif p.sms is not None:
        s = p.sms
        lines.append(
            f"sms:     {s.length} characters, {s.encoding}, {s.segments} segment(s) "
            f"({s.per_segment} per segment)"
        )
    if p.text:
        lines += ["", "--- text ---", p.text.rstrip()]
    for warning in p.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines)


def profile_from_table(table: str, customer_id: str) -> dict[str, Any]:
    """The stored profile of a customer in a deployed table (needs AWS credentials)."""
    import os

    from nudge.env import reset_env

    os.environ["NUDGE_TABLE"] = table
    reset_env()
    from nudge.aws import store

    stored = store.get_profile(customer_id)
    doc = getattr(stored, "doc", None)
    if not doc:
        raise PreviewError(f"no profile for {customer_id} in {table}")
    return dict(doc)


def stamp(when: datetime) -> str:
    """An ISO time for the report."""
    return iso(when)
