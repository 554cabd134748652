"""Running order queries and turning their answers into ``OrderBundle`` values.

Theory of operation: ``OrderReader.bundles(soql)`` runs one query and yields a bundle
per Order, following ``nextRecordsUrl`` at the top level lazily (one page in memory at
a time) and, inside each Order, the ``OrderItems`` child result's own
``nextRecordsUrl`` until that child result is ``done`` (``query_more`` with
``identifier_is_url=True``), so every item is read whatever the batch sizes.

Flattening makes a bundle look exactly like the snapshot format: the order dict
without ``attributes`` and without the nested ``Account`` / ``Contract`` /
``OrderItems``; the Account and Contract as their own dicts; items as plain dicts
(sorted by Id) without their nested ``PricebookEntry`` / ``Product2``, which become the
``pricebook_entries`` and ``products`` maps keyed by Id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.errors import TerminalError

ORDER_RELATIONSHIPS = ("Account", "Contract", "OrderItems")
ITEM_RELATIONSHIPS = ("PricebookEntry", "Product2")
QUERIES_PER_CALL = 5
"""Queries whose first pages ``bundles_many`` reads in one call (Salesforce's limit of
query subrequests in a composite call)."""
MAX_PAGES = 1_000_000
"""A guard against an org that keeps answering ``done: false``."""


class QueryRunner(Protocol):
    def query(self, soql: str) -> dict[str, Any]: ...

    def query_many(self, soqls: Sequence[str]) -> list[dict[str, Any]]: ...

    def query_more(self, next_records_url: str) -> dict[str, Any]: ...


def plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record's own fields: ``attributes`` dropped."""
    return {key: value for key, value in record.items() if key != "attributes"}


class OrderReader:
    def __init__(self, runner: QueryRunner) -> None:
        self._runner = runner

    def records(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every top-level record of ``soql``, page after page."""
        yield from self._pages(self._runner.query(soql))

    def bundles_many(self, soqls: Sequence[str]) -> Iterator[OrderBundle]:
        """The bundles of several queries, their first pages read in one call
        (``query_many``), further pages one call each."""
        for start in range(0, len(soqls), QUERIES_PER_CALL):
            for result in self._runner.query_many(soqls[start:start + QUERIES_PER_CALL]):
                for record in self._pages(result):
                    yield self.bundle(record)

    def bundles_of(self, result: dict[str, Any]) -> Iterator[OrderBundle]:
        """The bundles of a query whose first answer is at hand (from ``query_many``),
        further pages one call each."""
        for record in self._pages(result):
            yield self.bundle(record)

    def _pages(self, result: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for _ in range(MAX_PAGES):
            yield from result["records"]
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            result = self._runner.query_more(str(next_url))
        raise TerminalError("Salesforce kept paging a query past any sensible size")

    def bundles(self, soql: str) -> Iterator[OrderBundle]:
        for record in self.records(soql):
            yield self.bundle(record)

    def bundle(self, record: Mapping[str, Any]) -> OrderBundle:
        order = {
            key: value
            for key, value in record.items()
            if key != "attributes" and key not in ORDER_RELATIONSHIPS
        }
        entries: dict[str, dict[str, Any]] = {}
        products: dict[str, dict[str, Any]] = {}
        items: list[dict[str, Any]] = []
        for raw in self._child_records(record.get("OrderItems")):
            item = {
                key: value
                for key, value in raw.items()
                if key != "attributes" and key not in ITEM_RELATIONSHIPS
            }
            _collect(raw.get("PricebookEntry"), entries)
            _collect(raw.get("Product2"), products)
            items.append(item)
        items.sort(key=lambda item: str(item.get("Id") or ""))
        return OrderBundle(
            order=order,
            items=tuple(items),
            account=_parent(record.get("Account")),
            contract=_parent(record.get("Contract")),
            pricebook_entries=entries,
            products=products,
        )

    def _child_records(self, child: Any) -> Iterator[Mapping[str, Any]]:
        if not isinstance(child, Mapping):
            return
        for _ in range(MAX_PAGES):
            yield from child.get("records") or []
            next_url = child.get("nextRecordsUrl")
            if child.get("done", True) or not next_url:
                return
            child = self._runner.query_more(str(next_url))
        raise TerminalError("Salesforce kept paging an order's items past any sensible size")


def _parent(value: Any) -> dict[str, Any] | None:
    return plain(value) if isinstance(value, Mapping) else None


def _collect(value: Any, into: dict[str, dict[str, Any]]) -> None:
    if isinstance(value, Mapping) and value.get("Id"):
        into[str(value["Id"])] = plain(value)
