"""Objects in memory, partitioned per connected account, optionally saved to a JSON file.

Theory of operation: the store is a plain nest of dicts: account -> kind -> id -> object
(the platform account is ``""``; a ``Stripe-Account`` header selects another partition).
Dicts keep insertion order, which is creation order, so lists come out newest first by
reversing it. Objects are stored exactly as the API returns them; the only state kept
beside them is which coupons each schedule has already redeemed. The store itself is
not thread-safe: the emulator holds its one state lock around every use. ``to_json`` /
``from_json`` give the whole state as one JSON document for the ``--state`` file.

A write request runs between ``begin`` and ``commit`` / ``rollback``: while it is open,
every object the store hands out or changes is first recorded in an undo journal
(``journal``), so a refused request can be undone at the cost of what it touched.
"""

from __future__ import annotations

import os
import random
import string
import tempfile
from pathlib import Path
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.journal import UndoJournal, undo

JSON = dict[str, Any]
PLATFORM = ""
KINDS = ("customer", "product", "price", "coupon", "subscription_schedule", "subscription",
         "event", "entitlements.feature", "product_feature", "billing_portal.configuration",
         "billing_portal.session", "payment_method", "test_helpers.test_clock", "invoice",
         "billing.meter", "webhook_endpoint")
_ID_ALPHABET = string.ascii_letters + string.digits
_SUFFIX_LENGTH = {"cus": 14, "prod": 14, "req": 14, "price": 24, "sub_sched": 24, "sub": 24,
                  "evt": 24, "feat_test": 24, "prodft": 24, "bpc": 24, "bps": 24, "pm": 24,
                  "clock": 24, "in": 24, "il": 24, "si": 14, "mtr": 24}


class ObjectStore:
    """Every object the emulator holds, per account and kind."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._partitions: dict[str, dict[str, dict[str, JSON]]] = {}
        self._redemptions: dict[str, dict[str, list[str]]] = {}
        self._journal: UndoJournal | None = None
        self.bill_without_test_clock = False  # see resources.billing_clock

    # transactions ----------------------------------------------------------------------
    def begin(self) -> None:
        """Start recording what the coming request touches (see ``journal``)."""
        self._journal = UndoJournal()

    def commit(self) -> UndoJournal | None:
        """Close the transaction; the journal tells what the request touched."""
        journal, self._journal = self._journal, None
        return journal

    def rollback(self) -> None:
        """Undo everything since ``begin``: the store is exactly as it was then."""
        journal, self._journal = self._journal, None
        if journal is not None:
            undo(journal, self._partitions, self._redemptions)

    def _touch(self, account: str, kind: str, object_id: str, current: JSON | None) -> None:
        if self._journal is not None:
            self._journal.remember_object((account, kind, object_id), current)

    # ids -----------------------------------------------------------------------------
    def random_suffix(self, length: int) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    def new_id(self, prefix: str, kind: str | None = None) -> str:
        length = _SUFFIX_LENGTH.get(prefix, 14)
        while True:
            candidate = f"{prefix}_{self.random_suffix(length)}" if prefix else (
                self.random_suffix(8))
            if kind is None or not any(
                candidate in part.get(kind, {}) for part in self._partitions.values()
            ):
                return candidate

    # objects ---------------------------------------------------------------------------
    def _bucket(self, account: str, kind: str) -> dict[str, JSON]:
        if self._journal is not None:
            if account not in self._partitions:
                self._journal.new_accounts.add(account)
            elif kind not in self._partitions[account]:
                self._journal.new_buckets.add((account, kind))
        return self._partitions.setdefault(account, {}).setdefault(kind, {})

    def get(self, account: str, kind: str, object_id: str) -> JSON | None:
        found = self._partitions.get(account, {}).get(kind, {}).get(object_id)
        if found is not None:
            self._touch(account, kind, object_id, found)
        return found

    def peek(self, account: str, kind: str, object_id: str) -> JSON | None:
        """An object as stored, outside any transaction's bookkeeping."""
        return self._partitions.get(account, {}).get(kind, {}).get(object_id)

    def put(self, account: str, kind: str, obj: JSON) -> JSON:
        bucket = self._bucket(account, kind)
        self._touch(account, kind, obj["id"], bucket.get(obj["id"]))
        bucket[obj["id"]] = obj
        return obj

    def delete(self, account: str, kind: str, object_id: str) -> JSON | None:
        bucket = self._bucket(account, kind)
        if self._journal is not None and object_id in bucket:
            self._journal.remember_order(account, kind, list(bucket))
            self._touch(account, kind, object_id, bucket[object_id])
        return bucket.pop(object_id, None)

    def all(self, account: str, kind: str) -> list[JSON]:
        """Objects of a kind, oldest first."""
        found = list(self._partitions.get(account, {}).get(kind, {}).values())
        for obj in found:
            self._touch(account, kind, obj["id"], obj)
        return found

    def accounts(self) -> list[str]:
        return list(self._partitions)

    # coupon redemptions ------------------------------------------------------------------
    def redeemed_by(self, account: str, schedule_id: str) -> list[str]:
        return list(self._redemptions.get(account, {}).get(schedule_id, []))

    def record_redemption(self, account: str, schedule_id: str, coupon_id: str) -> None:
        if self._journal is not None:
            if account not in self._redemptions:
                self._journal.new_redemption_accounts.add(account)
            held = self._redemptions.get(account, {}).get(schedule_id)
            self._journal.remember_redemptions(account, schedule_id, held)
        self._redemptions.setdefault(account, {}).setdefault(schedule_id, []).append(coupon_id)

    # whole state -------------------------------------------------------------------------
    def clear(self) -> None:
        self._journal = None
        self._partitions.clear()
        self._redemptions.clear()

    def to_json(self) -> JSON:
        return {"objects": self._partitions, "redemptions": self._redemptions}

    def load_json(self, data: JSON) -> None:
        self._journal = None
        self._partitions = {
            str(account): {str(kind): dict(bucket) for kind, bucket in kinds.items()}
            for account, kinds in dict(data.get("objects", {})).items()
        }
        self._redemptions = {
            str(account): {str(k): list(v) for k, v in schedules.items()}
            for account, schedules in dict(data.get("redemptions", {})).items()
        }


def write_text_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so a crash never
    leaves half a state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
