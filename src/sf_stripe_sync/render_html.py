"""The preview as one self-contained HTML page: timelines, phase tables, problems.

Theory of operation: every order gets a section with a timeline (its phases drawn as
bars whose left edge and width are proportional to time on an axis shared by every
order on the page, so orders can be compared by eye), the phase table, and its errors
and warnings. Open-ended phases run to the right edge with a fading end. The page has
inline CSS only: no scripts, no fonts, no images, no external address, so it can be
mailed or archived as is. Every piece of text from Salesforce or Stripe passes through
``html.escape`` (names may hold ``<``, ``&`` or any Unicode).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import OrderPlan, Phase
from sf_stripe_sync.core.money_text import order_money_text, totals_by_currency, totals_text
from sf_stripe_sync.core.render import (
    Labels,
    item_text,
    operation_counts,
    phase_table,
    shown_price,
    when_text,
)

OPEN_TAIL = timedelta(days=90)
MAX_TICKS = 12

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2933}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin:0 0 .5rem}
section{border:1px solid #d9e2ec;border-radius:8px;padding:1rem;margin:1rem 0}
section.failed{border-color:#e12d39}
.op{display:inline-block;padding:.1rem .5rem;border-radius:4px;background:#e3f8ff;
font-size:.85rem;margin-left:.5rem}
.op.fail{background:#ffe3e3;color:#8a041a}.op.skip,.op.noop{background:#f0f4f8}
.muted{color:#627d98;font-size:.9rem}
.axis,.timeline{position:relative;height:2.2rem;margin:.3rem 0}
.axis{height:1.2rem;border-bottom:1px solid #9fb3c8;font-size:.75rem;color:#627d98}
.tick{position:absolute;bottom:0;border-left:1px solid #bcccdc;padding-left:2px;height:100%}
.bar{position:absolute;top:.2rem;height:1.8rem;background:#2186eb;color:#fff;
border-radius:4px;overflow:hidden;white-space:nowrap;font-size:.75rem;line-height:1.8rem;
padding:0 .3rem;box-sizing:border-box;border-right:2px solid #fff}
.bar.alt{background:#0b69a3}
.bar.open{background:linear-gradient(90deg,#2186eb 70%,#bae3ff)}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:left;vertical-align:top}
ul.problems{padding-left:1.2rem}
td.money{text-align:right;white-space:nowrap}.totals{font-weight:600}
li.error{color:#8a041a;background:#ffe3e3;margin:.2rem 0;padding:.2rem}
li.warning{color:#8d2b0b;background:#fff3c4;margin:.2rem 0;padding:.2rem}
"""


def _axis_bounds(plans: Sequence[OrderPlan]) -> tuple[datetime, datetime] | None:
    phases = [p for plan in plans if plan.schedule is not None for p in plan.schedule.phases]
    if not phases:
        return None
    start = min(p.start for p in phases)
    ends = [p.end for p in phases if p.end is not None]
    latest_start = max(p.start for p in phases)
    end = max([*ends, latest_start])
    if any(p.end is None for p in phases) or end <= start:
        end = end + OPEN_TAIL
    return start, end


