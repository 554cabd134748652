"""The HTML preview: self-contained, escaped, and drawn to a shared time axis."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import (
    DesiredSchedule,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.render_html import render_html

USD = PhaseProperties(currency="usd")


def d(month: int, year: int = 2027) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def plan(order_id: str, bounds: list[tuple[datetime, datetime | None]], *,
         issues: tuple[OrderIssue, ...] = ()) -> OrderPlan:
    phases = tuple(
        Phase(start=start, end=end, properties=USD,
              items=(PhaseItem(price="price_A", quantity=1, order_item_ids=("802A",)),))
        for start, end in bounds
    )
    behavior = "release" if bounds and bounds[-1][1] is None else "cancel"
    return OrderPlan(
        order_id=order_id, contract_key=order_id, stripe_account="default",
        operation=OperationKind.FAIL if issues else OperationKind.CREATE, account_id="001A",
        schedule=DesiredSchedule(phases=phases, end_behavior=behavior) if phases else None,
        issues=issues,
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.bars: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs
        found = dict(attrs)
        if tag == "div" and "bar" in (found.get("class") or "").split():
            self.bars.append(found)


def parse(page: str) -> _Collector:
    collector = _Collector()
    collector.feed(page)
    return collector


def bar_geometry(bar: dict[str, str | None]) -> tuple[float, float]:
    style = bar["style"] or ""
    left = re.search(r"left:([\d.]+)%", style)
    width = re.search(r"width:([\d.]+)%", style)
    assert left and width
    return float(left.group(1)), float(width.group(1))


def test_page_is_self_contained() -> None:
    page = render_html([plan("801A", [(d(1), d(6)), (d(6), None)])])
    collected = parse(page)
    assert "script" not in collected.tags and "link" not in collected.tags
    assert "img" not in collected.tags
    assert not any(name in {"src", "href"} for name, _ in collected.attrs)
    assert "http://" not in page and "https://" not in page
    assert "<style>" in page


def test_every_name_is_escaped_and_unicode_survives() -> None:
    labels = {"801A": "Stark & Sons <Holdings>", "price_A": "プレミアム <script>alert(1)</script>",
              "001A": "Müller \"Gärten\""}
    page = render_html([plan("801A", [(d(1), d(6))])], labels)
    assert "<script>" not in page and "<Holdings>" not in page
    assert "Stark &amp; Sons &lt;Holdings&gt;" in page
    assert "プレミアム &lt;script&gt;" in page
    assert "Müller &quot;Gärten&quot;" in page


def test_error_messages_are_escaped_and_highlighted() -> None:
    problem = OrderIssue(code=IssueCode.GAP, message="gap <between> items",
                         order_item_ids=("802A", "802B"))
    page = render_html([plan("801G", [], issues=(problem,))])
    assert '<li class="error"><strong>gap</strong>: gap &lt;between&gt; items' in page
    assert "802A, 802B" in page
    assert 'class="failed"' in page


def test_phase_bars_are_proportional_on_an_axis_shared_by_all_orders() -> None:
    first = plan("801A", [(d(1), d(7)), (d(7), d(1, 2028))])
    second = plan("801B", [(d(4), d(10))])
    bars = parse(render_html([first, second])).bars
    geometry = [bar_geometry(b) for b in bars]
    year = (d(1, 2028) - d(1)).days
    expected = [
        (0.0, 100 * (d(7) - d(1)).days / year),
        (100 * (d(7) - d(1)).days / year, 100 * (d(1, 2028) - d(7)).days / year),
        (100 * (d(4) - d(1)).days / year, 100 * (d(10) - d(4)).days / year),
    ]
    for (left, width), (want_left, want_width) in zip(geometry, expected, strict=True):
        assert abs(left - want_left) < 0.01 and abs(width - want_width) < 0.01


def test_open_phase_runs_to_the_right_edge() -> None:
    bars = parse(render_html([plan("801A", [(d(1), d(6)), (d(6), None)])])).bars
    left, width = bar_geometry(bars[-1])
    assert "open" in (bars[-1]["class"] or "").split()
    assert abs(left + width - 100.0) < 0.01
