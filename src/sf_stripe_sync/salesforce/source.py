"""``ports.OrderSource`` over a real (or local) Salesforce org.

Theory of operation: the first read resolves which fields to select
(``describe.resolve_fields``: the sObjects are described together in one
``composite/batch`` call, cached on the connection; missing required custom fields fail
here with a ``ConfigError``). Every read is then
one order query (``soql``) run by ``OrderReader``:

* ``orders_by_id``: chunks of 200 ids, answers returned in the order asked;
* ``activated_order_ids``: Ids only, every page followed;
* ``changed_since``: Orders whose status is the activated or the cancel status and that
  (or whose items) changed after the watermark, yielded as lists of ``page_size``
  bundles while the query pages are read, so memory stays bounded by a query page. Its
  two queries (the Order changed; an item changed) go in one ``composite`` call; the
  second's first answer is kept only when complete (one page, the usual case), else the
  query runs again when its turn comes, so no query cursor waits idle through the run
  (Salesforce drops an idle one);
* ``contract_orders``: the activated Orders on one Contract;
* ``contract_orders_many``: the same for many Contracts, one query per 200 Contracts,
  five such queries read in one ``composite`` call (one API call for up to 1,000
  Contracts; the engine prefetches the contracts of the pages it opens together with
  it instead of one query each).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import requests
from simple_salesforce.format import format_soql

from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.salesforce import soql
from sf_stripe_sync.salesforce.auth import SalesforceConnection, connect
from sf_stripe_sync.salesforce.describe import FieldSelection, resolve_fields
from sf_stripe_sync.salesforce.reader import OrderReader


class SalesforceOrderSource:
    def __init__(
        self,
        conn: SalesforceConnection,
        *,
        fields: FieldMap | None = None,
        rules: SyncRules | None = None,
        page_size: int = 200,
        extra_fields: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.conn = conn
        self.fields = fields or FieldMap()
        self.rules = rules or SyncRules()
        self.page_size = page_size
        self._extra_fields = extra_fields
        self._reader = OrderReader(conn)
        self._selection: FieldSelection | None = None

    @property
    def selection(self) -> FieldSelection:
        """The fields read from each sObject (resolved against the describe once)."""
        if self._selection is None:
            self._selection = resolve_fields(
                self.fields, self.rules, self.conn.fields_of, self._extra_fields
            )
        return self._selection

    def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderBundle]:
        found: dict[str, OrderBundle] = {}
        for chunk in soql.chunked(order_ids):
            query = soql.orders_by_ids_query(self.selection, chunk)
            for bundle in self._reader.bundles(query):
                found[bundle.order_id] = bundle
        return [found[i] for i in dict.fromkeys(order_ids) if i in found]

    def activated_order_ids(self) -> list[str]:
        query = soql.activated_ids_query(self.rules.activated_status)
        return [str(record["Id"]) for record in self._reader.records(query)]

    def changed_since(
        self, watermark: datetime | None, page_size: int = 200
    ) -> Iterator[list[OrderBundle]]:
        size = max(1, page_size)
        statuses = [self.rules.activated_status, self.rules.cancel_status]
        page: list[OrderBundle] = []
        queries = soql.changed_since_queries(self.selection, statuses, watermark)
        answers = self.conn.query_many(queries)
        for number, (query, answer) in enumerate(zip(queries, answers, strict=True)):
            whole = number == 0 or answer.get("done", True)
            bundles = self._reader.bundles_of(answer) if whole else self._reader.bundles(query)
            for bundle in bundles:
                page.append(bundle)
                if len(page) >= size:
                    yield page
                    page = []
        if page:
            yield page

    def contract_orders(self, contract_id: str) -> list[OrderBundle]:
        if not soql.is_record_id(contract_id):
            return []
        query = soql.contract_orders_query(
            self.selection, contract_id, self.rules.activated_status
        )
        return list(self._reader.bundles(query))

    def contract_orders_many(self, contract_ids: Sequence[str]) -> dict[str, list[OrderBundle]]:
        """Activated Orders per Contract (every asked id is a key, maybe with no orders)."""
        found: dict[str, list[OrderBundle]] = {str(c): [] for c in contract_ids}
        by_prefix = {key[:15]: key for key in found}
        queries = [format_soql(soql.order_select(self.selection)
                               + " WHERE ContractId IN {contracts} AND Status = {status}"
                               " ORDER BY ContractId, EffectiveDate, Id",
                               contracts=chunk, status=self.rules.activated_status)
                   for chunk in soql.chunked(contract_ids)]
        if queries:
            for bundle in self._reader.bundles_many(queries):
                contract = str(bundle.order.get("ContractId") or "")
                key = contract if contract in found else by_prefix.get(contract[:15])
                if key is not None:
                    found[key].append(bundle)
        return found


def open_source(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
) -> SalesforceOrderSource:
    """Log in as configured and return the source (used by ``preview --source salesforce``).

    The Product2 feature field is read too, where the org has it, so the preview can list
    each phase's entitlement features."""
    return SalesforceOrderSource(
        connect(settings, session=session, environ=environ),
        fields=settings.fields,
        rules=settings.rules,
        page_size=settings.page_size,
        extra_fields={"Product2": [settings.catalog.features_field]},
    )
