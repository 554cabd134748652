"""Money as people read it: ``$1,234.50 / month``, ``¥1,000``, ``KWD 1.250``.

Theory of operation: amounts stay integer minor units everywhere; only the text shown
to people formats them, with the currency's own exponent (``core.money``), thousands
grouped by commas, and a symbol for the currencies whose symbol is unambiguous (else the
ISO code before the amount). ``totals_by_currency`` sums what the previewed schedules
bill per currency, counting each contract's schedule once (several orders of one
contract preview the same schedule) and open-ended ones apart, since they have no total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sf_stripe_sync.core.models import OneTimeItem, OperationKind, OrderPlan, PhaseItem
from sf_stripe_sync.core.money import currency_exponent

SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "inr": "₹", "krw": "₩"}
INTERVALS = {"day": "day", "week": "week", "month": "month", "year": "year"}
BILLED = frozenset({OperationKind.CREATE, OperationKind.AMEND, OperationKind.REPLACE,
                    OperationKind.NOOP})


def format_money(amount: int | None, currency: str | None) -> str:
    """``123450, 'usd'`` -> ``$1,234.50``; unknown amount -> ``?``."""
    if amount is None or currency is None:
        return "?"
    code = currency.lower()
    exponent = currency_exponent(code)
    if exponent is None:
        return f"{amount} {code.upper()} minor units"
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), 10 ** exponent)
    text = f"{whole:,}" + (f".{part:0{exponent}d}" if exponent else "")
    symbol = SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code.upper()} {text}"


def per_interval(interval: str | None, count: int | None) -> str:
    """`` / month``, `` / 3 months``; empty when there is no interval."""
    if interval is None:
        return ""
    name = INTERVALS.get(interval, interval)
    return f" / {name}" if not count or count == 1 else f" / {count} {name}s"


def item_money(item: PhaseItem, currency: str) -> str:
    if item.metered:
        unit = format_money(item.unit_amount, currency) if item.unit_amount is not None else ""
        return "billed on usage" + (f" ({unit} a unit)" if unit else "")
    if item.amount is None:
        return ""
    text = format_money(item.amount, currency) + per_interval(item.interval,
                                                              item.interval_count)
    return text + (" (negotiated)" if item.custom_price is not None else "")


def once_money(item: OneTimeItem, currency: str) -> str:
    return format_money(item.amount, currency) + " once" if item.amount is not None else "once"


@dataclass
class CurrencyTotal:
    currency: str
    total: int = 0
    schedules: int = 0
    open_ended: int = 0
    unknown: int = 0


def totals_by_currency(plans: Sequence[OrderPlan]) -> list[CurrencyTotal]:
    """Per currency: the sum of the bounded schedules' billing totals (each contract's
    schedule once), and how many schedules are open-ended or of unknown amount."""
    last: dict[tuple[str, str], OrderPlan] = {}
    for plan in plans:
        if plan.operation in BILLED and plan.schedule is not None and plan.currency:
            last[(plan.stripe_account, plan.contract_key)] = plan
    totals: dict[str, CurrencyTotal] = {}
    for plan in last.values():
        assert plan.currency is not None
        entry = totals.setdefault(plan.currency, CurrencyTotal(plan.currency))
        entry.schedules += 1
        if plan.schedule is not None and plan.schedule.end is None:
            entry.open_ended += 1
        elif plan.billing_total is None:
            entry.unknown += 1
        else:
            entry.total += plan.billing_total
    return [totals[c] for c in sorted(totals)]


def totals_text(total: CurrencyTotal) -> str:
    text = f"{total.currency.upper()} {format_money(total.total, total.currency)}"
    text += f" over {total.schedules} schedule{'s' if total.schedules != 1 else ''}"
    extra = [f"{total.open_ended} open-ended"] if total.open_ended else []
    extra += [f"{total.unknown} of unknown amount"] if total.unknown else []
    return text + (f" ({', '.join(extra)} not counted)" if extra else "")


def order_money_text(plan: OrderPlan) -> str:
    """``billing total $1,234.00 · Salesforce total $1,200.00`` (what is known)."""
    parts: list[str] = []
    if plan.schedule is not None and plan.schedule.end is None:
        parts.append("open-ended: no billing total")
    elif plan.billing_total is not None:
        parts.append(f"billing total {format_money(plan.billing_total, plan.currency)}")
    if plan.salesforce_total is not None:
        parts.append(f"Salesforce total {format_money(plan.salesforce_total, plan.currency)}")
    return " · ".join(parts)
