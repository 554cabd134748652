"""Compare a Stripe JSON object with what the pinned SDK's resource class declares.

The stripe SDK's resource classes (``stripe.SubscriptionSchedule``, its nested
``Phase``...) are generated from the API version the SDK pins, and their annotations
say which fields an object has and which may be null. ``shape_problems`` walks a JSON
object alongside its class (found from the object's ``object`` field, as the SDK itself
does) and lists every field missing, every field the class does not declare, and every
null in a field that cannot be null, recursing into nested objects and lists. Fields
Stripe leaves out unless asked for (``expand``/includable) are in ``INCLUDABLE``.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from typing import Any, ClassVar, Union

import stripe
from stripe import StripeObject
from stripe._object_classes import get_object_class

INCLUDABLE: dict[str, frozenset[str]] = {
    # Customer fields returned only when expanded (API reference: "includable").
    "customer": frozenset({"cash_balance", "invoice_credit_balance", "sources",
                           "subscriptions", "tax", "tax_ids"}),
    "price": frozenset({"currency_options", "tiers"}),
    "coupon": frozenset({"applies_to", "currency_options"}),
    # Present only on Connect events and on ``*.updated`` events.
    "event": frozenset({"account", "context"}),
}
# ``deleted`` appears on deleted objects only; ``previous_attributes`` on updates only.
ANYWHERE = frozenset({"deleted", "previous_attributes"})
# Nested hashes whose fields Stripe leaves out when they do not apply.
WHEN_APPLICABLE: dict[str, frozenset[str]] = {
    "Issuer": frozenset({"account"}),  # only with type "account"
}
# A PaymentMethod carries the hash of its own type only (``card`` for a card).
PAYMENT_METHOD_TYPES_ONLY = "payment_method"


class _Lenient(dict[str, Any]):
    """Names the SDK only imports for type checking: top-level classes, else ``Any``."""

    def __missing__(self, name: str) -> Any:
        found = getattr(stripe, name, None)
        return found if found is not None else Any


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    module = sys.modules[cls.__module__]
    local = _Lenient(vars(cls))
    hints = typing.get_type_hints(cls, globalns=dict(vars(module)), localns=local)
    return {k: v for k, v in hints.items()
            if not k.startswith("_") and k != "OBJECT_NAME"
            and typing.get_origin(v) is not ClassVar}


def _options(tp: Any) -> list[Any]:
    if typing.get_origin(tp) is Union or isinstance(tp, types.UnionType):
        return [a for arg in typing.get_args(tp) for a in _options(arg)]
    return [tp]


def _is_object_type(tp: Any) -> bool:
    return any(isinstance(o, type) and issubclass(o, StripeObject) for o in _options(tp))


def _nested_class(tp: Any) -> type | None:
    for option in _options(tp):
        if isinstance(option, type) and issubclass(option, StripeObject) and \
                getattr(option, "OBJECT_NAME", None) is None and _hints(option):
            return option
    return None


def _list_item(tp: Any) -> Any:
    for option in _options(tp):
        if typing.get_origin(option) is list:
            return typing.get_args(option)[0]
    return None


def class_for(obj: dict[str, Any]) -> type | None:
    name = obj.get("object")
    if not isinstance(name, str):
        return None
    cls = get_object_class("V1", name)
    return None if cls is StripeObject else cls


def _allowed_missing(obj: dict[str, Any], cls: type) -> frozenset[str]:
    name = str(obj.get("object", ""))
    allowed = INCLUDABLE.get(name, frozenset()) | ANYWHERE | WHEN_APPLICABLE.get(
        cls.__name__, frozenset())
    if name == PAYMENT_METHOD_TYPES_ONLY:
        own = str(obj.get("type"))
        allowed = allowed | {k for k, tp in _hints(cls).items()
                             if k not in (own, "billing_details") and _is_object_type(tp)}
    return allowed


def shape_problems(obj: dict[str, Any], cls: type | None = None, where: str = "") -> list[str]:
    """Every way ``obj`` differs from the fields ``cls`` declares (empty: it matches)."""
    cls = cls or class_for(obj)
    where = where or str(obj.get("object", "?"))
    if cls is None:
        return [f"{where}: no SDK class for object {obj.get('object')!r}"]
    hints = _hints(cls)
    problems = [f"{where}.{key}: missing" for key in hints
                if key not in obj and key not in _allowed_missing(obj, cls)]
    problems += [f"{where}.{key}: not declared by {cls.__qualname__}" for key in obj
                 if key not in hints]
    for key, value in obj.items():
        if key in hints:
            problems += _value_problems(value, hints[key], f"{where}.{key}")
    return problems


def _value_problems(value: Any, tp: Any, where: str) -> list[str]:
    options = _options(tp)
    if value is None:
        return [] if type(None) in options else [f"{where}: null but not Optional"]
    if isinstance(value, dict) and value.get("object") == "list":
        return [p for item in value.get("data", []) if isinstance(item, dict)
                for p in shape_problems(item, None, f"{where}[]")]
    if isinstance(value, dict) and isinstance(value.get("object"), str):
        return shape_problems(value, None, where)  # an expanded object
    nested = _nested_class(tp)
    if isinstance(value, dict) and nested is not None:
        return shape_problems(value, nested, where)
    item = _list_item(tp)
    if isinstance(value, list) and item is not None:
        return [p for i, v in enumerate(value) for p in _value_problems(v, item, f"{where}[{i}]")]
    return []
