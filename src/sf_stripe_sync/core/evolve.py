"""``evolve``: a frozen model with some fields changed, cheaper than ``model_copy``.

Theory of operation: planning derives many models from others (a line priced, an item
given its money, a phase given its total). ``BaseModel.model_copy(update=...)`` goes
through the generic ``copy`` machinery for the instance dict, the extra values and the
set of fields set; for the core's models (frozen, ``extra="forbid"``, no private
attributes) the result is exactly: the same class, the instance dict updated, no extra
values, the fields set joined with the updated names. ``evolve`` builds just that (as
``model_copy`` does, nothing is validated: the values must already be the field types).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def evolve(model: M, update: Mapping[str, Any]) -> M:
    """``model.model_copy(update=update)`` for a model without extra or private values."""
    if model.__pydantic_extra__ is not None or model.__pydantic_private__ is not None:
        return model.model_copy(update=update)
    kind = type(model)
    new = kind.__new__(kind)
    _set(new, "__dict__", {**model.__dict__, **update})
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _set(new, "__pydantic_private__", None)
    return new
