"""One Stripe account's rate limit, held across every process that shares the state store.

Theory of operation: with a shared (PostgreSQL) store, many workers on many hosts call
one Stripe account at once. Each process's own ``TokenBucket`` would let each of them
send the whole rate, so N workers would send N times it and bounce off 429s. A
``SharedTokenBucket`` instead reserves each request's slot in the store
(``StateStore.reserve_rate_slot``: one atomic upsert per request on the database's
clock, ``state.rates``) and sleeps until its slot is due. The workers together therefore
stay at the account's rate, and a worker that is idle, or working on another account,
takes nothing: the whole rate goes to whoever is sending. Several accounts are paced
independently (one row each), so a worker pool works many accounts in parallel, each at
its own ceiling.

If the store cannot be reached the bucket falls back to pacing this process alone at the
account's full rate (and says so once in the log): Stripe's 429s, which the gateway
retries, are the backstop then, and progress does not stop with the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sf_stripe_sync.errors import SyncError
from sf_stripe_sync.ratelimit import TokenBucket
from sf_stripe_sync.state.store import StateStore

log = logging.getLogger("sf_stripe_sync.ratelimit")


class SharedTokenBucket(TokenBucket):
    """A ``TokenBucket`` whose tokens are slots reserved in the shared store."""

    def __init__(
        self,
        store: StateStore,
        key: str,
        rate: float | None,
        *,
        capacity: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(rate, capacity=capacity, sleep=sleep)
        self.store = store
        self.key = key
        self._warned = False

    def acquire(self) -> float:
        if self.rate is None:
            return super().acquire()
        try:
            wait = self.store.reserve_rate_slot(self.key, self.rate, self.capacity)
        except SyncError as exc:
            if not self._warned:
                self._warned = True
                log.warning("shared rate limit of %s unavailable (%s); pacing this process "
                            "alone", self.key, exc)
            return super().acquire()
        with self._lock:
            self.acquired += 1
            if wait > 0:
                self.waits += 1
                self.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)
        return wait


def shared_key(account_name: str, connected_account: str | None) -> str:
    """The store row of one Stripe account (a connected account is its own limit)."""
    return f"stripe:{account_name}:{connected_account or '-'}"


def share_if_possible(store: StateStore | None, bucket: TokenBucket, account_name: str,
                      connected_account: str | None) -> TokenBucket:
    """The shared twin of ``bucket`` on a Postgres store; ``bucket`` itself otherwise."""
    if store is None or store.backend != "postgresql" or bucket.rate is None:
        return bucket
    return SharedTokenBucket(store, shared_key(account_name, connected_account), bucket.rate,
                             capacity=bucket.capacity)
