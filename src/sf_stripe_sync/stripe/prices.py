"""Stripe prices for the engine: facts read once per run, custom prices made once ever.

Theory of operation (DESIGN 2, "Prices, amounts and charges"). ``PriceBook`` belongs
to one gateway (one Stripe account, one run) and sends its requests through the
account's ``session.StripeSession`` (pacing, retries, error translation, counting).

* ``facts(ids)``: the ``PriceFacts`` of each price, read once per run per price and
  cached (Stripe's price list cannot filter by id, so an uncached price costs one
  ``prices.retrieve``; a catalog has far fewer prices than orders have lines). A
  price Stripe does not have (``resource_missing``) is reported as missing, so the
  planner fails the line with ``missing_price``. Each price is read by one thread
  while the others that need it wait for that read: many workers starting at once
  read the catalog's prices side by side (one each), not one after another behind a
  lock, so a run's first plans wait for one read, not for the whole catalog.
* ``resolve(specs)``: the Stripe id of each ``CustomPrice``. Looked up by
  ``lookup_key`` first (``prices.list`` with up to 10 keys a request); a missing one
  is created with that lookup key, metadata leading back to Salesforce
  (``salesforce_pricebook_entry_id``, ``salesforce_custom_price = "true"``) and an
  idempotency key derived from the lookup key and account, so a retry, a rerun, another
  order or another host converges on the same Price. When another host created it
  first (Stripe refuses a taken lookup key), the key is listed again and that Price is
  used. An inactive one (archived in Stripe) is reactivated rather than duplicated.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from functools import partial
from typing import Any, Literal

from stripe.params import PriceCreateParams, PriceListParams, PriceUpdateParams

from sf_stripe_sync.core.keys import KEY_PREFIX
from sf_stripe_sync.core.metadata_keys import META_CUSTOM_PRICE, META_PRICEBOOK_ENTRY_ID
from sf_stripe_sync.core.models import CustomPrice, PriceCatalog, PriceFacts
from sf_stripe_sync.core.pricing import LOOKUP_KEY_PREFIX
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.session import Cost, StripeSession

LOOKUP_KEYS_PER_LIST = 10
"""Stripe's limit on ``lookup_keys`` in one price list request."""
META_CUSTOM = META_CUSTOM_PRICE
META_ENTRY = META_PRICEBOOK_ENTRY_ID
META_LIST_PRICE = "sf_sync_list_price"


def facts_from_stripe(raw: Mapping[str, Any]) -> PriceFacts:
    """A Stripe price object (as a dict) in core terms."""
    recurring = raw.get("recurring") or {}
    product = raw.get("product")
    if isinstance(product, Mapping):
        product = product.get("id")
    usage: Literal["licensed", "metered"] = (
        "metered" if recurring.get("usage_type") == "metered" else "licensed")
    amount = raw.get("unit_amount")
    return PriceFacts(
        id=str(raw["id"]), currency=str(raw.get("currency") or "").lower(),
        unit_amount=amount if isinstance(amount, int) else None,
        product=product if isinstance(product, str) else None,
        interval=recurring.get("interval") or None,
        interval_count=int(recurring.get("interval_count") or 1),
        usage_type=usage, meter=recurring.get("meter") or None,
        lookup_key=raw.get("lookup_key") or None)


def custom_price_key(account: str, lookup_key: str) -> str:
    """The idempotency key of creating the Price behind ``lookup_key`` in ``account``."""
    digest = hashlib.sha256(f"{account}\x1f{lookup_key}".encode()).hexdigest()[:40]
    return f"{KEY_PREFIX}-price-{digest}"


def create_params(spec: CustomPrice) -> PriceCreateParams:
    if spec.product is None:
        raise TerminalError(f"price {spec.list_price} has no product: a custom price for "
                            f"{spec.unit_amount} cannot be made", code="missing_price")
    metadata = {META_CUSTOM: "true", META_LIST_PRICE: spec.list_price}
    if spec.pricebook_entry_id:
        metadata[META_ENTRY] = spec.pricebook_entry_id
    params: PriceCreateParams = {
        "product": spec.product, "currency": spec.currency, "unit_amount": spec.unit_amount,
        "lookup_key": spec.lookup_key, "metadata": metadata,
    }
    if spec.interval is not None:
        interval: Literal["day", "month", "week", "year"] = (
            "day" if spec.interval == "day" else "week" if spec.interval == "week"
            else "year" if spec.interval == "year" else "month")
        params["recurring"] = {"interval": interval, "interval_count": spec.interval_count,
                               "usage_type": spec.usage_type}
        if spec.meter:
            params["recurring"]["meter"] = spec.meter
    return params


