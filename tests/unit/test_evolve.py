"""``evolve`` gives exactly what ``model_copy(update=...)`` gives for the core's models."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, PrivateAttr

from sf_stripe_sync.core.evolve import evolve
from sf_stripe_sync.core.models import OrderLine, Phase, PhaseItem, PhaseProperties

START = datetime(2027, 1, 1, tzinfo=UTC)


def same(a: BaseModel, b: BaseModel) -> bool:
    return (type(a) is type(b) and a == b and a.__dict__ == b.__dict__
            and list(a.__dict__) == list(b.__dict__)
            and a.model_fields_set == b.model_fields_set
            and a.__pydantic_extra__ == b.__pydantic_extra__
            and a.__pydantic_private__ == b.__pydantic_private__)


def test_evolve_is_model_copy_with_update() -> None:
    line = OrderLine(id="802A", order_id="801A", price_id="price_A", quantity=2, start=START,
                     end=None, properties=PhaseProperties(currency="usd"))
    item = PhaseItem(price="price_A", quantity=1, order_item_ids=("802A",))
    phase = Phase(start=START, end=None, properties=line.properties, items=(item,))
    for model, update in [
        (line, {"charge": "one_time", "unit_amount": 500, "interval": None}),
        (item, {"amount": 1000, "metered": True}),
        (phase, {"items": (), "recurring_amount": 0}),
        (phase, {}),
    ]:
        assert same(evolve(model, update), model.model_copy(update=update))
    assert evolve(line, {"quantity": 3}).quantity == 3
    assert line.quantity == 2  # the original is left as it was


class _WithPrivate(BaseModel):
    value: int
    _seen: int = PrivateAttr(default=0)


def test_a_model_with_private_values_is_copied_by_pydantic() -> None:
    model = _WithPrivate(value=1)
    model._seen = 5
    copied = evolve(model, {"value": 2})
    assert copied.value == 2 and copied._seen == 5
