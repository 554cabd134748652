"""The preview as a terminal table, drawn with rich onto a console the caller owns.

Theory of operation: per order a panel (title: order id, operation and name; subtitle:
account and end behavior; border colour: red with errors, yellow with warnings, else
green) holding the order's money line, its phase table, then its errors and warnings;
a line of totals per currency before the panels and a count per operation after them.
Every value shown comes from the pure text pieces of ``core.render`` (the HTML page
uses the same ones). All text goes into rich as ``Text`` values, never as markup, so a
name holding ``[brackets]`` is shown as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sf_stripe_sync.core.models import DriftChange, OrderPlan, Phase
from sf_stripe_sync.core.money_text import order_money_text, totals_by_currency, totals_text
from sf_stripe_sync.core.render import Labels, ids_suffix, operation_counts, phase_table


def render_table(
    plans: Sequence[OrderPlan], console: Console, labels: Labels | None = None
) -> None:
    """Per order a panel: phase table, then errors (red) and warnings (yellow)."""
    names = labels or {}
    for total in totals_by_currency(plans):
        console.print(Text(f"total billed: {totals_text(total)}", style="bold"))
    for plan in plans:
        console.print(_panel(plan, names))
    summary = ", ".join(f"{k}: {v}" for k, v in operation_counts(plans).items())
    console.print(Text(f"{len(plans)} orders ({summary})" if plans else "no orders"))


def _panel(plan: OrderPlan, names: Labels) -> Panel:
    phases = plan.schedule.phases if plan.schedule is not None else ()
    lines: list[Any] = [_phase_table(phases, names)] if phases else [
        Text("no phases", style="dim")]
    money = order_money_text(plan)
    if money:
        lines.insert(0, Text(money, style="bold"))
    lines += _problem_lines(plan)
    title = Text(f"{plan.order_id}  {plan.operation.value}")
    if plan.order_id in names:
        title.append(f"  {names[plan.order_id]}")
    subtitle_parts = [names.get(plan.account_id or "", plan.account_id or "no account")]
    if plan.schedule is not None:
        subtitle_parts.append(f"end: {plan.schedule.end_behavior}")
    border = "red" if plan.errors else ("yellow" if plan.warnings else "green")
    return Panel(Group(*lines), title=title, subtitle=Text(" | ".join(subtitle_parts)),
                 border_style=border)


def _phase_table(phases: Sequence[Phase], names: Labels) -> Table:
    model = phase_table(phases, names)
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in model.headers:
        table.add_column(column, no_wrap=column in ("#", "start", "end"))
    for phase in model.rows:
        what = phase.items + [""] * (len(phase.amounts) - len(phase.items))
        for row, (item, amount) in enumerate(zip(what, phase.amounts, strict=False)):
            first = row == 0
            cells = [Text(phase.number if first else ""),
                     Text(phase.start if first else ""),
                     Text(phase.end if first else ""),
                     Text(item), Text(amount, justify="right"),
                     *(Text(detail if first else "") for detail in phase.details)]
            table.add_row(*cells, end_section=row == len(phase.amounts) - 1)
    return table


def _problem_lines(plan: OrderPlan) -> list[Any]:
    lines: list[Any] = []
    for issue in plan.errors:
        lines.append(Text(f"error {issue.code.value}: {issue.message}" + ids_suffix(issue),
                          style="red"))
    for issue in plan.warnings:
        if issue.code.value == "drift" and plan.drift:
            lines.append(Text("warning drift: Stripe differs from Salesforce",
                              style="yellow"))
            lines.append(_drift_table(plan.drift))
            continue
        lines.append(Text(f"warning {issue.code.value}: {issue.message}" + ids_suffix(issue),
                          style="yellow"))
    return lines


def _drift_table(changes: Sequence[DriftChange]) -> Table:
    """Every drifted field: phase, field, Stripe's value, Salesforce's value."""
    table = Table(show_header=True, header_style="yellow", expand=False, box=None)
    for column in ("phase", "field", "Stripe has", "Salesforce wants"):
        table.add_column(column)
    for change in changes:
        table.add_row(Text(str(change.phase)), Text(change.field),
                      Text(change.stripe or "nothing"), Text(change.salesforce or "nothing"))
    return table
