"""Leases that keep two runs off the same contract, and tell a dead run from a live one.

Theory of operation: a run holds a lease on each contract while it applies a plan to it
(``contract:<account>:<key>``), and one on itself for as long as it lives
(``run:<run id>``), so its confirmed operations are left to it to write back. A lease
holder is named ``run-<id>@<host>:<pid>``: when the holder is a process of this host that
no longer exists (a killed run), its lease is taken over at once instead of blocking the
contract until the TTL runs out. Holders on other hosts are trusted until their TTL.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime

from sf_stripe_sync import observe
from sf_stripe_sync.state.store import StateStore

log = logging.getLogger("sf_stripe_sync.engine")

LEASE_TTL_SECONDS = 300.0
RUN_LEASE_TTL_SECONDS = 6 * 3600.0
"""A run's own lease: while held by a live process, its confirmed work is left to it."""


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


def run_alive(store: StateStore, run_id: str, now: datetime) -> bool:
    """Whether another run is still at work (its run lease held by a live process)."""
    holder = store.lease_holder(run_lease(run_id), now)
    return holder is not None and not holder_is_gone(holder)


def take_lease(store: StateStore, key: str, owner: str, clock: Callable[[], datetime]) -> bool:
    """Take a contract's lease; one held by a process that died on this host is
    released first instead of blocking the contract until it expires."""
    if store.acquire_lease(key, owner, LEASE_TTL_SECONDS, clock()):
        return True
    observe.lease_wait()
    holder = store.lease_holder(key, clock())
    if holder is None or not holder_is_gone(holder):
        return holder is None and store.acquire_lease(key, owner, LEASE_TTL_SECONDS, clock())
    log.warning("contract lease %s was held by %s, which is no longer running; taking it over",
                key, holder)
    store.release_lease(key, holder)
    return store.acquire_lease(key, owner, LEASE_TTL_SECONDS, clock())
