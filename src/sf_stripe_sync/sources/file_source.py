"""An ``OrderSource`` over an org snapshot (DESIGN 3): the offline preview's input.

Theory of operation: the snapshot is read once into per-sObject indexes (records by Id,
items by OrderId, Orders by ContractId). Every query of ``ports.OrderSource`` is answered
from those indexes and returns raw ``OrderBundle`` values, exactly as a live org would,
so the rest of the pipeline cannot tell the difference. Nothing is normalized here: bad
dates or quantities travel on to ``core.normalize`` which reports them as issues. The
last bundles built are kept (``BUNDLES_KEPT``) and handed out again as the same objects:
a page's orders are read again by its contract prefetch, and the reader then knows the
bundle it already normalized at a glance.

An Order counts as activated when its ``Status`` (or ``StatusCode``) equals
``rules.activated_status``. ``changed_since`` also returns Orders in the configured
cancel status, because a cancellation is a change the engine must act on. The change
stamp of an Order is the latest ``LastModifiedDate`` / ``SystemModstamp`` of the Order
and of its items; a stamp that cannot be parsed counts as changed (never lose an order).

Loading problems (missing file, bad JSON, wrong shapes) raise ``UsageError`` with one
line naming the file. OrderItems whose ``OrderId`` names no Order are kept aside and
exposed by ``orphan_items()`` so callers can report them.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dateutil.parser import isoparse

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import UsageError

SNAPSHOT_OBJECTS = ("Account", "Contract", "Order", "OrderItem", "PricebookEntry", "Product2")
Record = dict[str, Any]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BUNDLES_KEPT = 512
"""Bundles kept once built: a page's orders are read again by its contract prefetch."""


def load_snapshot(path_or_dict: str | Path | Mapping[str, Any]) -> dict[str, list[Record]]:
    """Read and shape-check a snapshot; every problem is one ``UsageError`` line."""
    if isinstance(path_or_dict, Mapping):
        where = "snapshot"
        data: Any = path_or_dict
    else:
        path = Path(path_or_dict)
        where = f"snapshot file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise UsageError(f"{where} not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where} cannot be read: {exc}") from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"{where} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from exc
    if not isinstance(data, Mapping):
        raise UsageError(f"{where} must hold a JSON object keyed by sObject name")
    shaped: dict[str, list[Record]] = {}
    for name in SNAPSHOT_OBJECTS:
        records = data.get(name, [])
        if records is None:
            records = []
        if not isinstance(records, list):
            raise UsageError(f"{where}: {name} must be a list of records")
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise UsageError(f"{where}: {name}[{index}] is not a JSON object")
            if not isinstance(record.get("Id"), str) or not record["Id"]:
                raise UsageError(f"{where}: {name}[{index}] has no Id")
        shaped[name] = [dict(r) for r in records]
    return shaped


def _stamp(record: Mapping[str, Any]) -> datetime | None:
    """The later of LastModifiedDate / SystemModstamp; None when neither parses."""
    found: list[datetime] = []
    for field in ("LastModifiedDate", "SystemModstamp"):
        value = record.get(field)
        if not isinstance(value, str):
            continue
        try:
            parsed = isoparse(value)
        except ValueError:
            return None
        if parsed.tzinfo is None:
            return None
        found.append(parsed)
    return max(found) if found else None


