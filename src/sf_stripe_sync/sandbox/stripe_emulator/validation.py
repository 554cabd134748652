"""Parameters checked against the stripe SDK's own TypedDicts, the way Stripe checks them.

Theory of operation: every endpoint names the ``stripe.params`` TypedDict the SDK uses to
type that call (``SubscriptionScheduleCreateParams``, ...). ``validate`` walks the decoded
form (strings, dicts, lists) alongside the TypedDict's annotations, resolving the SDK's
string forward references in the module that declares each TypedDict, and:

* refuses a key the TypedDict does not declare: 400 ``parameter_unknown`` naming the full
  bracket path (``phases[0][itemz]``), exactly Stripe's wording;
* refuses a missing required key (``parameter_missing``);
* enforces ``Literal`` values even where the SDK widens them with ``|str`` for forward
  compatibility (Stripe itself rejects an unknown enum value); a ``Literal['']``
  alternative is Stripe's "unset" empty string and is accepted as such;
* converts integers, booleans and decimals from their form strings (``Invalid integer``).

The request-option keys the SDK mixes into some TypedDicts (``api_key``,
``idempotency_key``, ...) are never body parameters and are not accepted.
"""

from __future__ import annotations

import functools
import re
import sys
import types
import typing
from decimal import Decimal, InvalidOperation
from typing import Any, ForwardRef, Literal, Union

from stripe._request_options import RequestOptions
from typing_extensions import is_typeddict

from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError, invalid, missing_param

_REQUEST_OPTION_KEYS = frozenset(RequestOptions.__annotations__)
_INTEGER = re.compile(r"-?\d+")
Namespace = dict[str, Any]


def _namespace(cls: type) -> Namespace:
    return dict(vars(sys.modules[cls.__module__]))


def _resolve(annotation: Any, ns: Namespace) -> Any:
    if isinstance(annotation, str):
        return eval(annotation, ns)  # the SDK's own generated annotations only
    if isinstance(annotation, ForwardRef):
        return eval(annotation.__forward_arg__, ns)
    return annotation


@functools.cache
def typed_fields(cls: type) -> dict[str, tuple[Any, bool]]:
    """Field name -> (annotation, required) for a TypedDict, forward refs unresolved."""
    fields: dict[str, tuple[Any, bool]] = {}
    for name, annotation in cls.__annotations__.items():
        if name in _REQUEST_OPTION_KEYS:
            continue
        required = True
        origin: Any = typing.get_origin(annotation)
        if origin is typing.NotRequired:
            required = False
            annotation = typing.get_args(annotation)[0]
        elif isinstance(annotation, str) and annotation.startswith("NotRequired["):
            required = False
            annotation = annotation[len("NotRequired["):-1]
        fields[name] = (annotation, required)
    return fields


