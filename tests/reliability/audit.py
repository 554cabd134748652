"""The audit: compare an end state reached through faults with a clean run of the same org.

Theory of operation: the clean run (no faults, no crashes, one process) is the oracle.
Whatever a disturbed run leaves behind must bill exactly the same (same schedules,
phases, items, quantities and coupon terms per contract), hold one schedule per
contract, one customer per Account and exactly the clean run's coupons, and carry the
same Salesforce write-back (ids, status, one Sync_Log for every operation the journal
says was sent, none twice). Every difference is reported as a duplicate or a loss, in
words a failing test can show.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tests.reliability.rig import Census


@dataclass
class Audit:
    duplicates: list[str] = field(default_factory=list)
    losses: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.duplicates and not self.losses


def audit(found: Census, oracle: Census, valid_orders: Iterable[str]) -> Audit:
    result = Audit()
    for key, count in found.schedules_by_contract_key().items():
        if count > 1:
            result.duplicates.append(f"{count} schedules for contract {key}")
    for account, count in found.customers_by_account().items():
        if count > 1:
            result.duplicates.append(f"{count} customers for Account {account}")
    for terms, count in found.custom_prices_by_terms().items():
        if count > 1:
            result.duplicates.append(f"{count} custom prices billing {terms}")
    # Coupon ids derive from the contract's desired state, so a disturbed run must end
    # with exactly the clean run's coupons: an extra one was made by a retry.
    made, wanted = {c["id"] for c in found.coupons}, {c["id"] for c in oracle.coupons}
    result.duplicates += [f"coupon {c} that a clean run does not make"
                          for c in sorted(made - wanted)]
    result.losses += [f"coupon {c} of a clean run is missing" for c in sorted(wanted - made)]
    for (order, status, key), count in found.log_keys().items():
        if count > 1:
            result.duplicates.append(f"{count} {status} Sync_Log records for {order} ({key})")

    billed, wanted = found.billing(), oracle.billing()
    for key in sorted(set(wanted) | set(billed)):
        if key not in billed:
            result.losses.append(f"contract {key} has no schedule")
        elif key not in wanted:
            result.duplicates.append(f"schedule for {key} that a clean run does not make")
        elif billed[key] != wanted[key]:
            result.losses.append(f"contract {key} is billed differently than a clean run bills it")
    for order_id in valid_orders:
        result.losses += _write_back_losses(found, order_id)
    result.losses += _log_losses(found, oracle)
    return result


def _log_losses(found: Census, oracle: Census) -> list[str]:
    """Every operation the journal says was sent and written back has its Success log,
    and every contract a clean run logs is logged (by whichever of its orders did it).
    An operation's key is the contract's, so its one log names whichever order of the
    contract wrote it last."""
    losses = []
    logged = {key for _order, status, key in found.log_keys() if status == "Success"}
    for order, key in found.operations:
        if key not in logged:
            losses.append(f"no Success Sync_Log for {order}'s operation {key}")
    contract_of = {oid[:15]: o.get("ContractId") or oid for oid, o in found.orders.items()}
    wanted = {contract_of[o[:15]] for o, status, _ in oracle.log_keys() if status == "Success"}
    have = {contract_of[o[:15]] for o, status, _ in found.log_keys() if status == "Success"}
    losses += [f"no Success Sync_Log for contract {c}" for c in sorted(wanted - have)]
    wanted_failed = {o for o, status, _ in oracle.log_keys() if status == "Failed"}
    have_failed = {o for o, status, _ in found.log_keys() if status == "Failed"}
    losses += [f"no Failed Sync_Log for order {o}" for o in sorted(wanted_failed - have_failed)]
    return losses


def _write_back_losses(found: Census, order_id: str) -> list[str]:
    order = found.orders[order_id]
    losses = []
    schedule_id = order.get("Stripe_Subscription_Schedule_Id__c")
    if not schedule_id:
        losses.append(f"order {order_id} has no schedule id")
    if order.get("Stripe_Sync_Status__c") != "Synced" or order.get("Stripe_Sync_Error__c"):
        losses.append(f"order {order_id} says {order.get('Stripe_Sync_Status__c')!r}: "
                      f"{order.get('Stripe_Sync_Error__c')}")
    contract = found.contracts.get(order.get("ContractId") or "")
    if contract is not None and contract.get("Stripe_Subscription_Schedule_Id__c") != schedule_id:
        losses.append(f"contract {contract['Id']} lacks the schedule id of order {order_id}")
    account = found.accounts.get(order.get("AccountId") or "")
    if account is not None and not account.get("Stripe_Customer_Id__c"):
        losses.append(f"Account {account['Id']} of order {order_id} has no customer id")
    return losses