class FileOrderSource:
    """``ports.OrderSource`` over a snapshot file (or an already-loaded dict)."""

    def __init__(
        self,
        path_or_dict: str | Path | Mapping[str, Any],
        *,
        fields: FieldMap,
        rules: SyncRules,
    ) -> None:
        self.fields = fields
        self.rules = rules
        snapshot = load_snapshot(path_or_dict)
        self._records: dict[str, dict[str, Record]] = {
            name: {r["Id"]: r for r in records} for name, records in snapshot.items()
        }
        self._orders = self._records["Order"]
        self._items_by_order: dict[str, list[Record]] = defaultdict(list)
        self._orphans: list[Record] = []
        self._orders_by_contract: dict[str, list[Record]] = defaultdict(list)
        for order in self._orders.values():
            contract_id = order.get("ContractId")
            if isinstance(contract_id, str) and contract_id:
                self._orders_by_contract[contract_id].append(order)
        for item in snapshot["OrderItem"]:
            order_id = item.get("OrderId")
            if isinstance(order_id, str) and order_id in self._orders:
                self._items_by_order[order_id].append(item)
            else:
                self._orphans.append(item)
        self._built: OrderedDict[str, OrderBundle] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ queries

    def records(self, sobject: str) -> list[Record]:
        """Every record of one sObject, in file order (copies)."""
        return [dict(r) for r in self._records.get(sobject, {}).values()]

    def orphan_items(self) -> tuple[Record, ...]:
        """OrderItems whose OrderId names no Order in the snapshot."""
        return tuple(dict(r) for r in self._orphans)

    def is_activated(self, order: Mapping[str, Any]) -> bool:
        wanted = self.rules.activated_status
        return order.get("Status") == wanted or order.get("StatusCode") == wanted

    def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderBundle]:
        """The given Orders (any status), in the order asked; unknown ids are left out."""
        seen: set[str] = set()
        bundles: list[OrderBundle] = []
        for order_id in order_ids:
            if order_id in self._orders and order_id not in seen:
                seen.add(order_id)
                bundles.append(self._bundle(self._orders[order_id]))
        return bundles

    def activated_order_ids(self) -> list[str]:
        return [oid for oid, order in self._orders.items() if self.is_activated(order)]

    def changed_since(
        self, watermark: datetime | None, page_size: int = 200
    ) -> Iterator[list[OrderBundle]]:
        """Pages of activated (or cancelled) Orders whose order or items changed after
        ``watermark``, oldest change first, ties broken by Id."""
        if page_size < 1:
            raise UsageError("page_size must be at least 1")
        if watermark is not None and watermark.tzinfo is None:
            raise UsageError("watermark must be timezone-aware")
        candidates: list[tuple[datetime | None, str]] = []
        for order_id, order in self._orders.items():
            if not (self.is_activated(order) or order.get("Status") == self.rules.cancel_status):
                continue
            stamp = self.change_stamp(order_id)
            if watermark is None or stamp is None or stamp > watermark:
                candidates.append((stamp, order_id))
        candidates.sort(key=lambda c: (c[0] is not None, c[0] or _EPOCH, c[1]))
        for start in range(0, len(candidates), page_size):
            page = candidates[start : start + page_size]
            yield [self._bundle(self._orders[order_id]) for _, order_id in page]

    def change_stamp(self, order_id: str) -> datetime | None:
        """Latest modification of the Order or any of its items; None if unreadable."""
        stamps = [_stamp(self._orders[order_id])]
        stamps += [_stamp(item) for item in self._items_by_order.get(order_id, [])]
        if any(s is None for s in stamps):
            return None
        return max(s for s in stamps if s is not None)

    def contract_orders(self, contract_id: str) -> list[OrderBundle]:
        """Activated Orders on the Contract, by EffectiveDate then Id."""
        on_contract = [o for o in self._orders_by_contract.get(contract_id, ())
                       if self.is_activated(o)]
        on_contract.sort(key=lambda o: (str(o.get("EffectiveDate") or ""), o["Id"]))
        return [self._bundle(o) for o in on_contract]

    def contract_orders_many(self, contract_ids: Sequence[str]) -> dict[str, list[OrderBundle]]:
        """``contract_orders`` for each id (the batched form the engine prefetches with)."""
        return {str(c): self.contract_orders(str(c)) for c in dict.fromkeys(contract_ids)}

    # ------------------------------------------------------------------ bundles

    def _bundle(self, order: Record) -> OrderBundle:
        """The order's bundle; the same object again while it is among the last
        ``BUNDLES_KEPT`` built (the snapshot does not change once read)."""
        with self._lock:
            built = self._built.get(order["Id"])
        if built is not None:
            return built
        built = self._build(order)
        with self._lock:
            self._built[order["Id"]] = built
            while len(self._built) > BUNDLES_KEPT:
                self._built.popitem(last=False)
        return built

    def _build(self, order: Record) -> OrderBundle:
        items = self._items_by_order.get(order["Id"], [])
        entries = self._records["PricebookEntry"]
        products = self._records["Product2"]
        entry_ids = {i.get("PricebookEntryId") for i in items} - {None}
        used_entries = {eid: dict(entries[eid]) for eid in entry_ids if eid in entries}
        product_ids = {i.get("Product2Id") for i in items}
        product_ids |= {e.get("Product2Id") for e in used_entries.values()}
        used_products = {pid: dict(products[pid]) for pid in product_ids if pid in products}
        account = self._records["Account"].get(str(order.get("AccountId")))
        contract = self._records["Contract"].get(str(order.get("ContractId")))
        # Built from the snapshot's own checked records: no validation pass (a preview
        # builds one bundle per order and contract read).
        return OrderBundle.model_construct(
            order=dict(order),
            items=tuple(dict(i) for i in items),
            account=dict(account) if account is not None else None,
            contract=dict(contract) if contract is not None else None,
            pricebook_entries=used_entries,
            products=used_products,
        )
