"""Idempotency keys: derived, never random, so a retry or a rerun replays the same request.

Theory of operation (DESIGN 2, Idempotency): the key of an operation is a function of
the Stripe account, the operation kind, the Salesforce record it acts for, and the
plan's fingerprint. For schedule operations that record is the contract (one schedule
per contract), never the order that triggered the run, so two hosts planning the same
contract send the same key. The same plan always yields the same key (Stripe replays
the saved response instead of acting twice); a changed plan yields a new key. Keys of
the objects an operation makes on the side (coupons) derive from the operation key and
a stable *slot* name, so they are idempotent per operation too; a customer's key is the
Account's. A key doubles as the ``Sync_Key__c`` of the operation's Sync_Log. Keys are hashed to
stay under Stripe's 255-character limit and to keep record ids out of Stripe's logs.
"""

from __future__ import annotations

import hashlib

KEY_PREFIX = "sfss"


def _digest(*parts: str) -> str:
    joined = "\x1f".join(parts).encode("utf-8")
    return hashlib.sha256(joined).hexdigest()[:40]


def operation_key(account: str, operation: str, record_id: str, fingerprint: str) -> str:
    """The idempotency key of one operation (create/amend/replace/cancel) on one record."""
    return f"{KEY_PREFIX}-{operation}-{_digest(account, operation, record_id, fingerprint)}"


def child_key(op_key: str, slot: str) -> str:
    """The key of an object made as part of an operation, e.g. slot ``coupon:p0:price_A``."""
    return f"{op_key}-{_digest(op_key, slot)[:16]}"


def customer_key(account: str, account_id: str) -> str:
    """One Stripe customer per Salesforce Account and Stripe account, whatever the plan."""
    return f"{KEY_PREFIX}-customer-{_digest(account, 'customer', account_id)}"


def failure_log_key(order_id: str, version: str, operation: str, op_key: str,
                    message: str) -> str:
    """The ``Sync_Key__c`` of a failure's Sync_Log: the same failure of the same version of
    an Order (its ``SystemModstamp``) is one log, whichever host reports it."""
    return f"{KEY_PREFIX}-failed-{_digest(order_id, version, operation, op_key, message)}"
