"""What the plans of one contract's orders share, computed once per run.

Theory of operation: every order of a contract plans the contract's whole desired state
(all its orders priced, their lines consolidated, money computed, fingerprinted), so a
contract of k orders would otherwise consolidate its k orders' lines k times. A
``PlanMemo`` (one per run, held by the planner) keeps the last results of those steps,
each keyed by the very objects it was computed from: identity, not equality, so a hit
costs a few pointer compares and a miss (other objects, however equal) just computes.
The reader hands one contract's orders to each of its orders' plans as the same
objects, and each step's result is the next step's input, so the whole chain hits.
The memo holds the objects of its keys (an id cannot be reused while its entry lives)
and forgets the oldest entries beyond ``size``: memory does not grow with the org.
Everything memoized is a pure function of its key and immutable (frozen models, tuples),
so a plan is the same with or without the memo.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class PlanMemo:
    """``once(kind, same, equal, compute)``: ``compute()`` unless already computed for the
    same objects ``same`` (by identity) and an equal ``equal`` (a small hashable value)."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[tuple[object, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def once(self, kind: str, same: tuple[object, ...], equal: Hashable,
             compute: Callable[[], T]) -> T:
        # An entry holds the objects of its key alive, and so do the caller's: equal ids
        # are the same objects, nothing else to check. (A read is one dict lookup.)
        key = (kind, tuple(map(id, same)), equal)
        entry = self._entries.get(key)
        if entry is not None:
            value: T = entry[1]
            return value
        value = compute()
        with self._lock:
            self._entries[key] = (same, value)
            while len(self._entries) > self.size:
                # (a plain dict's first key is found past every slot deleted before it)
                self._entries.popitem(last=False)
        return value
