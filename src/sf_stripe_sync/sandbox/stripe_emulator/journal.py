"""The undo journal that makes one write request all-or-nothing.

Theory of operation: a write request (POST or DELETE) runs inside a transaction of the
``ObjectStore``. While it is open, the store records in an ``UndoJournal`` the prior
value of everything the request could change, the first time the request reaches it:

* an object handed out by ``get`` or ``all`` (handlers change objects in place), put
  or deleted: a deep copy of it as it was, or "absent" when it did not exist yet;
* a bucket (one account's objects of one kind) an object is deleted from: the order of
  its ids, since a bucket's insertion order is creation order and lists depend on it;
* a schedule's list of redeemed coupons: a copy of it, or "absent";
* an account or bucket that the request brought into existence.

A refused request rolls all of that back; an accepted one simply drops the journal.
The cost is proportional to what the request touched (typically one schedule, a coupon
or two and a customer), not to everything the store holds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]
ObjectKey = tuple[str, str, str]
"""(account, kind, object id)."""


@dataclass
class UndoJournal:
    objects: dict[ObjectKey, JSON | None] = field(default_factory=dict)
    """Prior value of each touched object; ``None`` when it did not exist."""
    bucket_orders: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    """Prior id order of each (account, kind) bucket an object was deleted from."""
    redemptions: dict[tuple[str, str], list[str] | None] = field(default_factory=dict)
    """Prior coupons redeemed by each touched (account, schedule id)."""
    new_buckets: set[tuple[str, str]] = field(default_factory=set)
    new_accounts: set[str] = field(default_factory=set)
    new_redemption_accounts: set[str] = field(default_factory=set)

    def remember_object(self, key: ObjectKey, current: JSON | None) -> None:
        if key not in self.objects:
            self.objects[key] = copy.deepcopy(current) if current is not None else None

    def remember_order(self, account: str, kind: str, ids: list[str]) -> None:
        self.bucket_orders.setdefault((account, kind), ids)

    def remember_redemptions(self, account: str, schedule_id: str,
                             current: list[str] | None) -> None:
        key = (account, schedule_id)
        if key not in self.redemptions:
            self.redemptions[key] = list(current) if current is not None else None


def undo(journal: UndoJournal, partitions: dict[str, dict[str, dict[str, JSON]]],
         redemptions: dict[str, dict[str, list[str]]]) -> None:
    """Put ``partitions`` and ``redemptions`` back as they were when ``journal`` began."""
    for (account, kind, object_id), prior in journal.objects.items():
        bucket = partitions.setdefault(account, {}).setdefault(kind, {})
        if prior is None:
            bucket.pop(object_id, None)
        else:
            bucket[object_id] = prior
    for (account, kind), order in journal.bucket_orders.items():
        bucket = partitions[account][kind]
        restored = {i: bucket[i] for i in order if i in bucket}
        bucket.clear()
        bucket.update(restored)
    for account, kind in journal.new_buckets:
        partitions.get(account, {}).pop(kind, None)
    for account in journal.new_accounts:
        partitions.pop(account, None)
    for (account, schedule_id), held in journal.redemptions.items():
        schedules = redemptions.setdefault(account, {})
        if held is None:
            schedules.pop(schedule_id, None)
        else:
            schedules[schedule_id] = held
    for account in journal.new_redemption_accounts:
        redemptions.pop(account, None)
