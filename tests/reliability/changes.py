"""Changes after a first sync, made through the org's REST API as a user would make them.

Theory of operation: ``change_org`` edits a synced generated org so the next sync has to
**replace** (an item's quantity changed on an already-synced order), **amend** (a new
activated order on a contract that has a schedule) and **cancel** (an order set to the
cancel status). The edits are the same, in the same order, whichever org they are made
in, so a clean org and a disturbed one end up with the same records and the same ids.
"""

from __future__ import annotations

from typing import Any

from simple_salesforce import Salesforce

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from tests.reliability.generate import USD_ENTRIES

CANCEL_STATUS = "Cancelled"


def client(org: LocalOrg) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                      session=org.requests_session(), version="65.0")


def change_org(org: LocalOrg, snapshot: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Replace on contracts 1-3, amend on 4-6, cancel on 7-8; returns how many of each."""
    sf = client(org)
    contracts = sorted(snapshot["Contract"], key=lambda c: c["Id"])
    orders = {c["Id"]: sorted((o for o in snapshot["Order"] if o["ContractId"] == c["Id"]),
                              key=lambda o: o["Id"]) for c in contracts}
    items = {o["Id"]: [i for i in snapshot["OrderItem"] if i["OrderId"] == o["Id"]]
             for o in snapshot["Order"]}
    done = {"replace": 0, "amend": 0, "cancel": 0}
    for contract in contracts[0:3]:
        item = items[orders[contract["Id"]][0]["Id"]][0]
        sf.OrderItem.update(item["Id"], {"Quantity": float(item["Quantity"]) + 2})
        done["replace"] += 1
    for contract in contracts[3:6]:
        used = {i["PricebookEntryId"] for o in orders[contract["Id"]] for i in items[o["Id"]]}
        free = sorted(set(USD_ENTRIES) - used)
        if not free:
            continue
        first = orders[contract["Id"]][0]
        created = sf.Order.create({
            "Name": "Amendment", "AccountId": contract["AccountId"],
            "ContractId": contract["Id"], "Status": "Draft",
            "EffectiveDate": _later(first["EffectiveDate"], months=6),
            "EndDate": first["EndDate"], "CurrencyIsoCode": "USD",
            "Pricebook2Id": "01s000000000001AAA", "Type": "New"})
        product, price = USD_ENTRIES[free[0]]
        sf.OrderItem.create({
            "OrderId": created["id"], "PricebookEntryId": free[0], "Product2Id": product,
            "Quantity": 4.0, "UnitPrice": price,
            "ServiceDate": _later(first["EffectiveDate"], months=6),
            "EndDate": first["EndDate"]})
        sf.Order.update(created["id"], {"Status": "Activated"})
        done["amend"] += 1
    for contract in contracts[6:8]:
        sf.Order.update(orders[contract["Id"]][-1]["Id"], {"Status": CANCEL_STATUS})
        done["cancel"] += 1
    return done


def _later(day: str, *, months: int) -> str:
    year, month = int(day[:4]), int(day[5:7]) - 1 + months
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
