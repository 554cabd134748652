"""Leases that keep two runs off the same contract, and tell a dead run from a live one.

Theory of operation: a run holds a lease on each contract while it applies a plan to it
(``contract:<account>:<key>``), and one on itself for as long as it lives
(``run:<run id>``), so its confirmed operations are left to it to write back. Every
lease lasts ``state.lease_ttl_seconds``; while the run lives a ``LeaseKeeper`` thread
renews all of its leases every third of that (one statement: its heartbeat). A run that
dies anywhere (killed, host lost, network cut) stops beating, and its leases expire one
TTL later at most; any run on any host then takes them over.

The contract leases of a page are taken together, in one transaction, when the page
opens (``LeaseBook.open_page``, beside its contract prefetch), and given back together
when the last open page naming them closes: an order then costs no lease statement of
its own. The keys are a guess from the raw orders (the Stripe account each names, and
the Contract, else the Order: ``OrgRecords``); an order whose lease was not taken with
its page (held by another run then, or keyed differently once planned) takes its own,
as before, and gives it back when it is done. A lease held for its page
is trusted while it was written (taken, or renewed by the heartbeat) within two thirds
of the TTL; past that (the heartbeat is failing) the order takes it again, so a lease
that expired and was taken over elsewhere is never worked under.

On the SQLite store (one host) a holder is also recognised by name,
``run-<id>@<host>:<pid>``: when it is a process of this host that no longer exists, its
lease is taken over at once instead of after the TTL. On PostgreSQL, shared by many
hosts, there are no pid checks: only the heartbeat and the TTL count.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from sf_stripe_sync import observe
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.errors import ConfigError, SyncError
from sf_stripe_sync.ports import OrgRecords, StateStore

log = logging.getLogger("sf_stripe_sync.engine")

LEASE_TTL_SECONDS = 60.0
"""The default of ``state.lease_ttl_seconds``: how long a lease outlives its last beat."""


def lease_owner(run_id: str) -> str:
    return f"{run_id}@{socket.gethostname()}:{os.getpid()}"


def run_lease(run_id: str) -> str:
    return f"run:{run_id}"


def contract_lease(account: str, contract_key: str) -> str:
    return f"contract:{account}:{contract_key}"


def holder_is_gone(holder: str) -> bool:
    """Whether a lease holder (``run-...@host:pid``) is a process of this host that exited."""
    _, at, place = holder.rpartition("@")
    host, _, pid_text = place.rpartition(":")
    if not at or host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _dead_here(store: StateStore, holder: str) -> bool:
    """Pid checks only on the single-host SQLite store; Postgres trusts the TTL alone."""
    return store.backend == "sqlite" and holder_is_gone(holder)


def run_alive(store: StateStore, run_id: str, now: datetime) -> bool:
    """Whether another run is still at work (its run lease held and beating)."""
    holder = store.lease_holder(run_lease(run_id), now)
    return holder is not None and not _dead_here(store, holder)


def take_lease(store: StateStore, key: str, owner: str, clock: Callable[[], datetime],
               ttl_seconds: float = LEASE_TTL_SECONDS) -> bool:
    """Take a contract's lease; on SQLite one held by a process that died on this host
    is released first instead of blocking the contract until it expires."""
    if store.acquire_lease(key, owner, ttl_seconds, clock()):
        return True
    observe.lease_wait()
    holder = store.lease_holder(key, clock())
    if holder is None or not _dead_here(store, holder):
        return holder is None and store.acquire_lease(key, owner, ttl_seconds, clock())
    log.warning("contract lease %s was held by %s, which is no longer running; taking it over",
                key, holder)
    store.release_lease(key, holder)
    return store.acquire_lease(key, owner, ttl_seconds, clock())


def page_lease_keys(page: Sequence[OrderBundle], records: OrgRecords,
                    account: Callable[[str | None], str]) -> list[str]:
    """The contract leases the orders of ``page`` will most likely need (see above):
    ``account`` turns the Stripe account an Order names (None: the default) into the
    configured account's name; an order naming an unknown one is left out."""
    keys = []
    for bundle in page:
        try:
            name = account(records.stripe_account(bundle))
        except ConfigError:
            continue
        keys.append(contract_lease(name, records.contract_key(bundle)))
    return list(dict.fromkeys(keys))


