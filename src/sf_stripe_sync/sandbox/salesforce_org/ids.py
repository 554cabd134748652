"""Salesforce record ids: 15 case-sensitive characters, or 18 with the case-safe suffix.

Theory of operation: an id is 15 alphanumeric characters (case matters) or those 15
plus a three-character suffix that encodes, five characters at a time, which of them
are upper case (``to_18``). Salesforce refuses an 18-character id whose suffix does not
match its first 15 characters (a case-mangled id, say) just as it refuses one of the
wrong length or alphabet: ``is_valid_id`` is that rule, used wherever the org reads an
id (paths, writes, reference values, SOQL literals). Two valid ids with the same first
15 characters name one record (``id_key``).
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.salesforce_org.describe import ID_PATTERN

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18(id15: str) -> str:
    """Salesforce's case-safe 18-character form of a 15-character id."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        suffix += _CHECKSUM_ALPHABET[bits]
    return id15 + suffix


def id_key(record_id: str) -> str:
    """The 15-character key an id is stored under (ids compare on their first 15)."""
    return record_id[:15]


def is_valid_id(text: object) -> bool:
    """A well-formed id: 15 alphanumerics, or 18 whose suffix matches the first 15."""
    if not isinstance(text, str) or not ID_PATTERN.match(text):
        return False
    return len(text) == 15 or to_18(text[:15]) == text


def malformed_id_message(sobject: str, record_id: str) -> str:
    return f"{sobject} ID: id value of incorrect type: {record_id}"