def _join(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if path else str(key)


def _alternatives(tp: Any, ns: Namespace) -> list[Any]:
    origin = typing.get_origin(tp)
    if origin is Union or isinstance(tp, types.UnionType):
        result: list[Any] = []
        for arg in typing.get_args(tp):
            result.extend(_alternatives(_resolve(arg, ns), ns))
        return result
    return [tp]


def _is_hash(tp: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return isinstance(origin, type) and issubclass(origin, dict) and not is_typeddict(tp)


def _is_list(tp: Any) -> bool:
    return typing.get_origin(tp) is list


def _leaf(path: str) -> str:
    return path.rsplit("[", 1)[-1].rstrip("]") if "[" in path else path


def _empty_string_refused(path: str) -> ApiError:
    name = path
    return invalid(
        f"You passed an empty string for '{name}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{name}' cannot be unset. You should remove '{name}' "
        "from your request or supply a non-empty value.",
        param=path, code="parameter_invalid_empty",
    )


def _scalar(value: str, tp: Any, path: str) -> Any:
    if tp is str:
        return value
    if value == "":
        raise _empty_string_refused(path)
    if tp is bool:
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", param=path)
        return value == "true"
    if tp is int:
        if not _INTEGER.fullmatch(value):
            raise invalid(f"Invalid integer: {value}", param=path,
                          code="parameter_invalid_integer")
        return int(value)
    if tp in (float, Decimal):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise invalid(f"Invalid decimal: {value}", param=path) from None
        if not number.is_finite():
            raise invalid(f"Invalid decimal: {value}", param=path)
        return number
    return value


def _check_string(value: str, options: list[Any], path: str) -> Any:
    literals = [v for o in options if typing.get_origin(o) is Literal for v in typing.get_args(o)]
    if value in literals:
        return value
    scalars = [o for o in options if o in (int, bool, float, Decimal)]
    accepts_text = str in options and not [v for v in literals if v != ""]
    if accepts_text:
        if value == "" and "" not in literals:
            raise _empty_string_refused(path)
        return value
    if scalars:
        return _scalar(value, scalars[0], path)
    if any(o is Any for o in options):
        return value
    named = [v for v in literals if v != ""]
    if named:
        raise invalid(f"Invalid {_leaf(path)}: must be one of {', '.join(named)}", param=path)
    if any(_is_list(o) for o in options):
        raise invalid(f"Invalid array: {path} must be an array", param=path)
    raise invalid(f"Invalid object: {path} must be an object (a hash of parameters)", param=path)


def _check(value: Any, tp: Any, path: str, ns: Namespace) -> Any:
    options = _alternatives(_resolve(tp, ns), ns)
    if any(o is Any for o in options):
        return value
    wants_list = any(_is_list(o) for o in options)
    if isinstance(value, list) and not wants_list and any(
            _is_hash(o) or is_typeddict(o) for o in options):
        value = {str(i): v for i, v in enumerate(value)}  # metadata[0]=x: a hash after all
    if isinstance(value, dict) and wants_list and value and all(k.isdigit() for k in value):
        value = [value[k] for k in sorted(value, key=int)]
    if isinstance(value, dict):
        for option in options:
            if is_typeddict(option):
                return check_typed_dict(value, option, path)
        for option in options:
            if _is_hash(option):
                return _check_hash(value, option, path, ns)
        if any(_is_list(o) for o in options) and value == {}:
            return []
        raise invalid(f"Invalid {_leaf(path)}: expected a single value, got a hash", param=path)
    if isinstance(value, list):
        for option in options:
            if _is_list(option):
                (item_type,) = typing.get_args(option)
                return [_check(v, item_type, _join(path, i), ns) for i, v in enumerate(value)]
        raise invalid(f"Invalid {_leaf(path)}: expected a single value, got an array",
                      param=path)
    return _check_string(str(value), options, path)


def _check_hash(value: dict[str, Any], option: Any, path: str, ns: Namespace) -> dict[str, Any]:
    """A free-keyed hash (metadata, currency_options...): keys are free, values typed."""
    args = typing.get_args(option)
    value_type = _resolve(args[-1], ns) if args else str
    result: dict[str, Any] = {}
    for key, item in value.items():
        where = _join(path, key)
        if value_type is str:  # metadata-style: "" unsets the key, so it is allowed
            if isinstance(item, (dict, list)):
                raise invalid(f"Invalid value for {where}: must be a string", param=where)
            result[key] = str(item)
        else:
            result[key] = _check(item, value_type, where, ns)
    return result


def check_typed_dict(value: dict[str, Any], cls: type, path: str = "") -> dict[str, Any]:
    fields = typed_fields(cls)
    ns = _namespace(cls)
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key not in fields or key in _REQUEST_OPTION_KEYS:
            unknown = _join(path, key)
            raise ApiError(400, f"Received unknown parameter: {unknown}", param=unknown,
                           code="parameter_unknown")
        result[key] = _check(item, fields[key][0], _join(path, key), ns)
    for key, (_annotation, required) in fields.items():
        if required and key not in value and key not in _REQUEST_OPTION_KEYS:
            raise missing_param(_join(path, key))
    return result


def validate(params: dict[str, Any], cls: type | None) -> dict[str, Any]:
    """Check decoded parameters against an endpoint's TypedDict; return them typed."""
    if cls is None:
        if params:
            first = next(iter(params))
            raise ApiError(400, f"Received unknown parameter: {first}", param=first,
                           code="parameter_unknown")
        return {}
    return check_typed_dict(params, cls)