class LeaseBook:
    """A run's contract leases, taken and given back a page at a time (see above).

    ``open_page`` / ``close_page`` count the open pages naming each key; ``take`` is free
    for a key its page holds (while fresh: see above), else takes the lease alone
    (``take_lease``); ``done`` gives back such a lone lease at once; ``beaten`` is told
    of each heartbeat; ``release_all`` ends the run."""

    def __init__(self, store: StateStore, owner: str, ttl_seconds: float,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.owner, self.ttl_seconds, self.clock = store, owner, ttl_seconds, clock
        self._lock = threading.Lock()
        self._pages: dict[int, list[str]] = {}
        self._named: dict[str, int] = {}
        """Open pages naming each key."""
        self._held: dict[str, datetime] = {}
        """Keys this run holds until the last page naming them closes, and the last time
        each was known to be this run's (taken, or renewed before it could expire)."""

    def beaten(self, at: datetime) -> None:
        """The heartbeat renewed this run's leases at ``at``: a key written less than a
        TTL before was still this run's (it could not have expired), so it is now too."""
        with self._lock:
            for key, written in self._held.items():
                if (at - written).total_seconds() < self.ttl_seconds:
                    self._held[key] = at

    def open_page(self, page: object, keys: Sequence[str]) -> None:
        with self._lock:
            self._pages[id(page)] = list(keys)
            for key in keys:
                self._named[key] = self._named.get(key, 0) + 1
            wanted = [k for k in keys if k not in self._held]
        if wanted:
            now = self.clock()
            taken = self.store.acquire_leases(wanted, self.owner, self.ttl_seconds, now)
            with self._lock:
                self._held.update((k, now) for k in taken if self._named.get(k))

    def take(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            written = self._held.get(key)
        if written is not None:
            if (now - written).total_seconds() < self.ttl_seconds * 2 / 3:
                return True
            with self._lock:
                self._held.pop(key, None)  # not renewed of late: take it again below
        if not take_lease(self.store, key, self.owner, self.clock, self.ttl_seconds):
            return False
        with self._lock:
            if self._named.get(key):
                self._held[key] = now  # given back with its page
        return True

    def done(self, key: str) -> None:
        with self._lock:
            if key in self._held:
                return
        self.store.release_lease(key, self.owner)

    def close_page(self, page: object) -> None:
        with self._lock:
            keys = self._pages.pop(id(page), [])
            free = []
            for key in keys:
                self._named[key] -= 1
                if not self._named[key]:
                    del self._named[key]
                    if self._held.pop(key, None) is not None:
                        free.append(key)
        if free:
            self.store.release_leases(free, self.owner)

    def release_all(self) -> None:
        with self._lock:
            free, self._held = sorted(self._held), {}
            self._pages.clear()
            self._named.clear()
        if free:
            self.store.release_leases(free, self.owner)


class LeaseKeeper:
    """The heartbeat: renews every lease ``owner`` holds, every third of the TTL."""

    def __init__(self, store: StateStore, owner: str, ttl_seconds: float,
                 clock: Callable[[], datetime],
                 on_beat: Callable[[datetime], None] | None = None) -> None:
        self.store = store
        self.owner = owner
        self.ttl_seconds = ttl_seconds
        self.on_beat = on_beat
        self.clock = clock
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        self._thread = threading.Thread(target=self._loop, name=f"leases-{self.owner}",
                                        daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl_seconds / 3):
            self.beat()

    def beat(self) -> None:
        try:
            now = self.clock()
            self.store.renew_leases(self.owner, self.ttl_seconds, now)
            self.beats += 1
            if self.on_beat is not None:
                self.on_beat(now)
        except SyncError as exc:  # the next beat tries again; the TTL leaves room for two
            log.warning("could not renew the leases of %s: %s", self.owner, exc)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
