"""The price book reads each price once per run, and different prices side by side."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.stripe.prices import PriceBook


class _Price:
    def __init__(self, price_id: str) -> None:
        self.price_id = price_id

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.price_id, "currency": "usd", "unit_amount": 100,
                "product": "prod_1", "recurring": {"interval": "month"}}


class _Client:
    class v1:
        class prices:
            @staticmethod
            def retrieve(price_id: str) -> None:
                raise AssertionError("the test's call answers instead")


class _Reads:
    """Stands in for the gateway's session: answers ``prices.retrieve`` and counts."""

    account_name = "default"

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        self.barrier = barrier
        self.calls: list[str] = []
        self.lock = threading.Lock()
        self.fail_first: set[str] = set()

    @property
    def client(self) -> _Client:
        return _Client()

    def call(self, method: str, send: partial[Any], **_options: Any) -> _Price:
        price_id = str(send.args[0])
        with self.lock:
            self.calls.append(price_id)
            failing = price_id in self.fail_first
            self.fail_first.discard(price_id)
        if self.barrier is not None:
            self.barrier.wait(timeout=10)  # every price's read in flight at once
        if failing:
            raise TransientError(f"{price_id} timed out")
        return _Price(price_id)


def test_threads_starting_together_read_the_catalog_side_by_side_once_each() -> None:
    prices = ["price_a", "price_b", "price_c"]
    reads = _Reads(threading.Barrier(len(prices)))
    book = PriceBook(reads)  # type: ignore[arg-type]

    with ThreadPoolExecutor(max_workers=6) as pool:
        catalogs = list(pool.map(lambda _i: book.facts(prices), range(6)))

    assert sorted(reads.calls) == prices  # one read per price, all three at once
    for catalog in catalogs:
        assert sorted(catalog.prices) == prices and not catalog.missing


def test_a_failed_read_is_raised_to_its_reader_and_read_again_by_the_next() -> None:
    reads = _Reads()
    reads.fail_first.add("price_a")
    book = PriceBook(reads)  # type: ignore[arg-type]

    with pytest.raises(TransientError):
        book.facts(["price_a"])
    assert sorted(book.facts(["price_a", "price_b"]).prices) == ["price_a", "price_b"]
    assert reads.calls == ["price_a", "price_a", "price_b"]
