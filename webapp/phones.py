"""Phone numbers as people type them and phone systems write them, kept as E.164."""

from __future__ import annotations

import phonenumbers


def to_e164(text: str, region: str = "FI") -> str:
    """A phone number in any usual format as E.164, or ValueError."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_possible_number(number):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