class PriceBook:
    """Price facts and custom prices of one Stripe account for one run."""

    def __init__(self, session: StripeSession) -> None:
        self._session = session
        self._client = session.client
        self.account_name = session.account_name
        self._facts: dict[str, PriceFacts | None] = {}
        self._reading: dict[str, Future[PriceFacts | None]] = {}
        """Prices being read right now, by whichever thread claimed them first."""
        self._custom: dict[str, str] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ facts

    def facts(self, price_ids: Iterable[str]) -> PriceCatalog:
        wanted = sorted(set(price_ids))
        while True:
            with self._lock:
                unknown = [p for p in wanted if p not in self._facts]
                claimed = next((p for p in unknown if p not in self._reading), None)
                if claimed is not None:
                    self._reading[claimed] = Future()
                elif not unknown:
                    known = {p: self._facts[p] for p in wanted}
                    break
                pending = [self._reading[p] for p in unknown if p in self._reading]
            if claimed is not None:
                self._read_claimed(claimed)
            else:
                # Read by other threads: wait for one; a failed read is retried here.
                wait(pending, return_when=FIRST_COMPLETED)
        return PriceCatalog(prices={p: f for p, f in known.items() if f is not None},
                            missing=frozenset(p for p, f in known.items() if f is None))

    def _read_claimed(self, price_id: str) -> None:
        """Read one price this thread claimed; its waiters wake either way."""
        with self._lock:
            future = self._reading[price_id]
        try:
            facts = self._read(price_id)
        except BaseException as exc:
            with self._lock:
                del self._reading[price_id]
            future.set_exception(exc)
            raise
        with self._lock:
            self._facts[price_id] = facts
            self._remember_custom(facts)
            del self._reading[price_id]
        future.set_result(facts)

    def _remember_custom(self, facts: PriceFacts | None) -> None:
        """A custom price read for its facts needs no lookup when it is billed again."""
        if facts is not None and facts.lookup_key and \
                facts.lookup_key.startswith(LOOKUP_KEY_PREFIX + ":"):
            self._custom.setdefault(facts.lookup_key, facts.id)

    def _read(self, price_id: str) -> PriceFacts | None:
        try:
            obj = self._session.call("prices.retrieve",
                                     partial(self._client.v1.prices.retrieve, price_id))
        except TerminalError as exc:
            if exc.code == "resource_missing":
                return None
            raise
        return facts_from_stripe(obj.to_dict())

    # ------------------------------------------------------------------ custom prices

    def resolve(self, specs: Sequence[CustomPrice], cost: Cost | None = None
                ) -> dict[str, str]:
        """lookup key -> Stripe price id, for every spec (made when missing)."""
        by_key = {s.lookup_key: s for s in specs}
        with self._lock:
            unknown = sorted(k for k in by_key if k not in self._custom)
            for start in range(0, len(unknown), LOOKUP_KEYS_PER_LIST):
                self._custom.update(self._list(unknown[start:start + LOOKUP_KEYS_PER_LIST],
                                               cost))
            for key in unknown:
                if key not in self._custom:
                    self._custom[key] = self._create(by_key[key], cost)
            return {k: self._custom[k] for k in by_key}

    def _list(self, keys: Sequence[str], cost: Cost | None) -> dict[str, str]:
        params: PriceListParams = {"lookup_keys": list(keys), "limit": 100}
        page = self._session.call("prices.list",
                                  partial(self._client.v1.prices.list, params=params))
        found: dict[str, str] = {}
        for obj in page.data:
            raw = obj.to_dict()
            key = raw.get("lookup_key")
            if key not in keys or key in found:
                continue
            if not raw.get("active", True):
                update: PriceUpdateParams = {"active": True}
                self._session.call(
                    "prices.update",
                    partial(self._client.v1.prices.update, raw["id"], params=update),
                    kind="write", cost=cost)
            found[str(key)] = str(raw["id"])
            self._facts.setdefault(str(raw["id"]), facts_from_stripe(raw))
        return found

    def _create(self, spec: CustomPrice, cost: Cost | None) -> str:
        key = custom_price_key(self.account_name, spec.lookup_key)
        params = create_params(spec)
        try:
            obj = self._session.call("prices.create",
                                     partial(self._client.v1.prices.create, params=params,
                                             options=self._session.options(key)),
                                     kind="write", key=key, cost=cost)
        except TerminalError:
            # Another host (or an earlier run whose key Stripe forgot) took the lookup
            # key first: that Price is the one to use.
            again = self._list([spec.lookup_key], cost)
            if spec.lookup_key in again:
                return again[spec.lookup_key]
            raise
        self._facts.setdefault(str(obj.id), facts_from_stripe(obj.to_dict()))
        return str(obj.id)
