"""Checking raw Salesforce values while an order is read, every problem kept.

Theory of operation (DESIGN 2): reading never raises on bad data. ``RecordCheck``
collects one order's ``OrderIssue`` s (each naming the record and field) while
``core.normalize`` and ``core.order_lines`` read its records, so *all* problems are
reported at once; its helpers read a date inside the accepted window and a whole
number. ``mapped_metadata`` copies the configured fields to Stripe metadata, fitted to
Stripe's 500 characters (or refused, per ``rules.metadata_overflow``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sf_stripe_sync.core.dates import parse_sf_date_or_datetime
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.limits import METADATA_VALUE_MAX, fit_metadata_value
from sf_stripe_sync.core.metadata_keys import freeze_metadata
from sf_stripe_sync.core.money import decimal_from_json
from sf_stripe_sync.core.rules import SyncRules


def text(value: object) -> str | None:
    """A non-empty string value, or None for null / blank."""
    if value is None:
        return None
    stripped = str(value).strip()
    return stripped or None


class RecordCheck:
    """Collects the issues of one order while its records are read."""

    def __init__(self, order_id: str, window: tuple[date, date] | None = None) -> None:
        self.order_id = order_id
        self.issues: list[OrderIssue] = []
        self.window = window

    def add(
        self,
        code: IssueCode,
        message: str,
        *,
        item_id: str | None = None,
        record_ids: tuple[str, ...] = (),
        field: str | None = None,
    ) -> None:
        self.issues.append(
            OrderIssue(
                code=code,
                message=message,
                order_id=self.order_id,
                order_item_ids=(item_id,) if item_id else (),
                record_ids=record_ids,
                field=field,
            )
        )

    def date(
        self, record: Mapping[str, Any], field: str, where: str, item_id: str | None = None
    ) -> tuple[datetime | None, bool]:
        """(parsed value or None, ok). A blank field is ``(None, True)``."""
        raw = record.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, True
        try:
            parsed = parse_sf_date_or_datetime(raw)
        except ValueError:
            self.add(IssueCode.INVALID_DATES, f"{where}: {field} is not a date ({raw!r})",
                     item_id=item_id, field=field)
            return None, False
        if self.window and not self.window[0] <= parsed.date() < self.window[1]:
            self.add(IssueCode.INVALID_DATES,
                     f"{where}: {field} {parsed.date()} is outside the accepted dates "
                     f"{self.window[0]} to {self.window[1]} (rules.service_dates_from, "
                     "rules.service_dates_until)", item_id=item_id, field=field)
            return None, False
        return parsed, True

    def whole_number(self, raw: object) -> int | None:
        """A whole number (2.0 is 2), else None."""
        if type(raw) is int:
            return raw
        if type(raw) is float and raw.is_integer() and abs(raw) < 2 ** 53:
            return int(raw)  # exactly what its decimal text gives, below 2**53
        if raw is None or isinstance(raw, bool):
            return None
        try:
            value = decimal_from_json(raw)
        except ValueError:
            return None
        if value != value.to_integral_value():
            return None
        return int(value)


def mapped_metadata(record: Mapping[str, Any], rules: SyncRules, check: RecordCheck, where: str,
              item_id: str | None = None) -> dict[str, str]:
    """The mapped fields, each value fitted to Stripe's 500 characters (or refused)."""
    values = freeze_metadata({key: record.get(field) for field, key in rules.metadata_map.items()
                              if field in record})
    fields = {key: field for field, key in rules.metadata_map.items()}
    for key, value in values.items():
        if len(value) <= METADATA_VALUE_MAX:
            continue
        if rules.metadata_overflow == "refuse":
            check.add(IssueCode.INVALID_RECORD,
                      f"{where}: {fields[key]} is {len(value)} characters; Stripe metadata "
                      f"({key}) holds at most {METADATA_VALUE_MAX}", item_id=item_id,
                      field=fields[key])
        values[key] = fit_metadata_value(value)
    return values
