"""Money as people read it, and the per-currency totals at the top of a preview."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sf_stripe_sync.core.models import (
    DesiredSchedule,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.core.money_text import format_money, per_interval, totals_by_currency

JAN = datetime(2027, 1, 1, tzinfo=UTC)
NEXT_JAN = datetime(2028, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (123450, "usd", "$1,234.50"), (1000, "jpy", "¥1,000"), (1250, "kwd", "KWD 1.250"),
    (-550, "usd", "-$5.50"), (5, "eur", "€0.05"), (None, "usd", "?"),
])
def test_amounts_use_the_currencys_own_digits_and_symbol(amount: int | None, currency: str,
                                                         text: str) -> None:
    assert format_money(amount, currency) == text


def test_intervals_read_as_a_rate() -> None:
    assert per_interval("month", 1) == " / month"
    assert per_interval("month", 3) == " / 3 months"
    assert per_interval(None, None) == ""


def _plan(order_id: str, contract: str, currency: str, total: int | None,
          end: datetime | None = NEXT_JAN,
          operation: OperationKind = OperationKind.CREATE) -> OrderPlan:
    phase = Phase(start=JAN, end=end, properties=PhaseProperties(currency=currency),
                  items=(PhaseItem(price="price_A", quantity=1),))
    return OrderPlan(order_id=order_id, contract_key=contract, operation=operation,
                     stripe_account="default", currency=currency, billing_total=total,
                     schedule=DesiredSchedule(phases=(phase,),
                                              end_behavior="cancel" if end else "release"))


def test_totals_count_each_contracts_schedule_once_per_currency() -> None:
    totals = totals_by_currency([
        _plan("801A", "800C", "usd", 1200), _plan("801B", "800C", "usd", 1200),
        _plan("801D", "801D", "usd", 300), _plan("801E", "801E", "usd", None, end=None),
        _plan("801J", "801J", "jpy", 5000),
        _plan("801F", "801F", "usd", 999, operation=OperationKind.SKIP),
    ])
    usd = next(t for t in totals if t.currency == "usd")
    jpy = next(t for t in totals if t.currency == "jpy")
    assert (usd.total, usd.schedules, usd.open_ended) == (1500, 3, 1)
    assert (jpy.total, jpy.schedules) == (5000, 1)
