"""The canonical form reads model fields directly, and must agree with ``model_dump``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel, field_serializer

from sf_stripe_sync.core.fingerprint import canonical, canonical_schedule, fingerprint
from sf_stripe_sync.core.models import (
    DesiredSchedule,
    Discount,
    Phase,
    PhaseItem,
    PhaseProperties,
)

PHASE = Phase(
    start=datetime(2027, 1, 1, tzinfo=UTC), end=datetime(2027, 6, 1, tzinfo=UTC),
    properties=PhaseProperties(currency="usd", discount=Discount(percent_off=Decimal("12.50"))),
    items=(PhaseItem(price="price_B", quantity=2, order_item_ids=("802B", "802A"),
                     metadata={"z": "1", "a": "2"}),
           PhaseItem(price="price_A", quantity=1, discount=Discount(amount_off=500,
                                                                     currency="usd"))),
    metadata={"salesforce_order_id": "801A"},
)


def test_a_model_canonicalises_as_its_dump_does() -> None:
    for model in (PHASE, *PHASE.items, PHASE.properties):
        assert canonical(model) == canonical(model.model_dump(mode="python"))


def test_a_schedule_fingerprints_the_same_as_its_plain_data() -> None:
    schedule = DesiredSchedule(phases=(PHASE,), end_behavior="cancel")
    canonical_form = canonical_schedule(schedule)
    assert fingerprint(canonical_form) == fingerprint(dict(canonical_form))
    assert [i["price"] for i in canonical_form["phases"][0]["items"]] == ["price_A", "price_B"]
    assert canonical_form["phases"][0]["items"][1]["order_item_ids"] == ["802A", "802B"]


class _Cents(BaseModel):
    amount: Decimal

    @field_serializer("amount")
    def _as_cents(self, value: Decimal) -> int:
        return int(value * 100)


def test_a_model_with_a_serializer_is_canonicalised_through_its_dump() -> None:
    assert canonical(_Cents(amount=Decimal("1.5"))) == {"amount": 150}