def _month_ticks(start: datetime, end: datetime) -> list[datetime]:
    ticks: list[datetime] = []
    cursor = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while cursor <= end:
        if cursor >= start:
            ticks.append(cursor)
        months = cursor.year * 12 + cursor.month  # zero-based month count of the next month
        cursor = cursor.replace(year=months // 12, month=months % 12 + 1)
    stride = max(1, -(-len(ticks) // MAX_TICKS))
    return ticks[::stride]


def _percent(at: datetime, bounds: tuple[datetime, datetime]) -> float:
    start, end = bounds
    span = (end - start).total_seconds()
    return max(0.0, min(100.0, 100.0 * (at - start).total_seconds() / span))


def _axis_html(bounds: tuple[datetime, datetime]) -> str:
    ticks = "".join(
        f'<span class="tick" style="left:{_percent(t, bounds):.3f}%">'
        f"{escape(t.strftime('%Y-%m'))}</span>"
        for t in _month_ticks(*bounds)
    )
    return f'<div class="axis">{ticks}</div>'


def _phase_label(index: int, phase: Phase, labels: Labels) -> str:
    items = ", ".join(item_text(i, labels) for i in phase.items)
    return f"{index}: {when_text(phase.start)} to {when_text(phase.end)}: {items}"


def _timeline_html(plan: OrderPlan, bounds: tuple[datetime, datetime], labels: Labels) -> str:
    if plan.schedule is None or not plan.schedule.phases:
        return ""
    bars: list[str] = []
    for index, phase in enumerate(plan.schedule.phases, start=1):
        left = _percent(phase.start, bounds)
        right = _percent(phase.end, bounds) if phase.end is not None else 100.0
        classes = ["bar"] + (["alt"] if index % 2 == 0 else []) + (
            ["open"] if phase.end is None else [])
        shown = [shown_price(i) for i in phase.items]
        short = ", ".join(f"{labels.get(p, p)} x{i.quantity}"
                          for p, i in zip(shown, phase.items, strict=True))
        bars.append(
            f'<div class="{" ".join(classes)}" style="left:{left:.3f}%;'
            f'width:{max(right - left, 0.5):.3f}%" '
            f'title="{escape(_phase_label(index, phase, labels))}">'
            f"{index}: {escape(short)}</div>"
        )
    return f'<div class="timeline">{"".join(bars)}</div>'


def _phase_table_html(plan: OrderPlan, labels: Labels) -> str:
    if plan.schedule is None or not plan.schedule.phases:
        return '<p class="muted">no phases</p>'
    model = phase_table(plan.schedule.phases, labels, html=True)
    rows: list[str] = []
    for phase in model.rows:
        items = "<br>".join(escape(line) for line in phase.items)
        money = "<br>".join(escape(line) for line in phase.amounts)
        cells = [phase.number, phase.start, phase.end]
        rows.append(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells)
            + f'<td>{items}</td><td class="money">{money}</td>'
            + "".join(f"<td>{escape(d)}</td>" for d in phase.details) + "</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in model.headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _issues_html(issues: Sequence[OrderIssue], kind: str) -> list[str]:
    out: list[str] = []
    for issue in issues:
        ids = f" ({', '.join(issue.order_item_ids)})" if issue.order_item_ids else ""
        out.append(f'<li class="{kind}"><strong>{escape(issue.code.value)}</strong>: '
                   f"{escape(issue.message)}{escape(ids)}</li>")
    return out


def _section_html(plan: OrderPlan, bounds: tuple[datetime, datetime] | None,
                  labels: Labels) -> str:
    op = plan.operation.value
    name = labels.get(plan.order_id)
    account = labels.get(plan.account_id or "", plan.account_id or "no account")
    heading = escape(plan.order_id) + (f" &middot; {escape(name)}" if name else "")
    details = [f"account {escape(account)}", f"contract {escape(plan.contract_key)}",
               f"Stripe account {escape(plan.stripe_account)}"]
    if plan.schedule is not None:
        details.append(f"end behavior {escape(plan.schedule.end_behavior)}")
    if plan.schedule_id:
        details.append(f"schedule {escape(plan.schedule_id)}")
    problems = _issues_html(plan.errors, "error") + _issues_html(plan.warnings, "warning")
    parts = [
        f'<section class="{"failed" if plan.errors else "ok"}" id="order-{escape(plan.order_id)}">',
        f'<h2>{heading}<span class="op {escape(op)}">{escape(op)}</span></h2>',
        f'<p class="muted">{" &middot; ".join(details)}</p>',
    ]
    money = order_money_text(plan)
    if money:
        parts.append(f'<p class="totals">{escape(money)}</p>')
    if bounds is not None and plan.schedule is not None and plan.schedule.phases:
        parts.append(_axis_html(bounds) + _timeline_html(plan, bounds, labels))
    parts.append(_phase_table_html(plan, labels))
    if problems:
        parts.append(f'<ul class="problems">{"".join(problems)}</ul>')
    parts.append("</section>")
    return "\n".join(parts)


def render_html(
    plans: Sequence[OrderPlan],
    labels: Labels | None = None,
    *,
    title: str = "sf-stripe-sync preview",
    as_of: datetime | None = None,
) -> str:
    """One self-contained HTML page for the plans."""
    names = labels or {}
    bounds = _axis_bounds(plans)
    counts = ", ".join(f"{escape(k)}: {v}" for k, v in operation_counts(plans).items())
    when = f" as of {escape(iso_z(as_of))}" if as_of is not None else ""
    failed = sum(1 for p in plans if p.errors)
    body = "\n".join(_section_html(p, bounds, names) for p in plans)
    totals = "".join(f"<li>{escape(totals_text(t))}</li>" for t in totals_by_currency(plans))
    totals_html = f'<ul class="totals">{totals}</ul>\n' if totals else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p class="muted">{len(plans)} orders{when} ({counts or "none"}); '
        f"{failed} with errors</p>\n{totals_html}{body}\n</body></html>\n"
    )
