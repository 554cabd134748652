"""Builders for the core's tests: order lines and phases from plain date strings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sf_stripe_sync.core.models import ConsolidationResult, OrderLine, PhaseProperties

USD = PhaseProperties(currency="usd")
ORDER_ID = "801O"


def day(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


def line(item_id: str, price: str, start: str, end: str | None, quantity: int = 1,
         **extra: Any) -> OrderLine:
    begin = day(start)
    assert begin is not None
    return OrderLine(id=item_id, order_id=ORDER_ID, price_id=price, quantity=quantity,
                     start=begin, end=day(end), properties=extra.pop("properties", USD),
                     **extra)


def shape(result: ConsolidationResult) -> list[tuple[Any, ...]]:
    """Phases as (start, end, [(price, quantity, ids)]) with plain date strings."""
    assert result.schedule is not None, result.issues
    return [
        (str(p.start.date()), str(p.end.date()) if p.end else None,
         [(i.price, i.quantity, i.order_item_ids) for i in p.items])
        for p in result.schedule.phases
    ]
