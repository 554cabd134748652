"""Pages opened together share one contract prefetch read."""

from __future__ import annotations

import threading
from typing import Any

from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.reading import OrderReader


def bundle(order_id: str, contract_id: str) -> OrderBundle:
    return OrderBundle(order={"Id": order_id, "Status": "Activated", "AccountId": "001A",
                              "ContractId": contract_id, "EffectiveDate": "2027-01-01"})


class SlowPrefetch:
    """Answers contract reads; the first one waits until the test lets it go."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def contract_orders_many(self, contract_ids: list[str]) -> dict[str, list[OrderBundle]]:
        self.batches.append(list(contract_ids))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release.wait(10)
        return {c: [bundle(f"801{c}", c)] for c in contract_ids}

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def test_pages_opened_while_a_prefetch_is_out_are_read_together_by_the_next() -> None:
    source = SlowPrefetch()
    reader = OrderReader(Settings(), source, "salesforce")  # type: ignore[arg-type]
    first = [bundle("801a", "800A"), bundle("801b", "800B")]
    later = [[bundle("801c", "800B"), bundle("801d", "800C")], [bundle("801e", "800D")]]
    threads = [threading.Thread(target=reader.prefetch_contracts, args=(first,))]
    threads[0].start()
    assert source.first_started.wait(10)
    for page in later:
        threads.append(threading.Thread(target=reader.prefetch_contracts, args=(page,)))
        threads[-1].start()
    # The later pages queue behind the first read; one of them reads both.
    while sum(t.is_alive() for t in threads) and len(reader._queued) < 2:
        threading.Event().wait(0.01)
    source.release.set()
    for thread in threads:
        thread.join(10)
    assert source.batches == [["800A", "800B"], ["800C", "800D"]]  # 800B: read once
    for page in (first, *later):
        reader.prefetch_contracts(page)  # held: nothing read again
    assert len(source.batches) == 2
