"""Checks of the config as a whole: the files that must be there (and nothing else), a sender for
every channel in use, and triggers that can never send.

``nudge validate`` runs them on top of what loading the config checks (``check_config``). They are
not part of loading: in Lambda the config directory is ``/opt``, shared with the code layers, and a
deployed config is the one CI validated. Warnings (``severity="warning"``) do not fail
``nudge validate``; ``--strict`` makes them fail it.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from nudge.config.load import read_config
from nudge.config.raw import ConfigError, RawConfig, SourceFile
from nudge.core.clock import iso, now

SINGLE_FILES = ("settings", "segments", "content")
FOLDERS = ("triggers", "campaigns", "templates", "tests")  # tests/: `nudge test` scenarios
LAYOUT = (
    "settings.yaml, segments.yaml, content.yaml, triggers/, campaigns/, templates/ (and tests/)"
)


def _at(rel: str, message: str, *, key: str = "", severity: str = "error") -> ConfigError:
    return ConfigError(rel, 1, 1, key, message, severity)


def check_layout(raw: RawConfig) -> list[ConfigError]:
    """settings.yaml present, at least one trigger or campaign, no file nudge would ignore."""
    root = raw.root
    out: list[ConfigError] = []
    if not root.is_dir():
        return out  # read_config reported it
    names = [p.name for p in root.iterdir() if not p.name.startswith(".")]
    known = [f"{s}{x}" for s in SINGLE_FILES for x in (".yaml", ".yml")] + list(FOLDERS)
    for name in sorted(names):
        path = root / name
        if path.is_dir():
            if name not in FOLDERS:
                out.append(_unknown(name + "/", name, FOLDERS, "folder"))
                continue
            for inner in sorted(path.iterdir()):
                if inner.name.startswith(".") or inner.suffix in (".yaml", ".yml"):
                    continue
                rel = f"{name}/{inner.name}"
                kind = "folder" if inner.is_dir() else "file"
                out.append(
                    _at(
                        rel,
                        f"unknown {kind} {rel!r}: nudge reads only *.yaml files in {name}/ "
                        "(this one would be ignored); rename it to .yaml or move it out",
                    )
                )
        elif name not in known:
            stem = Path(name).stem
            out.append(_unknown(name, stem, SINGLE_FILES, "file"))
    for stem in SINGLE_FILES:
        if (root / f"{stem}.yaml").exists() and (root / f"{stem}.yml").exists():
            out.append(_at(f"{stem}.yml", f"both {stem}.yaml and {stem}.yml: keep one"))
    if not any((root / f"settings{x}").exists() for x in (".yaml", ".yml")):
        out.append(
            _at(
                "settings.yaml",
                "settings.yaml is missing: without it no message has a sender; create it with "
                'at least timezone and sender: {email: "Shop <hello@shop.example>"}',
            )
        )
    if not raw.triggers and not raw.campaigns and not _any_yaml(root):
        out.append(
            _at(
                str(root),
                "the config has no triggers/*.yaml and no campaigns/*.yaml: nothing would ever "
                "be sent (docs/config.md, section 6)",
            )
        )
    return out


def _any_yaml(root: Path) -> bool:
    return any(
        p.suffix in (".yaml", ".yml")
        for folder in ("triggers", "campaigns")
        if (root / folder).is_dir()
        for p in (root / folder).iterdir()
    )


def _unknown(rel: str, stem: str, choices: tuple[str, ...], kind: str) -> ConfigError:
    close = difflib.get_close_matches(stem, choices, n=1, cutoff=0.6)
    if close:
        want = close[0] + ("/" if kind == "folder" else ".yaml")
        hint = f"did you mean {want!r}?"
    else:
        hint = f"nudge reads {LAYOUT}"
    return _at(rel, f"unknown {kind} {rel!r} (nudge would ignore it); {hint}")


def _channels(content: Any) -> set[str]:
    """The channels a trigger or campaign variant can send on."""
    channel = content.channel or ("email" if content.email else "sms" if content.sms else "webhook")
    if channel == "best":
        return {c for c in ("email", "sms") if getattr(content, c) is not None}
    return {channel}


def check_senders(raw: RawConfig) -> list[ConfigError]:
    """Every channel a trigger or campaign sends on needs ``settings.sender.<channel>``."""
    users: dict[str, list[str]] = {"email": [], "sms": []}
    for trigger, src in raw.triggers:
        if trigger.enabled:
            for channel in _channels(trigger) & set(users):  # a webhook has no sender
                users[channel].append(src.rel)
    for campaign, src in raw.campaigns:
        if campaign.enabled:
            for variant in campaign.variants:
                for channel in _channels(variant) & set(users):
                    users[channel].append(src.rel)
    settings = raw.files.get("settings.yaml") or raw.files.get("settings.yml")
    out: list[ConfigError] = []
    for channel, files in users.items():
        if not files or getattr(raw.settings.sender, channel):
            continue
        example = '"Shop <hello@shop.example>"' if channel == "email" else '"+15550100"'
        message = (
            f"no sender for {channel}, which {sorted(set(files))[0]} sends on: every {channel} "
            f"would fail; add sender: {{{channel}: {example}}}"
        )
        if settings is None:
            out.append(_at("settings.yaml", message, key=f"sender.{channel}"))
        else:
            out.append(settings.error(("sender", channel), message, key=True))
    return out


def _forbids(where: dict[str, Any] | None, channel: str) -> bool:
    """Does this audience condition require no consent for ``channel``?"""
    if not isinstance(where, dict):
        return False
    spec = where.get(f"consent.{channel}")
    if spec is False:
        return True
    if isinstance(spec, dict):
        return spec.get("eq") is False or spec.get("ne") is True or spec.get("exists") is False
    return any(_forbids(item, channel) for item in where.get("all") or [])


def check_reachable(raw: RawConfig) -> list[ConfigError]:
    """Triggers that can never send: consent the audience rules out, a window already over."""
    out: list[ConfigError] = []
    current = now()
    for trigger, src in raw.triggers:
        if not trigger.enabled:
            continue
        who = trigger.who if isinstance(trigger.who, list) else [trigger.who] if trigger.who else []
        channels = _channels(trigger)
        for i, item in enumerate(who):
            blocked = {c for c in channels if _forbids(item.where, c)}
            if blocked and blocked == channels:
                channel = sorted(blocked)[0]
                path = ("who", i, "where") if isinstance(trigger.who, list) else ("who", "where")
                out.append(
                    src.error(
                        (*path, f"consent.{channel}"),
                        f"channel {channel} needs the customer's {channel} consent, but who "
                        f"requires consent.{channel} to be false: this trigger can never send",
                    )
                )
        active = trigger.active
        if active and active.until and active.from_ and active.until <= active.from_:
            out.append(
                src.error(("active", "until"), "active.until is not after active.from: never on")
            )
        elif active and active.until and active.until <= current:
            out.append(
                _warning(
                    src,
                    ("active", "until"),
                    f"active.until {iso(active.until)} is in the past ({iso(current)}): this "
                    "trigger will never fire again; move the window or set enabled: false",
                )
            )
    return out


# What marks a message as marketing: an offer, a code, a sale, a link to a collection. A
# transactional message (an order, shipping or password message) must carry none of it
# (docs/delivery.md, "Lanes"): mailbox providers and carriers judge it as marketing otherwise.
MARKETING = re.compile(
    r"\d+\s*%\s*off|\b(discount|coupon|promo(tion)?(al)? code|sale|special offer|free shipping|"
    r"shop now|new arrivals|bestsellers?)\b|/collections(/|\b)",
    re.IGNORECASE,
)


def check_broadcasts(raw: RawConfig) -> list[ConfigError]:
    """A broadcast whose time has passed would never go out: a warning."""
    from nudge.core.broadcast import run_start

    out: list[ConfigError] = []
    current = now()
    for campaign, src in raw.campaigns:
        if campaign.at is None or not campaign.enabled:
            continue
        start = run_start(campaign.at, raw.settings.timezone, campaign.send_in_local_time)
        if start <= current:
            message = (
                f"at: {campaign.at} has passed ({iso(current)}): this broadcast will never go "
                "out; move it or set enabled: false"
            )
            out.append(_warning(src, ("at",), message))
    return out


def check_topics(raw: RawConfig) -> list[ConfigError]:
    """Each ``topic:`` names a topic of settings.topics; a transactional trigger names none."""
    out: list[ConfigError] = []
    declared = sorted(raw.settings.topics)
    settings_src = raw.files.get("settings.yaml") or raw.files.get("settings.yml")
    for i, cap in enumerate(raw.settings.frequency_caps):
        if cap.topic and cap.topic not in raw.settings.topics and settings_src is not None:
            message = f"unknown topic {cap.topic!r}; settings.topics has: {', '.join(declared)}"
            out.append(settings_src.error(("frequency_caps", i, "topic"), message))
        if cap.topic and cap.group and settings_src is not None:
            message = "a cap counts one topic or one cap group, not both: split it in two"
            out.append(settings_src.error(("frequency_caps", i), message))
    users = [*raw.triggers, *raw.campaigns]
    for item, src in users:
        topic = getattr(item, "topic", None)
        if topic is None:
            continue
        if getattr(item, "lane", "marketing") == "transactional":
            message = (
                "a transactional message has no topic: customers cannot opt out of what they "
                "need (remove topic, or make it a marketing trigger)"
            )
            out.append(src.error(("topic",), message))
        elif topic not in raw.settings.topics:
            close = difflib.get_close_matches(topic, declared, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean {close[0]!r}?"
            elif declared:
                hint = f"settings.topics has: {', '.join(declared)}"
            else:
                hint = "declare it under settings.topics"
            out.append(src.error(("topic",), f"unknown topic {topic!r}; {hint}"))
    return out


def check_transactional(raw: RawConfig) -> list[ConfigError]:
    """A warning for each transactional trigger whose content reads like marketing."""
    out: list[ConfigError] = []
    for trigger, src in raw.triggers:
        if trigger.lane != "transactional":
            continue
        for channel in ("email", "sms"):
            block = getattr(trigger, channel)
            if block is None:
                continue
            parts: list[tuple[SourceFile, tuple[Any, ...], str]] = []
            name = getattr(block, "template", None)
            if name and name in raw.templates:
                tpl, tsrc = raw.templates[name]
                parts += [(tsrc, (k,), getattr(tpl, k) or "") for k in ("subject", "html", "text")]
            for key in ("subject", "html", "text"):
                text = getattr(block, key, None)
                if text:
                    parts.append((src, (channel, key), text))
            for where, path, text in parts:
                found = MARKETING.search(text)
                if found:
                    message = (
                        f"{trigger.id} is transactional, but its {path[-1]} says "
                        f"{found.group(0)!r}: transactional messages carry no offers or links to "
                        "collections (send those as a marketing trigger)"
                    )
                    out.append(_warning(where, path, message))
    return out


def _warning(src: SourceFile, path: tuple[Any, ...], message: str) -> ConfigError:
    e = src.error(path, message)
    return ConfigError(e.file, e.line, e.column, e.key, message, "warning")


def check_whole(raw: RawConfig) -> list[ConfigError]:
    """Every whole-config check, errors and warnings."""
    return [
        *check_layout(raw),
        *check_senders(raw),
        *check_reachable(raw),
        *check_transactional(raw),
        *check_topics(raw),
        *check_broadcasts(raw),
    ]


def check_config(directory: str | Path) -> list[ConfigError]:
    """Everything ``nudge validate`` reports about a config directory, errors and warnings."""
    from nudge.config.compiled import compile_config

    raw = read_config(directory)
    _, errors = compile_config(raw)
    return [*errors, *check_whole(raw)]
