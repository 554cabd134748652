"""The JSON preview written as it is planned: memory bounded by a page, not by the org.

Theory of operation: ``write_preview_json`` runs the engine's own dry-run (the one
planning path) without keeping its plans; the engine hands each finished page to
``on_page``, whose plans are rendered at once (``core.render.plan_json``, the entitlement
features of each phase from a ``catalog.features.FeatureLookup`` of that page's
bundles) and written out, then dropped. The text is exactly what rendering the whole
document at the end gives (``{"orders": [...], "as_of": ...}``, indent 2), so a preview
of 100,000 orders needs the memory of one page plus the report's one small line per
order. Orders come out in the order asked; an order the source does not have, or that
is not activated, is shown as not found, as in the whole-document preview.

Cost: the snapshot or the first pages are the only large objects, so once the source
is open the preview keeps the garbage collector off them while it runs (``gc.freeze``,
undone at the end): the collector then scans only what planning makes, and the
per-order cost stays flat as the org grows instead of rising with every full
collection over the loaded records. Planning makes and drops many small objects, nearly
all freed by their reference counts, so the collector also runs less often meanwhile
(``COLLECT_EVERY`` new objects instead of Python's 700; restored at the end).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from math import isfinite
from typing import Any, TextIO

from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.models import OrderBundle, OrderPlan, PriceCatalog
from sf_stripe_sync.core.plan import not_found_plan
from sf_stripe_sync.core.render import display_names, plan_json
from sf_stripe_sync.ports import BillingGateway, OrderSource
from sf_stripe_sync.run_report import OrderOutcome

_NEWLINES = tuple("\n" + "  " * depth for depth in range(32))
COLLECT_EVERY = (20_000, 10, 10)
"""``gc.set_threshold`` while the preview runs (a few per cent of its CPU time)."""


_KEYS: dict[str, str] = {}
"""A dict key's text with its ``": "`` (the preview's few hundred keys, written each time)."""


def _key(key: str) -> str:
    text = _KEYS.get(key)
    if text is None:
        text = encode_basestring(key) + ": "
        if len(_KEYS) < 4096:
            _KEYS[key] = text
    return text


class _Unusual(Exception):
    """A value ``_emit`` does not lay out itself (``json.dumps`` does it instead)."""


def _emit(value: Any, depth: int, out: list[str]) -> None:
    """Append ``value`` laid out as ``json.dumps(value, indent=2, ensure_ascii=False)``
    does at nesting ``depth`` (the standard library's indented encoder is its pure
    Python one, several times slower than this for the preview's plain values)."""
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif value is None or value is True or value is False:
        out.append("null" if value is None else "true" if value else "false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and isfinite(value):
        out.append(float.__repr__(value))
    elif (kind is dict or kind is list) and depth + 1 < len(_NEWLINES):
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        inner = _NEWLINES[depth + 1]
        separator = ("{" if kind is dict else "[") + inner
        for key in value:
            out.append(separator)
            if kind is dict:
                if type(key) is not str:
                    raise _Unusual
                out.append(_KEYS.get(key) or _key(key))
                child = value[key]
            else:
                child = key
            # The commonest values (strings, null, whole numbers) without a call.
            if type(child) is str:
                out.append(encode_basestring(child))
            elif child is None:
                out.append("null")
            elif type(child) is int:
                out.append(int.__repr__(child))
            else:
                _emit(child, depth + 1, out)
            separator = "," + inner
        out.append(_NEWLINES[depth] + ("}" if kind is dict else "]"))
    else:
        raise _Unusual


def indented_json(value: Any, depth: int = 0) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, its lines after the first
    indented by ``depth`` more levels: the same text, faster for plain values."""
    out: list[str] = []
    try:
        _emit(value, depth, out)
    except _Unusual:
        return json.dumps(value, indent=2, ensure_ascii=False).replace(
            "\n", _NEWLINES[depth])
    return "".join(out)


class _JsonOrders:
    """Writes ``{"orders": [ ... ], "as_of": ...}`` one order at a time, as
    ``json.dumps(document, indent=2)`` would lay it out."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def add(self, order: dict[str, Any]) -> None:
        text = indented_json(order, 2)
        self.out.write(("{\n  \"orders\": [\n    " if self.count == 0 else ",\n    ") + text)
        self.count += 1

    def close(self, as_of: datetime) -> None:
        head = "{\n  \"orders\": []" if self.count == 0 else "\n  ]"
        self.out.write(f"{head},\n  \"as_of\": {json.dumps(iso_z(as_of))}\n}}\n")


def _page_plans(page: list[OrderBundle], outcomes: Sequence[OrderOutcome | None],
                default_account: str) -> list[OrderPlan]:
    return [outcome.plan if outcome is not None and outcome.plan is not None
            else not_found_plan(bundle.order_id, stripe_account=default_account)
            for bundle, outcome in zip(page, outcomes, strict=True)]


def _covered(source: OrderSource, page: list[OrderBundle],
             plans: list[OrderPlan]) -> list[OrderBundle]:
    """The page's bundles and those of the other orders its plans cover (a contract's
    orders in other pages), whose items the phases show."""
    have = {b.order_id for b in page}
    others = sorted({i for p in plans for i in p.covers_order_ids} - have)
    return [*page, *source.orders_by_id(others)] if others else list(page)


def _features(bundles: list[OrderBundle], plans: list[OrderPlan],
              features_field: str) -> dict[str, list[list[str]]]:
    """Per order, per phase: the feature lookup keys its items' products carry."""
    from sf_stripe_sync.catalog.features import FeatureLookup

    scheduled = [p for p in plans if p.schedule is not None and p.schedule.phases]
    if not scheduled:
        return {}
    lookup = FeatureLookup(features_field).add(bundles)
    return {p.order_id: lookup.keys_for(p) for p in scheduled}


def write_preview_json(
    source: OrderSource,
    order_ids: Sequence[str],
    settings: Settings,
    as_of: datetime,
    out: TextIO,
    *,
    gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None = None,
    prices: PriceCatalog | None = None,
) -> bool:
    """Plan the asked orders (every activated one when none) and write the preview JSON
    to ``out`` page by page; True when any previewed order has errors. ``prices``: the
    price facts to bill with when no gateway reads them (``preview --stripe-catalog``)."""
    gc.collect()
    gc.freeze()  # the loaded source is not garbage: keep the collector off it meanwhile
    thresholds = gc.get_threshold()
    gc.set_threshold(*COLLECT_EVERY)
    try:
        return _write(source, order_ids, settings, as_of, out, gateway_for, prices)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _write(
    source: OrderSource, order_ids: Sequence[str], settings: Settings, as_of: datetime,
    out: TextIO, gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None,
    prices: PriceCatalog | None = None,
) -> bool:
    from sf_stripe_sync.engine import Engine, RunOptions
    from sf_stripe_sync.engine_settings import EngineSettings

    wanted = list(dict.fromkeys(order_ids)) if order_ids else source.activated_order_ids()
    engine = Engine(settings=EngineSettings.of(settings), source=source, writer=None,
                    gateway_for=gateway_for, store=None, clock=lambda: as_of, source_name="preview",
                    price_catalog=prices)
    writer = _JsonOrders(out)
    errors = False

    def on_page(page: list[OrderBundle], outcomes: Sequence[OrderOutcome | None]) -> None:
        nonlocal errors
        plans = _page_plans(page, outcomes, settings.default_stripe_account)
        bundles = _covered(source, page, plans)
        labels = display_names(bundles, fields=settings.fields)
        features = _features(bundles, plans, settings.catalog.features_field)
        for plan in plans:
            errors = errors or bool(plan.errors)
            order = plan_json(plan, labels)
            for phase, keys in zip(order.get("phases", []), features.get(plan.order_id, ()),
                                   strict=False):
                phase["features"] = keys
            writer.add(order)

    engine.on_page = on_page
    engine.run(RunOptions(order_ids=wanted, dry_run=True, as_of=as_of, mode="preview",
                          keep_plans=False))
    writer.close(as_of)
    return errors
