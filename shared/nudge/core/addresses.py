"""Addresses are addresses: what nudge accepts as a customer's email or phone (docs/delivery.md).

An email is exactly one addr-spec (``name@domain``), checked by ``email-validator`` with its
deliverability (DNS) check off: no display name, no list, no comment, no quoted local part, no
control or line-separator character, an ASCII local part (SES does not speak SMTPUTF8); the
domain is kept in its ASCII (IDNA) form, lower-cased. A phone is an international number
(``+`` and the country code) that ``phonenumbers`` finds possible for its country, kept in E.164.

An address that fails is never stored: ``nudge.core.profile.apply_event`` drops it and records
why under ``address_errors``, and decisions for that channel say ``no_address`` with
``address_error`` (``invalid_email`` / ``invalid_phone``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

INVALID_EMAIL = "invalid_email"
INVALID_PHONE = "invalid_phone"
ADDRESS_ERRORS = "address_errors"  # profile key: {"email"|"phone": {"error", "why"}}
_PHONE_CHARS = re.compile(r"^\+[0-9 ().\-]{3,30}$")  # digits and the usual separators only


@dataclass(frozen=True, slots=True)
class Checked:
    """An address as nudge stores it, or why it cannot be used."""

    value: str | None
    error: str | None = None
    why: str | None = None
    display_name: str = ""


def check_email(value: Any, *, display_name: bool = False) -> Checked:
    """One addr-spec, normalised (``Ann@Shop.Example`` -> ``Ann@shop.example``), or an error.

    ``display_name``: also accept ``Name <addr-spec>`` (the configured sender), the name in
    ``Checked.display_name``."""
    if not isinstance(value, str):
        return Checked(None, INVALID_EMAIL, "not a string")
    return _check_email(value.strip(), display_name)


@lru_cache(maxsize=4096)
def _check_email(value: str, display_name: bool) -> Checked:
    from email_validator import EmailNotValidError, validate_email

    try:
        found = validate_email(
            value,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=display_name,
            allow_quoted_local=False,
            allow_domain_literal=False,
        )
    except EmailNotValidError as exc:
        return Checked(None, INVALID_EMAIL, str(exc))
    name = (found.display_name or "") if display_name else ""
    return Checked(found.ascii_email or found.normalized, display_name=name)


def check_phone(value: Any) -> Checked:
    """An international number in E.164 (``+1 (613) 555-1111`` -> ``+16135551111``), or an
    error."""
    if not isinstance(value, str):
        return Checked(None, INVALID_PHONE, "not a string")
    return _check_phone(value.strip())


@lru_cache(maxsize=4096)
def _check_phone(text: str) -> Checked:
    import phonenumbers

    if not _PHONE_CHARS.match(text):
        return Checked(None, INVALID_PHONE, "not an international number (+ and digits)")
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        return Checked(None, INVALID_PHONE, str(exc))
    if not phonenumbers.is_possible_number(number):
        return Checked(None, INVALID_PHONE, "not a possible number for its country")
    return Checked(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


CHECKS = {"email": check_email, "phone": check_phone}


def check_address(kind: str, value: Any) -> Checked:
    """``check_email`` or ``check_phone`` by trait name."""
    return CHECKS[kind](value)


def address_error(profile: dict[str, Any], kind: str) -> str | None:
    """Why the profile holds no ``kind`` (``email``/``phone``) address, if it was invalid."""
    found = (profile.get(ADDRESS_ERRORS) or {}).get(kind)
    return str(found.get("error")) if isinstance(found, dict) else None
